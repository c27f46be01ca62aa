"""Security against real clients: Debian's mosquitto_pub/mosquitto_sub and
paho-mqtt over TLS (and WSS) with user names and passwords.

The CA and server certificate are made per test with the ``openssl`` tool;
users are added with ``wren passwd --password-stdin``. wren only: the
configuration is wren's.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

import interop_helpers as h
from conftest import broker_cmd_prefix
from interop_helpers import HOST, WAIT, free_port, require_tool, run

pytestmark = pytest.mark.wren_only("wren's [auth] and [tls] configuration")

USERS = {"alice": "wonderland", "bob": "builder"}
ACL = "user alice\ntopic readwrite sec/#\nuser bob\ntopic read sec/#\n"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run([require_tool("openssl"), *args], cwd=cwd, check=True, capture_output=True, timeout=WAIT * 4)


def make_pki(d: Path) -> None:
    """ca.pem, server.pem (for 127.0.0.1 and localhost) and server.key in ``d``."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=wren interop CA", cwd=d)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=d)


def add_users(path: Path) -> None:
    for user, password in USERS.items():
        r = subprocess.run([*broker_cmd_prefix(), "passwd", "--password-stdin", str(path), user],
                           input=password + "\n", capture_output=True, text=True, timeout=WAIT * 4)
        assert r.returncode == 0, r.stderr


@pytest.fixture
def secure(broker_factory, tmp_path, monkeypatch):
    """wren with MQTT over TLS and WSS, a password file and an ACL; returns
    (broker, directory with ca.pem)."""
    make_pki(tmp_path)
    add_users(tmp_path / "passwd")
    (tmp_path / "acl").write_text(ACL)
    tls, wss = free_port(), free_port()
    # conftest writes the [mqtt] table itself; the TLS listener comes from the environment.
    monkeypatch.setenv("WREN__MQTT__TLS", f"{HOST}:{tls}")
    b = broker_factory(
        wren_toml=(
            f'[http]\nlisten = []\ntls_listen = "{HOST}:{wss}"\n'
            f'[auth]\npassword_file = "{tmp_path / "passwd"}"\nacl_file = "{tmp_path / "acl"}"\n'
            f'[tls]\ncert = "{tmp_path / "server.pem"}"\nkey = "{tmp_path / "server.key"}"\n'
        ),
        extra_ports={"tls": tls, "wss": wss},
    )
    return b, tmp_path


def mosq_tls(tool: str, d: Path, port: int, *args: str) -> list[str]:
    return [require_tool(tool), "-h", HOST, "-p", str(port), "--cafile", str(d / "ca.pem"), *args]


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_clients_over_tls_with_passwords(secure, procs, topic, version):
    b, d = secure
    port = b.extra_ports["tls"]
    t = f"sec/{topic}"
    sub = procs.start(mosq_tls("mosquitto_sub", d, port, "-V", version, "-u", "bob", "-P", "builder",
                               "-t", t, "-C", "1", "-W", str(int(WAIT)), "-v", "-d"))
    sub.wait_line(lambda line: "received SUBACK" in line)
    r = run(mosq_tls("mosquitto_pub", d, port, "-V", version, "-u", "alice", "-P", "wonderland",
                     "-t", t, "-m", "over tls"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert sub.wait_exit(WAIT + 5) == 0, sub.output()
    assert f"{t} over tls" in sub.output().splitlines(), sub.output()


def test_mosquitto_pub_wrong_password_and_anonymous_are_refused(secure):
    b, d = secure
    port = b.extra_ports["tls"]
    wrong = run(mosq_tls("mosquitto_pub", d, port, "-u", "alice", "-P", "nope", "-t", "sec/x", "-m", "x"))
    assert wrong.returncode != 0
    assert "not authorised" in (wrong.stdout + wrong.stderr).lower() or         "bad user name or password" in (wrong.stdout + wrong.stderr).lower(), wrong.stderr
    anonymous = run(mosq_tls("mosquitto_pub", d, port, "-t", "sec/x", "-m", "x"))
    assert anonymous.returncode != 0
    # Plain TCP is still open, with the same rules.
    plain = run([require_tool("mosquitto_pub"), "-h", HOST, "-p", str(b.port), "-u", "alice", "-P", "wonderland",
                 "-t", "sec/x", "-m", "x"])
    assert plain.returncode == 0, plain.stderr


def paho(b, d: Path, protocol: str, user: str, transport: str = "tcp") -> h.Client:
    port = b.extra_ports["wss" if transport == "websockets" else "tls"]
    c = h.Client(HOST, port, protocol=protocol, transport=transport)
    c.c.tls_set(ca_certs=str(d / "ca.pem"), cert_reqs=ssl.CERT_REQUIRED)
    c.c.username_pw_set(user, USERS[user])
    return c


@pytest.mark.parametrize("transport", ["tcp", "websockets"])
@pytest.mark.parametrize("protocol", ["v311", "v5"])
def test_paho_over_tls_with_acl(secure, topic, protocol, transport):
    b, d = secure
    reader = paho(b, d, protocol, "bob", transport).connect()
    writer = paho(b, d, protocol, "alice", transport).connect()
    try:
        reader.subscribe(f"sec/{topic}", qos=1)
        writer.publish(f"sec/{topic}", b"hello", qos=1)
        got = reader.expect(1)
        assert got[0].payload == b"hello"
        # bob may read sec/# but not write it: dropped (3.1.1) or refused (5.0).
        reader.publish(f"sec/{topic}", b"from bob", qos=1)
        reader.expect_none()
    finally:
        reader.close()
        writer.close()
