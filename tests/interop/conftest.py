"""Fixtures for the interop suite: start the broker under test, stop it cleanly.

Broker selection (see README.md):
  * default: wren, ``$WREN_BIN`` (default ``target/release/wren`` under the repo
    root), started as ``WREN_BIN --config FILE`` with a temp TOML file;
  * ``INTEROP_BROKER_CMD`` (JSON list, set by ``tests/interop/run BROKER_CMD...``)
    replaces the command prefix; ``--config FILE`` is appended;
  * ``INTEROP_BROKER=mosquitto`` (or a BROKER_CMD whose program is named
    ``mosquitto``) runs Debian's mosquitto as ``mosquitto -c FILE`` instead, to
    validate the suite against a known-good broker.

Every test gets its own broker on a fresh loopback port, so retained messages
and sessions never leak between tests. At teardown the broker gets SIGTERM and
must exit with status 0 within 5 s (a product requirement); otherwise the test
errors and the broker is SIGKILLed.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

import interop_helpers as h
from interop_helpers import HOST, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = float(os.environ.get("INTEROP_START_TIMEOUT", "10"))
STOP_TIMEOUT = 5.0
MAX_START_FAILURES = 3  # consecutive failed starts before the run is aborted
_START_FAILURES = 0
TEST_TIMEOUT = int(os.environ.get("INTEROP_TEST_TIMEOUT", "60"))


# --------------------------------------------------------------------------
# Which broker?


def _broker_cmd_from_env() -> list[str] | None:
    raw = os.environ.get("INTEROP_BROKER_CMD")
    if not raw:
        return None
    cmd = json.loads(raw)
    if not (isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd)):
        raise pytest.UsageError(f"INTEROP_BROKER_CMD must be a JSON list of strings: {raw!r}")
    return cmd


def broker_kind() -> str:
    """``"wren"`` or ``"mosquitto"``."""
    kind = os.environ.get("INTEROP_BROKER", "").strip().lower()
    if kind:
        if kind not in ("wren", "mosquitto"):
            raise pytest.UsageError(f"INTEROP_BROKER must be 'wren' or 'mosquitto', not {kind!r}")
        return kind
    cmd = _broker_cmd_from_env()
    if cmd and Path(cmd[0]).name == "mosquitto":
        return "mosquitto"
    return "wren"


def broker_cmd_prefix() -> list[str]:
    cmd = _broker_cmd_from_env()
    if cmd:
        return cmd
    if broker_kind() == "mosquitto":
        # Debian installs it in /usr/sbin, which a non-root PATH may lack
        return [shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin") or "mosquitto"]
    wren = Path(os.environ.get("WREN_BIN", "target/release/wren"))
    if not wren.is_absolute():
        wren = REPO_ROOT / wren
    return [str(wren)]


def pytest_report_header(config: pytest.Config) -> str:
    return f"interop broker: {broker_kind()} ({' '.join(broker_cmd_prefix())})"


def pytest_sessionstart(session: pytest.Session) -> None:
    prog = broker_cmd_prefix()[0]
    if shutil.which(prog) is None:
        raise pytest.UsageError(
            f"broker program not found or not executable: {prog} "
            "(build it with `cargo build --release`, or set WREN_BIN / INTEROP_BROKER)"
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "wren_only(reason): behaviour that Mosquitto 2.0.11 gets wrong or lacks; "
        "skipped when INTEROP_BROKER=mosquitto",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if broker_kind() != "mosquitto":
        return
    for item in items:
        mark = item.get_closest_marker("wren_only")
        if mark is not None:
            reason = mark.kwargs.get("reason") or (mark.args[0] if mark.args else "wren only")
            item.add_marker(pytest.mark.skip(reason=f"wren-only: {reason}"))


# --------------------------------------------------------------------------
# Per-test watchdog (no pytest-timeout dependency). Every wait in the tests is
# bounded on its own; this is the backstop in case one of them is not.


class InteropTimeout(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    def on_alarm(signum, frame):  # noqa: ARG001
        raise InteropTimeout(f"test exceeded {TEST_TIMEOUT}s (INTEROP_TEST_TIMEOUT)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------
# Ports and the broker process

_LIVE: set["Broker"] = set()  # brokers not yet stopped, killed if pytest dies early


def _kill_live_brokers() -> None:
    for b in list(_LIVE):
        b.kill()


def _on_sigterm(signum, frame):  # noqa: ARG001
    _kill_live_brokers()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


atexit.register(_kill_live_brokers)
signal.signal(signal.SIGTERM, _on_sigterm)  # e.g. the suite-wide `timeout` in ./run


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Broker:
    """A running broker. ``host, port = broker`` unpacks the MQTT/TCP address."""

    kind: str
    host: str
    port: int
    cmd: list[str]
    proc: subprocess.Popen
    config_path: Path
    log_path: Path
    extra_ports: dict[str, int] = field(default_factory=dict)
    # wren's MQTT-SN UDP port on HOST (None for mosquitto, or when the test's
    # own wren_toml has an [mqttsn] section)
    sn_port: int | None = None

    def __hash__(self) -> int:
        return id(self)

    def __iter__(self):
        return iter((self.host, self.port))

    @property
    def addr(self) -> tuple[str, int]:
        return (self.host, self.port)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL the broker's whole process group (it runs in its own session)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        _LIVE.discard(self)

    def stop(self) -> None:
        """SIGTERM; require exit status 0 within 5 s, else SIGKILL and fail."""
        if self.proc.poll() is not None:
            self.kill()
            pytest.fail(
                f"{self.kind} exited on its own during the test with status {self.proc.returncode}\n"
                f"--- broker log ---\n{self.log()}",
                pytrace=False,
            )
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(
                f"{self.kind} did not exit within {STOP_TIMEOUT:.0f}s of SIGTERM (SIGKILLed)\n"
                f"--- broker log ---\n{self.log()}",
                pytrace=False,
            )
        finally:
            _LIVE.discard(self)
        self.kill()  # anything the broker left behind in its process group
        if rc != 0:
            how = f"was killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
            pytest.fail(
                f"{self.kind} {how} after SIGTERM (clean shutdown must exit 0)\n"
                f"--- broker log ---\n{self.log()}",
                pytrace=False,
            )


def _config_text(
    kind: str, port: int, wren_toml: str, mosquitto_conf: str, sn_port: int | None = None
) -> str:
    if kind == "mosquitto":
        return (
            f"listener {port} {HOST}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            f"{mosquitto_conf}\n"
        )
    # wren's MQTT-SN gateway defaults to UDP 0.0.0.0:1884: every test broker
    # gets its own loopback port instead, unless the test configures [mqttsn].
    sn = f'[mqttsn]\nudp = "{HOST}:{sn_port}"\n\n' if sn_port is not None else ""
    # wren's HTTP listener is on by default (0.0.0.0:8080): off unless the test
    # configures it, so brokers never fight over a fixed port.
    http_off = "" if "[http]" in wren_toml else "[http]\nlisten = []\n\n"
    return f'[mqtt]\ntcp = "{HOST}:{port}"\n\n{sn}{http_off}{wren_toml}\n'


def _start(
    workdir: Path,
    wren_toml: str | Callable[[dict[str, int]], str],
    mosquitto_conf: str | Callable[[dict[str, int]], str],
    extra_ports: dict[str, int],
    session: pytest.Session | None = None,
) -> Broker:
    global _START_FAILURES
    kind = broker_kind()
    prefix = broker_cmd_prefix()
    last_error = ""
    for attempt in range(3):  # a free port can be taken between probe and bind
        port = free_port()
        wt = wren_toml(extra_ports) if callable(wren_toml) else wren_toml
        mc = mosquitto_conf(extra_ports) if callable(mosquitto_conf) else mosquitto_conf
        sn_port = None
        if kind == "wren" and "[mqttsn]" not in wt:
            sn_port = free_port(socket.SOCK_DGRAM)
        suffix = ".conf" if kind == "mosquitto" else ".toml"
        cfg = workdir / f"broker-{attempt}{suffix}"
        cfg.write_text(_config_text(kind, port, wt, mc, sn_port))
        log_path = workdir / f"broker-{attempt}.log"
        cmd = prefix + (["-c", str(cfg)] if kind == "mosquitto" else ["--config", str(cfg)])
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                start_new_session=True,  # own process group: killpg as a fallback
            )
        broker = Broker(kind, HOST, port, cmd, proc, cfg, log_path, dict(extra_ports), sn_port)
        _LIVE.add(broker)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _port_accepts(port):
                _START_FAILURES = 0
                return broker
            time.sleep(0.05)
        hung = proc.poll() is None
        broker.kill()
        if hung:
            last_error = f"port {port} did not accept connections within {START_TIMEOUT:.0f}s"
            break  # a hang is not a port race: do not retry
        last_error = f"exited with status {proc.returncode} before accepting connections"
    _START_FAILURES += 1
    msg = (
        f"could not start {kind} ({' '.join(cmd)}): {last_error}\n"
        f"--- config ---\n{cfg.read_text()}\n--- broker log ---\n{broker.log()}"
    )
    if _START_FAILURES >= MAX_START_FAILURES and session is not None:
        # like -x: stop after this test instead of failing every test slowly
        session.shouldstop = f"{_START_FAILURES} broker starts in a row failed: giving up"
    pytest.fail(msg, pytrace=False)


@pytest.fixture
def broker_factory(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Broker]]:
    """Start a broker with extra configuration; stops (and checks) it at teardown.

    ``broker_factory(wren_toml="...", mosquitto_conf="...", extra_ports={"ws": p})``
    appends the given text to the generated wren TOML / mosquitto conf. Either
    text may be a callable taking the ``extra_ports`` dict, e.g. for a websocket
    listener::

        ws = free_port()  # from interop_helpers; free_port(socket.SOCK_DGRAM) for UDP
        b = broker_factory(
            wren_toml=f'[http]\\nlisten = "127.0.0.1:{ws}"',
            mosquitto_conf=f"listener {ws} lo\\nprotocol websockets",
            extra_ports={"ws": ws},
        )
        b.extra_ports["ws"]
    """
    started: list[Broker] = []

    def start(
        wren_toml: str | Callable[[dict[str, int]], str] = "",
        mosquitto_conf: str | Callable[[dict[str, int]], str] = "",
        extra_ports: dict[str, int] | None = None,
    ) -> Broker:
        b = _start(tmp_path, wren_toml, mosquitto_conf, extra_ports or {}, request.session)
        started.append(b)
        return b

    yield start
    errors = []
    for b in reversed(started):
        try:
            b.stop()
        except pytest.fail.Exception as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def broker(broker_factory) -> Broker:
    """The broker under test with only its MQTT/TCP listener configured.

    Unpacks as ``host, port = broker``.
    """
    return broker_factory()


def start_ws_broker(broker_factory, wren_http: str = "") -> Broker:
    """A broker with MQTT over TCP and MQTT over WebSocket at ``/mqtt`` on
    ``broker.extra_ports["ws"]``; ``wren_http`` adds keys to wren's ``[http]``."""
    ws = free_port()
    b = broker_factory(
        wren_toml=f'[http]\nlisten = "{HOST}:{ws}"\nws_path = "/mqtt"\n{wren_http}',
        mosquitto_conf=f"listener {ws} lo\nprotocol websockets",
        extra_ports={"ws": ws},
    )
    # The fixture waited for the MQTT/TCP port only; Mosquitto opens its
    # WebSocket listener a moment later.
    deadline = time.monotonic() + START_TIMEOUT
    while not _port_accepts(ws):
        if time.monotonic() > deadline:
            pytest.fail(f"{b.kind}: nothing listens on WebSocket port {ws}\n{b.log()}", pytrace=False)
        time.sleep(0.05)
    return b


@pytest.fixture
def ws_broker(broker_factory) -> Broker:
    """The broker under test with a WebSocket listener (see ``start_ws_broker``)."""
    return start_ws_broker(broker_factory)


@pytest.fixture
def clients(broker) -> Iterator[h.ClientFactory]:
    """Factory for paho clients bound to ``broker``; all are closed at teardown."""
    factory = h.ClientFactory(broker.host, broker.port)
    yield factory
    factory.close_all()


@pytest.fixture
def procs(broker_factory) -> Iterator[h.ProcGroup]:
    """Background subprocesses (mosquitto_sub, ...); all are killed at teardown,
    before the broker is stopped (hence the dependency on broker_factory)."""
    group = h.ProcGroup()
    yield group
    group.kill_all()


@pytest.fixture
def topic(request) -> str:
    """A topic prefix unique to the test."""
    return h.unique_topic(request.node.name)
