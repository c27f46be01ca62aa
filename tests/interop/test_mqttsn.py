"""MQTT-SN interop: the PyPI client ``mqtt-sn-12`` (an independent MQTT-SN 1.2
implementation) against wren's gateway, checked on the MQTT side with
Debian's ``mosquitto_sub`` / ``mosquitto_pub`` over TCP.

Mosquitto has no MQTT-SN gateway, so every test here is wren-only.
"""

from __future__ import annotations

import socket
import time

import pytest
from mqttsn12.client.MqttSnClient import MqttSnClient, MqttSnListener

from interop_helpers import HOST, WAIT, free_port, require_tool, run

pytestmark = pytest.mark.wren_only(reason="Mosquitto has no MQTT-SN gateway")


class Inbox(MqttSnListener):
    """Collects what the MQTT-SN client receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str | None, bytes, int]] = []

    def message_arrived(self, msg) -> None:
        self.messages.append((msg.get_topic_name(), bytes(msg.get_payload()), msg.get_qos()))


def sn_client(port: int, client_id: str) -> MqttSnClient:
    c = MqttSnClient()
    c.set_client_id(client_id)
    c.set_keep_alive(60)
    c.set_timeout(int(WAIT))
    c.open(HOST, port)
    c.send_connect()
    return c


def poll_until(client: MqttSnClient, inbox: Inbox, n: int, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while len(inbox.messages) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {n} MQTT-SN message(s), got {inbox.messages}")
        client.polling()
        time.sleep(0.02)


def mqtt_sub(broker, procs, topic: str, count: int):
    """A background mosquitto_sub on the TCP side; returns once it is subscribed."""
    argv = [require_tool("mosquitto_sub"), "-h", broker.host, "-p", str(broker.port), "-q", "1",
            "-t", topic, "-C", str(count), "-W", str(int(WAIT)), "-v", "-d"]
    sp = procs.start(argv)
    sp.wait_line(lambda line: "received SUBACK" in line)
    return sp


def mqtt_pub(broker, topic: str, message: str, qos: int = 1) -> None:
    argv = [require_tool("mosquitto_pub"), "-h", broker.host, "-p", str(broker.port),
            "-q", str(qos), "-t", topic, "-m", message]
    r = run(argv)
    assert r.returncode == 0, r.stdout + r.stderr


def payload_lines(sp) -> list[str]:
    debug = ("Client ", "Subscribed ")
    return [line for line in sp.output().splitlines() if not line.startswith(debug)]


def test_connect_register_publish_qos0_and_qos1(broker, procs, topic):
    sp = mqtt_sub(broker, procs, f"{topic}/#", 2)
    c = sn_client(broker.sn_port, "interop-pub")
    try:
        topic_id = c.send_publish(f"{topic}/temp", b"21.5", 0)
        assert topic_id > 0
        c.send_publish(f"{topic}/temp", b"22.0", 1)  # waits for PUBACK, raises on refusal
    finally:
        c.send_disconnect()
        c.close()
    assert sp.wait_exit(WAIT + 5) == 0, sp.output()
    assert payload_lines(sp) == [f"{topic}/temp 21.5", f"{topic}/temp 22.0"]


def test_short_topic_publish(broker, procs, topic):
    sp = mqtt_sub(broker, procs, "zq", 1)
    c = sn_client(broker.sn_port, "interop-short")
    try:
        c.send_publish("zq", b"short", 1)
    finally:
        c.send_disconnect()
        c.close()
    assert sp.wait_exit(WAIT + 5) == 0, sp.output()
    assert payload_lines(sp) == ["zq short"]


def test_subscribe_receives_mqtt_publishes(broker, topic):
    c = sn_client(broker.sn_port, "interop-sub")
    inbox = Inbox()
    try:
        # QoS 0: mqtt-sn-12 1.0.9 never PUBACKs a QoS 1 PUBLISH (polling()
        # compares the QoS value 1 with the flag 0x20), so at QoS 1 the
        # gateway would rightly hold the next message until T_retry resends.
        c.send_subscribe(f"{topic}/cmd", 0, inbox)
        mqtt_pub(broker, f"{topic}/cmd", "led on", qos=1)
        mqtt_pub(broker, f"{topic}/cmd", "led off", qos=0)
        poll_until(c, inbox, 2)
    finally:
        c.send_disconnect()
        c.close()
    assert [(t, p) for t, p, _ in inbox.messages] == [
        (f"{topic}/cmd", b"led on"),
        (f"{topic}/cmd", b"led off"),
    ]


def test_wildcard_subscribe_gets_register_then_publish(broker, topic):
    c = sn_client(broker.sn_port, "interop-wild")
    inbox = Inbox()
    try:
        c.send_subscribe(f"{topic}/+/temp", 1, inbox)
        mqtt_pub(broker, f"{topic}/kitchen/temp", "21", qos=1)
        poll_until(c, inbox, 1)
    finally:
        c.send_disconnect()
        c.close()
    # The client learned the topic name from the gateway's REGISTER.
    assert inbox.messages[0][:2] == (f"{topic}/kitchen/temp", b"21")


def test_qos_minus_one_to_a_predefined_topic(broker_factory, procs, topic):
    sn_port = free_port(socket.SOCK_DGRAM)
    b = broker_factory(
        wren_toml=f'[mqttsn]\nudp = "{HOST}:{sn_port}"\n[mqttsn.predefined_topics]\n5 = "{topic}/m1"\n'
    )
    sp = mqtt_sub(b, procs, f"{topic}/m1", 1)
    c = MqttSnClient()
    c.set_client_id("interop-m1")
    c.open(HOST, sn_port)
    try:
        # No CONNECT: QoS -1 needs no connection.
        c.send_publish_predefined(5, b"no connection", -1)
    finally:
        c.close()
    assert sp.wait_exit(WAIT + 5) == 0, sp.output()
    assert payload_lines(sp) == [f"{topic}/m1 no connection"]
