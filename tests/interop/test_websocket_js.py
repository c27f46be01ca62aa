"""MQTT.js (npm ``mqtt``, pinned in ws/package.json) over WebSocket: from Node,
and from a page in headless Debian Chromium, the way browser dashboards use
the broker.

Needs ``npm ci --prefix tests/interop/ws`` and Debian's ``chromium`` (both
installed by .ci/run). The page is served from ws/ by a local HTTP server on
127.0.0.1; Chromium runs with the flags that work on these machines (see the
shared notes, mqtt.md §6) and a fresh profile.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import pytest

from conftest import start_ws_broker
from interop_helpers import HOST, WAIT, require_tool, run

WS_DIR = Path(__file__).resolve().parent / "ws"
MQTT_JS = WS_DIR / "node_modules" / "mqtt" / "dist" / "mqtt.min.js"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",  # console.log lines ("wren-test: ...") for diagnostics
    "--v=0",
]
PAGE_WAIT = 15.0  # Chromium start, page load, connect, subscribe


def require_mqtt_js() -> None:
    if not MQTT_JS.exists():
        raise AssertionError(f"{MQTT_JS} missing: run `npm ci --prefix tests/interop/ws` (.ci/run does)")


def ws_url(broker) -> str:
    return f"ws://{HOST}:{broker.extra_ports['ws']}/mqtt"


# --------------------------------------------------------------------------
# Node


def test_node_mqttjs_v31_v311_v5(ws_broker, topic):
    """QoS 0/1/2, a 100 KiB message, retained and will, for each MQTT version
    (MQTT 3.1 offers the subprotocol mqttv3.1, the others mqtt)."""
    require_mqtt_js()
    node = require_tool("node")
    r = run([node, str(WS_DIR / "client.mjs"), ws_url(ws_broker), topic], timeout=90)
    assert r.returncode == 0, f"client.mjs failed ({r.returncode}):\n{r.stdout}{r.stderr}"
    assert r.stdout.split() == ["ok", "v31", "ok", "v311", "ok", "v5"], r.stdout


# --------------------------------------------------------------------------
# Chromium


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def page_server() -> Iterator[str]:
    """Serves ws/ (page.html and node_modules/mqtt/dist/) on 127.0.0.1; yields
    its origin."""
    require_mqtt_js()
    server = ThreadingHTTPServer((HOST, 0), partial(_QuietHandler, directory=str(WS_DIR)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Chromium:
    """Headless Chromium on one URL, in its own process group, with a fresh
    profile; its stderr (console messages included) goes to a file."""

    def __init__(self, url: str):
        binary = shutil.which("chromium")
        if binary is None:
            raise AssertionError("chromium not found: install Debian's chromium (.ci/run does)")
        self.profile = tempfile.mkdtemp(prefix="wren-chromium-")
        self.log_path = Path(self.profile + ".log")
        with open(self.log_path, "wb") as log:
            self.p = subprocess.Popen(
                ["timeout", "20", binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", url],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def console(self) -> list[str]:
        """The page's "wren-test: ..." console lines so far."""
        text = self.log_path.read_text(errors="replace")
        return [line for line in text.splitlines() if "wren-test:" in line]

    def wait_console(self, needle: str, timeout: float = PAGE_WAIT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.console():
                if needle in line:
                    return line
            time.sleep(0.1)
        raise AssertionError(f"page never logged {needle!r}; console: {self.console()}")

    def stop(self) -> None:
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)


@pytest.fixture
def chromium() -> Iterator[list[Chromium]]:
    started: list[Chromium] = []
    yield started
    for c in started:
        c.stop()


def open_page(chromium: list[Chromium], origin: str, broker, topic: str, version: int) -> Chromium:
    query = urlencode({"ws": ws_url(broker), "topic": topic, "v": version})
    c = Chromium(f"{origin}/page.html?{query}")
    chromium.append(c)
    return c


def tcp_subscriber(procs, broker, topic: str):
    """mosquitto_sub over TCP on TOPIC/#, printing "topic payload"; returns once subscribed."""
    sub = procs.start(
        [require_tool("mosquitto_sub"), "-h", broker.host, "-p", str(broker.port), "-t", f"{topic}/#", "-v", "-d"]
    )
    sub.wait_line(lambda line: "received SUBACK" in line)
    return sub


@pytest.mark.parametrize("version", [3, 4, 5])
def test_chromium_page_round_trip(broker_factory, procs, chromium, page_server, topic, version):
    """A page in headless Chromium connects over WebSocket, subscribes,
    receives a message mosquitto_pub sends over TCP, and publishes a reply that
    mosquitto_sub reads over TCP. wren only lets the page's own origin in."""
    broker = start_ws_broker(broker_factory, f'allowed_origins = ["{page_server}"]')
    sub = tcp_subscriber(procs, broker, topic)
    page = open_page(chromium, page_server, broker, topic, version)
    try:
        sub.wait_line(lambda line: line == f"{topic}/ready ready v{version}", timeout=PAGE_WAIT)
    except AssertionError as e:
        raise AssertionError(f"{e}\npage console: {page.console()}\nbroker log:\n{broker.log()}") from None
    nonce = f"ping-{uuid.uuid4().hex[:8]}"
    pub = run(
        [require_tool("mosquitto_pub"), "-h", broker.host, "-p", str(broker.port)]
        + ["-t", f"{topic}/to-browser", "-m", nonce, "-q", "1"]
    )
    assert pub.returncode == 0, pub.stdout + pub.stderr
    sub.wait_line(lambda line: line == f"{topic}/from-browser browser-ok:{nonce}", timeout=WAIT)


@pytest.mark.wren_only(reason="Mosquitto 2.0.11 has no origin check (websockets_origin is 2.1)")
def test_chromium_page_from_another_origin_is_refused(broker_factory, procs, chromium, page_server, topic):
    """[http] allowed_origins: a page served from an origin not on the list
    cannot open the WebSocket (403), so it never connects."""
    broker = start_ws_broker(broker_factory, 'allowed_origins = ["http://dashboard.invalid"]')
    sub = tcp_subscriber(procs, broker, topic)
    page = open_page(chromium, page_server, broker, topic, 5)
    page.wait_console("wren-test: closed")
    assert not [line for line in page.console() if "connected" in line], page.console()
    log = re.sub(r"\x1b\[[0-9;]*m", "", broker.log())  # wren's log has colours
    assert re.search(r"websocket handshake refused .*status=403", log), log
    assert not [line for line in sub.lines if line.startswith(f"{topic}/")], sub.lines
