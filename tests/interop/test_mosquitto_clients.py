"""Debian's mosquitto_pub / mosquitto_sub (2.0.11) against the broker under test.

All subprocesses run with hard timeouts. A background ``mosquitto_sub -d``
is only published to after its debug output shows the SUBACK, so there is no
subscribe/publish race.
"""

from __future__ import annotations

import re
import signal

import pytest

from interop_helpers import MOSQ_VERSIONS, WAIT, require_tool, run

ALL = list(MOSQ_VERSIONS)  # ["v31", "v311", "v5"]
SUB_TIMEOUT_RC = 27  # mosquitto_sub exit status when -W expires


@pytest.fixture
def mosq(broker):
    """Argument builders bound to the broker."""
    pub_bin = require_tool("mosquitto_pub")
    sub_bin = require_tool("mosquitto_sub")

    class Mosq:
        def pub(self, version: str, *args: str) -> list[str]:
            return [pub_bin, "-h", broker.host, "-p", str(broker.port), "-V", MOSQ_VERSIONS[version], *args]

        def sub(self, version: str, *args: str) -> list[str]:
            return [sub_bin, "-h", broker.host, "-p", str(broker.port), "-V", MOSQ_VERSIONS[version], *args]

    return Mosq()


def start_sub(procs, argv):
    """Start a mosquitto_sub with -d in the background; return once subscribed."""
    sp = procs.start(argv + ["-d"])
    sp.wait_line(lambda line: "received SUBACK" in line)
    return sp


def published(mosq, version, *args):
    r = run(mosq.pub(version, *args))
    assert r.returncode == 0, f"mosquitto_pub failed ({r.returncode}): {r.stdout}{r.stderr}"


@pytest.mark.parametrize("pub_qos", [0, 1, 2])
@pytest.mark.parametrize("sub_qos", [0, 1, 2])
@pytest.mark.parametrize("version", ALL)
def test_pub_sub_roundtrip(mosq, procs, topic, version, sub_qos, pub_qos):
    sp = start_sub(
        procs, mosq.sub(version, "-q", str(sub_qos), "-t", topic, "-C", "1", "-W", str(int(WAIT)), "-v")
    )
    published(mosq, version, "-q", str(pub_qos), "-t", topic, "-m", f"hello q{pub_qos}")
    rc = sp.wait_exit(WAIT + 5)
    out = sp.output()
    assert rc == 0, out
    assert f"{topic} hello q{pub_qos}" in out.splitlines(), out
    # the debug line shows the QoS and retain flag on the wire
    m = re.search(r"received PUBLISH \(d\d, q(\d), r(\d)", out)
    assert m, out
    assert int(m.group(1)) == min(sub_qos, pub_qos), out
    assert m.group(2) == "0", out


@pytest.mark.parametrize("version", ALL)
def test_retained_late_subscriber(mosq, topic, version):
    published(mosq, version, "-q", "1", "-r", "-t", topic, "-m", "kept")
    r = run(mosq.sub(version, "-t", topic, "-C", "1", "-W", "5", "-F", "%r %q %t %p"), timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [f"1 0 {topic} kept"]

    published(mosq, version, "-q", "1", "-r", "-t", topic, "-m", "replaced")
    r = run(mosq.sub(version, "-q", "1", "-t", topic, "-C", "1", "-W", "5", "-v"), timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [f"{topic} replaced"]

    # clear with a null message: a late subscriber times out with nothing
    published(mosq, version, "-q", "1", "-r", "-n", "-t", topic)
    r = run(mosq.sub(version, "-t", topic, "-C", "1", "-W", "1", "-v"), timeout=10)
    assert r.returncode == SUB_TIMEOUT_RC, r.stdout + r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("version", ALL)
def test_retained_only(mosq, topic, version):
    """--retained-only prints the stored retained messages and exits at the first live one."""
    published(mosq, version, "-q", "1", "-r", "-t", f"{topic}/a", "-m", "A")
    published(mosq, version, "-q", "1", "-r", "-t", f"{topic}/b", "-m", "B")
    r = run(mosq.sub(version, "-t", f"{topic}/#", "--retained-only", "-C", "2", "-W", "5", "-v"), timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(r.stdout.splitlines()) == [f"{topic}/a A", f"{topic}/b B"]


@pytest.mark.parametrize("version", ALL)
def test_hash_does_not_match_dollar_topics(mosq, procs, topic, version):
    wild = start_sub(procs, mosq.sub(version, "-t", "#", "-C", "1", "-W", str(int(WAIT)), "-v"))
    explicit = start_sub(
        procs, mosq.sub(version, "-t", "$interop/#", "-C", "1", "-W", "2", "-v")
    )
    published(mosq, version, "-q", "1", "-t", "$interop/x", "-m", "dollar")
    published(mosq, version, "-q", "1", "-t", f"{topic}/sentinel", "-m", "plain")
    assert wild.wait_exit(WAIT + 5) == 0, wild.output()
    msgs = [l for l in wild.output().splitlines() if not l.startswith(("Client ", "Subscribed "))]
    assert msgs == [f"{topic}/sentinel plain"], wild.output()
    rc = explicit.wait_exit(WAIT)
    if rc == SUB_TIMEOUT_RC:
        pytest.skip(
            "broker drops client publishes to $-topics (allowed by 3.1.1 §4.7.2); "
            "the `#` vs `$` check above was vacuous"
        )
    assert rc == 0, explicit.output()
    assert "$interop/x dollar" in explicit.output().splitlines()


@pytest.mark.parametrize("version", ALL)
def test_will_on_sigkill(mosq, procs, topic, version):
    """A mosquitto_sub with a will, killed with SIGKILL: the will is delivered."""
    watcher = start_sub(procs, mosq.sub(version, "-q", "1", "-t", f"{topic}/will", "-C", "1", "-W", str(int(WAIT)), "-v"))
    doomed = start_sub(
        procs,
        mosq.sub(
            version, "-t", f"{topic}/ignored",
            "--will-topic", f"{topic}/will", "--will-payload", "died", "--will-qos", "1",
        ),
    )
    doomed.kill(signal.SIGKILL)
    assert watcher.wait_exit(WAIT + 5) == 0, watcher.output()
    assert f"{topic}/will died" in watcher.output().splitlines()


def test_v5_properties(mosq, procs, topic):
    sp = start_sub(
        procs,
        mosq.sub("v5", "-q", "2", "-t", topic, "-C", "1", "-W", str(int(WAIT)), "-F", "P=%P|C=%C|R=%R|D=%D|F=%F|p=%p"),
    )
    published(
        mosq, "v5", "-q", "1", "-t", topic, "-m", "body",
        "-D", "publish", "user-property", "k", "v",
        "-D", "publish", "content-type", "text/plain",
        "-D", "publish", "response-topic", f"{topic}/reply",
        "-D", "publish", "correlation-data", "corr-1",
        "-D", "publish", "payload-format-indicator", "1",
    )
    assert sp.wait_exit(WAIT + 5) == 0, sp.output()
    assert f"P=k:v|C=text/plain|R={topic}/reply|D=corr-1|F=1|p=body" in sp.output().splitlines(), sp.output()


def test_v5_user_properties_multiple(mosq, procs, topic):
    sp = start_sub(procs, mosq.sub("v5", "-t", topic, "-C", "1", "-W", str(int(WAIT)), "-F", "%P"))
    published(
        mosq, "v5", "-t", topic, "-m", "x",
        "-D", "publish", "user-property", "a", "1",
        "-D", "publish", "user-property", "b", "2",
        "-D", "publish", "user-property", "a", "3",
    )
    assert sp.wait_exit(WAIT + 5) == 0, sp.output()
    lines = [l for l in sp.output().splitlines() if not l.startswith(("Client ", "Subscribed "))]
    assert lines == ["a:1 b:2 a:3"], sp.output()


@pytest.mark.parametrize("version", ["v311", "v5"])
def test_persistent_session_cli(mosq, topic, version):
    """mosquitto_sub -c (clean session off / v5 session expiry) gets queued QoS 1 messages."""
    cid = f"cli-persist-{version}"
    extra = ["-x", "300"] if version == "v5" else []
    r = run(mosq.sub(version, "-c", "-i", cid, *extra, "-q", "1", "-t", topic, "-E"), timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    published(mosq, version, "-q", "1", "-t", topic, "-m", "queued")
    r = run(mosq.sub(version, "-c", "-i", cid, *extra, "-q", "1", "-t", topic, "-C", "1", "-W", "5", "-v"), timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [f"{topic} queued"]
