"""paho-mqtt 2.x (CallbackAPIVersion.VERSION2) against the broker under test.

Each test gets a fresh broker (see conftest.py). Protocol-parametrised tests
run for MQTT 3.1, 3.1.1 and 5.0.
"""

from __future__ import annotations

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.subscribeoptions import SubscribeOptions

from interop_helpers import PROTOCOLS, QUIET, props

ALL = list(PROTOCOLS)  # ["v31", "v311", "v5"]
V3 = ["v31", "v311"]


# --------------------------------------------------------------------------
# QoS


@pytest.mark.parametrize("sub_qos", [0, 1, 2])
@pytest.mark.parametrize("proto", ALL)
def test_publish_qos_0_1_2(clients, topic, proto, sub_qos):
    """Publish at QoS 0/1/2; each arrives once with payload intact and
    QoS = min(publish QoS, subscription QoS)."""
    sub = clients.connected(proto)
    granted = sub.subscribe(f"{topic}/q", sub_qos)
    assert [int(g.value) for g in granted] == [sub_qos]
    pub = clients.connected(proto)
    sent = {}
    for pub_qos in (0, 1, 2):
        payload = f"qos{pub_qos}-\x00-\u00e9".encode()  # NUL and non-ASCII bytes survive
        sent[payload] = pub_qos
        pub.publish(f"{topic}/q", payload, qos=pub_qos)
    got = sub.expect(3)
    assert sorted(m.payload for m in got) == sorted(sent)
    for m in got:
        assert m.topic == f"{topic}/q"
        assert m.qos == min(sent[m.payload], sub_qos), m
        assert m.retain is False
    sub.expect_none(0.3)  # no duplicates


@pytest.mark.parametrize("proto", ALL)
def test_same_client_pub_sub(clients, topic, proto):
    """One client subscribed at QoS 2 gets its own QoS 0/1/2 publishes (as in notes §6)."""
    c = clients.connected(proto)
    c.subscribe(topic, 2)
    for q in (0, 1, 2):
        c.publish(topic, f"m{q}", qos=q)
    got = sorted((m.payload, m.qos) for m in c.expect(3))
    assert got == [(b"m0", 0), (b"m1", 1), (b"m2", 2)]


@pytest.mark.parametrize("proto", ALL)
def test_overlapping_subscriptions_max_qos(clients, topic, proto):
    """Overlapping subscriptions: the message is delivered respecting the
    maximum QoS of the matching subscriptions (3.1.1 §3.3.5; 5.0 §3.3.4).
    Extra copies are allowed, so we only require one copy at QoS 2."""
    sub = clients.connected(proto)
    sub.subscribe(f"{topic}/+", 0)
    sub.subscribe(f"{topic}/a", 2)
    pub = clients.connected(proto)
    pub.publish(f"{topic}/a", b"x", qos=2)
    got = sub.expect(1) + sub.collect(0.5)
    assert all(m.payload == b"x" for m in got)
    assert 2 in [m.qos for m in got], got


# --------------------------------------------------------------------------
# Retained messages


@pytest.mark.parametrize("proto", ALL)
def test_retained_set_replace_clear(clients, topic, proto):
    t = f"{topic}/state"
    live = clients.connected(proto)
    live.subscribe(t, 2)
    pub = clients.connected(proto)

    # set: an existing subscriber sees retain=0, a new subscriber retain=1
    pub.publish(t, b"one", qos=1, retain=True)
    [m] = live.expect(1)
    assert (m.payload, m.retain) == (b"one", False)
    late = clients.connected(proto)
    late.subscribe(t, 2)
    [m] = late.expect(1)
    assert (m.topic, m.payload, m.qos, m.retain) == (t, b"one", 1, True)
    late.expect_none(0.3)

    # replace
    pub.publish(t, b"two", qos=1, retain=True)
    late2 = clients.connected(proto)
    late2.subscribe(t, 0)
    [m] = late2.expect(1)
    assert (m.payload, m.qos, m.retain) == (b"two", 0, True)
    late2.expect_none(0.3)

    # clear with an empty payload: a new subscriber gets nothing
    pub.publish(t, b"", qos=1, retain=True)
    late3 = clients.connected(proto)
    late3.subscribe(t, 2)
    late3.expect_none(QUIET)


@pytest.mark.parametrize("proto", ALL)
def test_retained_matched_by_wildcard(clients, topic, proto):
    pub = clients.connected(proto)
    pub.publish(f"{topic}/a/x", b"ax", qos=1, retain=True)
    pub.publish(f"{topic}/b/x", b"bx", qos=1, retain=True)
    pub.publish(f"{topic}/b/y", b"by", qos=1, retain=True)
    sub = clients.connected(proto)
    sub.subscribe(f"{topic}/+/x", 1)
    got = sorted((m.topic, m.payload, m.retain) for m in sub.expect(2))
    assert got == [(f"{topic}/a/x", b"ax", True), (f"{topic}/b/x", b"bx", True)]
    sub.expect_none(0.3)


# --------------------------------------------------------------------------
# Will messages


@pytest.mark.parametrize("proto", ALL)
def test_will_on_abrupt_close(clients, topic, proto):
    """Socket closed without DISCONNECT: the will is published."""
    watcher = clients.connected(proto)
    watcher.subscribe(f"{topic}/will", 2)
    doomed = clients.new(
        proto, will={"topic": f"{topic}/will", "payload": b"gone", "qos": 1, "retain": False}
    ).connect_no_loop()
    doomed.drop()
    [m] = watcher.expect(1)
    assert (m.topic, m.payload, m.qos, m.retain) == (f"{topic}/will", b"gone", 1, False)
    watcher.expect_none(0.3)


@pytest.mark.parametrize("proto", ALL)
def test_will_retained_on_abrupt_close(clients, topic, proto):
    """A retained will is stored as the retained message of its topic."""
    doomed = clients.new(
        proto, will={"topic": f"{topic}/status", "payload": b"offline", "qos": 1, "retain": True}
    ).connect_no_loop()
    watcher = clients.connected(proto)
    watcher.subscribe(f"{topic}/status", 1)
    doomed.drop()
    [m] = watcher.expect(1)
    assert m.payload == b"offline"
    late = clients.connected(proto)
    late.subscribe(f"{topic}/status", 1)
    [m] = late.expect(1)
    assert (m.payload, m.retain) == (b"offline", True)


@pytest.mark.parametrize("proto", ALL)
def test_no_will_on_disconnect(clients, topic, proto):
    """A client that sends DISCONNECT does not trigger its will."""
    watcher = clients.connected(proto)
    watcher.subscribe(f"{topic}/will", 2)
    polite = clients.connected(
        proto, will={"topic": f"{topic}/will", "payload": b"gone", "qos": 1, "retain": False}
    )
    polite.disconnect()
    watcher.expect_none(QUIET)


# --------------------------------------------------------------------------
# Wildcards and $-topics


@pytest.mark.parametrize("proto", ALL)
def test_wildcards(clients, topic, proto):
    plus = clients.connected(proto)
    plus.subscribe(f"{topic}/+/temp", 1)
    hash_ = clients.connected(proto)
    hash_.subscribe(f"{topic}/house/#", 1)
    pub = clients.connected(proto)
    topics = [
        f"{topic}/kitchen/temp",  # +
        f"{topic}//temp",  # + matches an empty level
        f"{topic}/kitchen/temp/raw",  # neither for +
        f"{topic}/house",  # # matches the parent level
        f"{topic}/house/a/b/c",  # # matches many levels
        f"{topic}/houses/x",  # not a level match
    ]
    for t in topics:
        pub.publish(t, t.encode(), qos=1)
    assert sorted(m.topic for m in plus.expect(2)) == sorted([topics[0], topics[1]])
    assert sorted(m.topic for m in hash_.expect(2)) == sorted([topics[3], topics[4]])
    plus.expect_none(0.3)
    hash_.expect_none(0.1)


@pytest.mark.parametrize("proto", ALL)
def test_dollar_topics_not_matched_by_wildcards(clients, topic, proto):
    """`#` and `+/...` must not match topics starting with `$` (3.1.1 §4.7.2)."""
    wild = clients.connected(proto)
    wild.subscribe("#", 0)
    wild.subscribe("+/interop-dollar", 0)
    explicit = clients.connected(proto)
    explicit.subscribe("$interop/#", 0)
    pub = clients.connected(proto)
    pub.publish("$interop/interop-dollar", b"dollar", qos=1)
    sentinel = f"{topic}/sentinel"
    pub.publish(sentinel, b"s", qos=1)
    wild_got = wild.expect(1) + wild.collect(0.5)
    assert [m.topic for m in wild_got if m.topic.startswith("$")] == [], wild_got
    assert sentinel in [m.topic for m in wild_got]
    explicit_got = explicit.collect(QUIET)
    if not explicit_got:
        pytest.skip(
            "broker drops client publishes to $-topics (allowed by 3.1.1 §4.7.2); "
            "the `#` vs `$` check above was vacuous"
        )
    assert [(m.topic, m.payload) for m in explicit_got] == [("$interop/interop-dollar", b"dollar")]


# --------------------------------------------------------------------------
# Sessions


@pytest.mark.parametrize("proto", V3)
def test_v3_persistent_session(clients, topic, proto):
    """clean_session=False: QoS 1/2 messages published while away are queued."""
    cid = "persist-" + proto
    sub = clients.connected(proto, cid=cid, clean=False)
    assert sub.session_present is False
    sub.subscribe(f"{topic}/#", 1)
    sub.disconnect()

    pub = clients.connected(proto)
    pub.publish(f"{topic}/a", b"while-away-1", qos=1)
    pub.publish(f"{topic}/b", b"while-away-2", qos=2)

    back = clients.connected(proto, cid=cid, clean=False)
    if proto != "v31":  # MQTT 3.1's CONNACK has no session-present flag
        assert back.session_present is True
    got = sorted((m.topic, m.payload, m.qos) for m in back.expect(2))
    assert got == [(f"{topic}/a", b"while-away-1", 1), (f"{topic}/b", b"while-away-2", 1)]
    # the subscription itself survived too
    pub.publish(f"{topic}/c", b"after", qos=1)
    [m] = back.expect(1)
    assert m.payload == b"after"
    back.disconnect()

    # clean_session=True discards it
    fresh = clients.connected(proto, cid=cid, clean=True)
    assert fresh.session_present is False
    pub.publish(f"{topic}/d", b"nobody", qos=1)
    fresh.expect_none(0.5)


def test_v5_session_expiry_persistent_session(clients, topic):
    cid = "persist-v5"
    sub = clients.connected("v5", cid=cid, clean=False, session_expiry=300)
    assert sub.session_present is False
    sub.subscribe(f"{topic}/#", 1)
    sub.disconnect()

    pub = clients.connected("v5")
    pub.publish(f"{topic}/a", b"while-away-1", qos=1)
    pub.publish(f"{topic}/b", b"while-away-2", qos=2)

    back = clients.connected("v5", cid=cid, clean=False, session_expiry=300)
    assert back.session_present is True
    got = sorted((m.topic, m.payload, m.qos) for m in back.expect(2))
    assert got == [(f"{topic}/a", b"while-away-1", 1), (f"{topic}/b", b"while-away-2", 1)]
    back.disconnect()

    # clean_start=True discards the session
    fresh = clients.connected("v5", cid=cid, clean=True, session_expiry=0)
    assert fresh.session_present is False
    pub.publish(f"{topic}/c", b"nobody", qos=1)
    fresh.expect_none(0.5)


def test_v5_session_expiry_zero_not_kept(clients, topic):
    """clean_start=False with session expiry 0: the session ends at disconnect."""
    cid = "nopersist-v5"
    sub = clients.connected("v5", cid=cid, clean=False, session_expiry=0)
    sub.subscribe(f"{topic}/#", 1)
    sub.disconnect()
    pub = clients.connected("v5")
    pub.publish(f"{topic}/a", b"lost", qos=1)
    back = clients.connected("v5", cid=cid, clean=False, session_expiry=0)
    assert back.session_present is False
    back.expect_none(QUIET)


# --------------------------------------------------------------------------
# MQTT 5 properties


def test_v5_publish_properties_roundtrip(clients, topic):
    sub = clients.connected("v5")
    sub.subscribe(f"{topic}/req", 2)
    pub = clients.connected("v5")
    user = [("k", "v"), ("dup", "1"), ("dup", "2"), ("\u00fcnicode", "\u2713")]
    correlation = bytes([0, 1, 2, 0xFE, 0xFF])
    p = props(
        PacketTypes.PUBLISH,
        UserProperty=user,
        ContentType="application/json; charset=utf-8",
        ResponseTopic=f"{topic}/reply",
        CorrelationData=correlation,
        PayloadFormatIndicator=1,
        MessageExpiryInterval=300,
    )
    for qos in (0, 1, 2):
        pub.publish(f"{topic}/req", b'{"n": %d}' % qos, qos=qos, properties=p)
    for m in sorted(sub.expect(3), key=lambda m: m.qos):
        mp = m.properties
        assert mp is not None
        # order of user properties must be preserved (5.0 §3.3.2.3.7)
        assert list(mp.UserProperty) == user
        assert mp.ContentType == "application/json; charset=utf-8"
        assert mp.ResponseTopic == f"{topic}/reply"
        assert mp.CorrelationData == correlation
        assert mp.PayloadFormatIndicator == 1
        assert 0 < mp.MessageExpiryInterval <= 300


def test_v5_request_response(clients, topic):
    """A responder answers on the response topic with the correlation data."""
    requester = clients.connected("v5")
    requester.subscribe(f"{topic}/reply", 1)
    responder = clients.connected("v5")
    responder.subscribe(f"{topic}/req", 1)
    requester.publish(
        f"{topic}/req",
        b"ping",
        qos=1,
        properties=props(
            PacketTypes.PUBLISH, ResponseTopic=f"{topic}/reply", CorrelationData=b"id-42"
        ),
    )
    [req] = responder.expect(1)
    responder.publish(
        req.properties.ResponseTopic,
        b"pong",
        qos=1,
        properties=props(PacketTypes.PUBLISH, CorrelationData=req.properties.CorrelationData),
    )
    [resp] = requester.expect(1)
    assert (resp.payload, resp.properties.CorrelationData) == (b"pong", b"id-42")


def test_v5_no_local(clients, topic):
    c = clients.connected("v5")
    c.subscribe(f"{topic}", options=SubscribeOptions(qos=1, noLocal=True))
    other = clients.connected("v5")
    c.publish(topic, b"mine", qos=1)
    other.publish(topic, b"theirs", qos=1)
    got = [m.payload for m in c.expect(1) + c.collect(0.5)]
    assert got == [b"theirs"]


def test_v5_will_properties(clients, topic):
    watcher = clients.connected("v5")
    watcher.subscribe(f"{topic}/will", 1)
    doomed = clients.new(
        "v5",
        will={
            "topic": f"{topic}/will",
            "payload": b"gone",
            "qos": 1,
            "retain": False,
            "properties": props(
                PacketTypes.WILLMESSAGE, UserProperty=[("why", "crash")], ContentType="text/plain"
            ),
        },
    ).connect_no_loop()
    doomed.drop()
    [m] = watcher.expect(1)
    assert m.payload == b"gone"
    assert list(m.properties.UserProperty) == [("why", "crash")]
    assert m.properties.ContentType == "text/plain"
