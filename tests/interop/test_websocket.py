"""paho-mqtt 2.x over WebSocket (``transport="websockets"``, path ``/mqtt``)
against the broker under test, and across transports: a WebSocket client must
get exactly what a TCP client gets (QoS 0/1/2, retained messages, wills).

The ``ws_broker`` fixture (conftest.py) adds a WebSocket listener on a second
loopback port: wren's ``[http] listen``, Mosquitto's ``listener PORT lo`` +
``protocol websockets``.
"""

from __future__ import annotations

import http.client
import socket
from typing import Iterator

import pytest

import interop_helpers as h
from interop_helpers import HOST, PROTOCOLS

ALL = list(PROTOCOLS)  # ["v31", "v311", "v5"]


class Clients:
    """paho clients of ``ws_broker``, over WebSocket or TCP; closed at teardown."""

    def __init__(self, broker):
        self.factory = h.ClientFactory(broker.host, broker.port)
        self.ws_port = broker.extra_ports["ws"]

    def ws(self, proto: str, **kwargs) -> h.Client:
        return self.factory.new(proto, port=self.ws_port, transport="websockets", **kwargs)

    def tcp(self, proto: str, **kwargs) -> h.Client:
        return self.factory.new(proto, **kwargs)


@pytest.fixture
def ws_clients(ws_broker) -> Iterator[Clients]:
    clients = Clients(ws_broker)
    yield clients
    clients.factory.close_all()


@pytest.mark.parametrize("proto", ALL)
def test_ws_publish_qos_0_1_2(ws_clients, topic, proto):
    """QoS 0/1/2 between two WebSocket clients: each message once, at its QoS."""
    sub = ws_clients.ws(proto).connect()
    sub.subscribe(f"{topic}/q", 2)
    pub = ws_clients.ws(proto).connect()
    for qos in (0, 1, 2):
        pub.publish(f"{topic}/q", f"qos{qos}", qos=qos)
    got = sorted((m.payload, m.qos, m.retain) for m in sub.expect(3))
    assert got == [(b"qos0", 0, False), (b"qos1", 1, False), (b"qos2", 2, False)]
    sub.expect_none(0.3)


@pytest.mark.parametrize("proto", ALL)
def test_ws_and_tcp_clients_reach_each_other(ws_clients, topic, proto):
    """TCP -> WebSocket and WebSocket -> TCP, QoS 2, with a payload large
    enough to need several WebSocket frames."""
    over_ws = ws_clients.ws(proto).connect()
    over_tcp = ws_clients.tcp(proto).connect()
    over_ws.subscribe(f"{topic}/from-tcp", 2)
    over_tcp.subscribe(f"{topic}/from-ws", 2)
    big = bytes(range(256)) * 400  # 100 KiB
    over_tcp.publish(f"{topic}/from-tcp", big, qos=2)
    over_ws.publish(f"{topic}/from-ws", b"hello tcp", qos=2)
    [at_ws] = over_ws.expect(1)
    [at_tcp] = over_tcp.expect(1)
    assert (at_ws.payload == big, at_ws.qos) == (True, 2)
    assert (at_tcp.payload, at_tcp.qos) == (b"hello tcp", 2)


@pytest.mark.parametrize("proto", ALL)
def test_ws_retained(ws_clients, topic, proto):
    """Retained over WebSocket: a later subscriber, on either transport, gets it."""
    pub = ws_clients.ws(proto).connect()
    pub.publish(f"{topic}/state", b"on", qos=1, retain=True)
    for late in (ws_clients.ws(proto).connect(), ws_clients.tcp(proto).connect()):
        late.subscribe(f"{topic}/state", 1)
        [m] = late.expect(1)
        assert (m.payload, m.qos, m.retain) == (b"on", 1, True)


@pytest.mark.parametrize("proto", ALL)
def test_ws_will_on_abrupt_close(ws_clients, topic, proto):
    """A WebSocket client whose socket closes without DISCONNECT (and without
    a WebSocket close frame) has its will published, to TCP and WebSocket
    subscribers alike."""
    watchers = [ws_clients.ws(proto).connect(), ws_clients.tcp(proto).connect()]
    for w in watchers:
        w.subscribe(f"{topic}/will", 2)
    doomed = ws_clients.ws(
        proto, will={"topic": f"{topic}/will", "payload": b"gone", "qos": 1, "retain": False}
    ).connect_no_loop()
    doomed.drop()
    for w in watchers:
        [m] = w.expect(1)
        assert (m.topic, m.payload, m.qos) == (f"{topic}/will", b"gone", 1)


@pytest.mark.parametrize("proto", ALL)
def test_ws_no_will_on_disconnect(ws_clients, topic, proto):
    watcher = ws_clients.tcp(proto).connect()
    watcher.subscribe(f"{topic}/will", 2)
    polite = ws_clients.ws(
        proto, will={"topic": f"{topic}/will", "payload": b"gone", "qos": 1, "retain": False}
    ).connect()
    polite.disconnect()
    watcher.expect_none(h.QUIET)


# --------------------------------------------------------------------------
# The HTTP side of wren's listener (Mosquitto 2.0.11 ignores the path and
# serves no page)


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=h.WAIT)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def _upgrade(path: str, extra: str = "") -> str:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n"
    )


def _status_line(port: int, request: str) -> str:
    with socket.create_connection((HOST, port), timeout=h.WAIT) as s:
        s.sendall(request.encode())
        return s.makefile("rb").readline().decode().strip()


@pytest.mark.wren_only(reason="Mosquitto ignores the path and serves no page")
def test_ws_listener_page_and_wrong_path(ws_broker):
    ws = ws_broker.extra_ports["ws"]
    status, headers, body = _get(ws, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"wren" in body
    assert _get(ws, "/nope")[0] == 404
    assert _get(ws, "/mqtt")[0] == 426
    assert _status_line(ws, _upgrade("/wrong", "Sec-WebSocket-Protocol: mqtt\r\n")).startswith("HTTP/1.1 404")


@pytest.mark.wren_only(reason="Mosquitto drops a foreign subprotocol without a response")
def test_ws_subprotocols(ws_broker):
    """mqtt and mqttv3.1 are echoed (mqtt preferred); none offered is accepted
    without one, as Mosquitto does; only foreign ones get 400."""
    ws = ws_broker.extra_ports["ws"]

    def answer(offer: str) -> tuple[str, str | None]:
        extra = f"Sec-WebSocket-Protocol: {offer}\r\n" if offer else ""
        with socket.create_connection((HOST, ws), timeout=h.WAIT) as s:
            s.sendall(_upgrade("/mqtt", extra).encode())
            f = s.makefile("rb")
            status = f.readline().decode().strip()
            chosen = None
            while (line := f.readline().decode().strip()) != "":
                name, _, value = line.partition(":")
                if name.lower() == "sec-websocket-protocol":
                    chosen = value.strip()
            return status, chosen

    assert answer("mqtt") == ("HTTP/1.1 101 Switching Protocols", "mqtt")
    assert answer("mqttv3.1") == ("HTTP/1.1 101 Switching Protocols", "mqttv3.1")
    assert answer("mqttv3.1, mqtt") == ("HTTP/1.1 101 Switching Protocols", "mqtt")
    assert answer("") == ("HTTP/1.1 101 Switching Protocols", None)
    assert answer("chat")[0] == "HTTP/1.1 400 Bad Request"
