"""Helpers shared by the interop tests: a bounded-wait wrapper around paho-mqtt
2.x, and bounded subprocess handling for the mosquitto command-line clients.

Every wait here has an explicit timeout; nothing blocks forever.
"""

from __future__ import annotations

import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HOST = "127.0.0.1"
WAIT = 10.0  # default bound for an expected event (CONNACK, SUBACK, a message)
QUIET = 1.0  # how long to wait to conclude that nothing arrives

PROTOCOLS: dict[str, MQTTProtocolVersion] = {
    "v31": MQTTProtocolVersion.MQTTv31,
    "v311": MQTTProtocolVersion.MQTTv311,
    "v5": MQTTProtocolVersion.MQTTv5,
}
# mosquitto_pub / mosquitto_sub -V values, same keys as PROTOCOLS
MOSQ_VERSIONS: dict[str, str] = {"v31": "31", "v311": "311", "v5": "5"}


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A currently free loopback port (TCP by default; SOCK_DGRAM for UDP, e.g. MQTT-SN)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def unique_topic(name: str) -> str:
    """A topic prefix unique to one test run, made of safe characters."""
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:40].strip("_")
    return f"interop/{clean}/{uuid.uuid4().hex[:8]}"


def client_id(prefix: str = "i") -> str:
    # MQTT 3.1 limits client ids to 23 characters
    return f"{prefix}{uuid.uuid4().hex}"[:23]


def props(packet_type: int, **values: Any) -> Properties:
    p = Properties(packet_type)
    for k, v in values.items():
        setattr(p, k, v)
    return p


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Any  # paho Properties for v5, else None


class Client:
    """A paho client with a message queue and bounded waits.

    Created through ``ClientFactory`` (the ``clients`` fixture) so that it is
    closed at teardown.
    """

    def __init__(
        self,
        host: str,
        port: int,
        protocol: str | MQTTProtocolVersion = "v311",
        cid: str | None = None,
        clean: bool = True,
        session_expiry: int | None = None,
        will: dict[str, Any] | None = None,
        keepalive: int = 30,
        transport: str = "tcp",
        ws_path: str = "/mqtt",
    ):
        """``transport="websockets"`` speaks MQTT over WebSocket at ``ws_path``;
        ``port`` is then the WebSocket listener's."""
        if isinstance(protocol, str):
            protocol = PROTOCOLS[protocol]
        self.host, self.port = host, port
        self.protocol = protocol
        self.v5 = protocol == MQTTProtocolVersion.MQTTv5
        self.cid = cid or client_id()
        self.clean = clean
        self.session_expiry = session_expiry
        self.keepalive = keepalive
        self.c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.cid,
            clean_session=None if self.v5 else clean,
            protocol=protocol,
            reconnect_on_failure=False,
            transport=transport,
        )
        if transport == "websockets":
            self.c.ws_set_options(path=ws_path)
        if will:
            self.c.will_set(**will)
        self.messages: queue.Queue[Received] = queue.Queue()
        self._connected = threading.Event()
        self._disconnected = threading.Event()
        self.connack_rc: Any = None
        self.session_present: bool | None = None
        self._lock = threading.Lock()
        self._subacks: dict[int, list] = {}
        self._suback_cv = threading.Condition(self._lock)
        self._loop_started = False
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe

    # -- callbacks (paho network thread) --
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack_rc = reason_code
        self.session_present = bool(flags.session_present)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._disconnected.set()

    def _on_message(self, client, userdata, msg):
        self.messages.put(
            Received(
                msg.topic,
                bytes(msg.payload),
                msg.qos,
                bool(msg.retain),
                getattr(msg, "properties", None) if self.v5 else None,
            )
        )

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._suback_cv:
            self._subacks[mid] = list(reason_codes)
            self._suback_cv.notify_all()

    # -- actions --
    def _connect_packet(self) -> None:
        kwargs: dict[str, Any] = {"keepalive": self.keepalive}
        if self.v5:
            kwargs["clean_start"] = self.clean
            if self.session_expiry is not None:
                kwargs["properties"] = props(
                    PacketTypes.CONNECT, SessionExpiryInterval=self.session_expiry
                )
        self.c.connect(self.host, self.port, **kwargs)

    def connect(self, timeout: float = WAIT) -> "Client":
        """Connect, run the network loop in a thread, wait for a successful CONNACK."""
        self._connect_packet()
        self.c.loop_start()
        self._loop_started = True
        if not self._connected.wait(timeout):
            raise AssertionError(f"{self.cid}: no CONNACK within {timeout}s")
        if self.connack_rc is None or self.connack_rc.is_failure:
            raise AssertionError(f"{self.cid}: connection refused: {self.connack_rc}")
        return self

    def connect_no_loop(self, timeout: float = WAIT) -> "Client":
        """Connect and drive the loop by hand until CONNACK; no network thread.

        Used for clients that will later be dropped abruptly with ``drop()``.
        """
        self._connect_packet()
        deadline = time.monotonic() + timeout
        while not self._connected.is_set():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.cid}: no CONNACK within {timeout}s")
            self.c.loop(timeout=0.05)
        if self.connack_rc.is_failure:
            raise AssertionError(f"{self.cid}: connection refused: {self.connack_rc}")
        return self

    def drop(self) -> None:
        """Close the TCP socket without sending DISCONNECT (simulates a crash)."""
        if self._loop_started:
            raise RuntimeError("drop() needs a client connected with connect_no_loop()")
        sock = self.c.socket()
        assert sock is not None, "not connected"
        sock.close()

    def subscribe(
        self,
        topic: str,
        qos: int = 2,
        timeout: float = WAIT,
        options: Any = None,
        properties: Properties | None = None,
    ) -> list:
        """Subscribe and wait for SUBACK; returns the reason codes (granted QoS)."""
        if options is not None:
            rc, mid = self.c.subscribe(topic, options=options, properties=properties)
        else:
            rc, mid = self.c.subscribe(topic, qos, properties=properties)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe({topic!r}) failed to send: {rc}"
        deadline = time.monotonic() + timeout
        with self._suback_cv:
            while mid not in self._subacks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.cid}: no SUBACK for {topic!r} within {timeout}s")
                self._suback_cv.wait(left)
            codes = self._subacks.pop(mid)
        for code in codes:
            assert not code.is_failure, f"subscription to {topic!r} refused: {code}"
        return codes

    def publish(
        self,
        topic: str,
        payload: bytes | str | None,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
        timeout: float = WAIT,
    ) -> None:
        """Publish and wait until the flow completes (PUBACK / PUBCOMP, or sent for QoS 0)."""
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish to {topic!r} failed: {info.rc}"
        info.wait_for_publish(timeout)
        assert info.is_published(), f"{self.cid}: QoS {qos} publish to {topic!r} not completed in {timeout}s"

    def expect(self, n: int = 1, timeout: float = WAIT) -> list[Received]:
        """Wait for exactly ``n`` more messages (bounded)."""
        got: list[Received] = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"{self.cid}: expected {n} message(s) within {timeout}s, got {len(got)}: {got}"
                )
            try:
                got.append(self.messages.get(timeout=left))
            except queue.Empty:
                pass
        return got

    def collect(self, window: float = QUIET) -> list[Received]:
        """All messages that arrive within ``window`` seconds."""
        got: list[Received] = []
        deadline = time.monotonic() + window
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.messages.get(timeout=left))
            except queue.Empty:
                break
        return got

    def expect_none(self, window: float = QUIET) -> None:
        got = self.collect(window)
        assert not got, f"{self.cid}: expected no message, got {got}"

    def disconnect(self, timeout: float = WAIT) -> None:
        """Clean DISCONNECT, wait for the loop to notice, stop the loop."""
        if self._loop_started:
            self.c.disconnect()
            self._disconnected.wait(timeout)
            self.c.loop_stop()
            self._loop_started = False

    def close(self) -> None:
        """Best-effort teardown."""
        try:
            if self._loop_started:
                self.disconnect(timeout=2)
            else:
                sock = self.c.socket()
                if sock is not None:
                    sock.close()
        except Exception:
            pass


class ClientFactory:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self._all: list[Client] = []

    def new(self, protocol: str = "v311", port: int | None = None, **kwargs: Any) -> Client:
        """A client of the broker's MQTT/TCP listener, or of ``port`` (for
        example a WebSocket listener with ``transport="websockets"``)."""
        c = Client(self.host, port or self.port, protocol, **kwargs)
        self._all.append(c)
        return c

    def connected(self, protocol: str = "v311", port: int | None = None, **kwargs: Any) -> Client:
        return self.new(protocol, port, **kwargs).connect()

    def close_all(self) -> None:
        for c in reversed(self._all):
            c.close()


# --------------------------------------------------------------------------
# Subprocesses (mosquitto_pub / mosquitto_sub)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} not found: install Debian's mosquitto-clients")
    return path


class BgProc:
    """A background process whose stdout (merged with stderr) is read line by
    line in a thread, so waits on its output are bounded."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        # mosquitto_sub's stdout is block-buffered on a pipe: force line buffering
        stdbuf = shutil.which("stdbuf")
        self.p = subprocess.Popen(
            ([stdbuf, "-oL", "-eL"] if stdbuf else []) + argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self._eof = False
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for raw in self.p.stdout:
            with self._cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    def wait_line(self, pred: Callable[[str], bool], timeout: float = WAIT) -> str:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cv:
            while True:
                while seen < len(self.lines):
                    if pred(self.lines[seen]):
                        return self.lines[seen]
                    seen += 1
                if self._eof:
                    raise AssertionError(f"{self.argv[0]} ended without the expected line:\n{self.output()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.argv[0]}: expected line not seen in {timeout}s:\n{self.output()}")
                self._cv.wait(left)

    def wait_exit(self, timeout: float = WAIT) -> int:
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=5)
            raise AssertionError(f"{' '.join(self.argv)} did not exit within {timeout}s:\n{self.output()}")
        self._t.join(timeout=5)
        return rc

    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)


class ProcGroup:
    def __init__(self) -> None:
        self._all: list[BgProc] = []

    def start(self, argv: list[str]) -> BgProc:
        bp = BgProc(argv)
        self._all.append(bp)
        return bp

    def kill_all(self) -> None:
        for bp in self._all:
            bp.kill()


def run(argv: list[str], timeout: float = WAIT) -> subprocess.CompletedProcess:
    """Run a command to completion with a hard timeout; output captured as text."""
    try:
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            text=True,
            errors="replace",
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{' '.join(argv)} did not finish within {timeout}s: {e.output!r}") from None
