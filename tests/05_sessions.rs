//! Sessions: client-id takeover, persistent 3.1.1 sessions and their offline
//! queue, DUP redelivery, clean session, MQTT 5 session expiry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::wire::{self, DISCONNECT};
use common::{Broker, Connect, Props, Publish, QUIET, Raw, V4, hex, prop};
use rumqttc::QoS;

#[tokio::test(flavor = "multi_thread")]
async fn second_connection_with_the_same_id_takes_over_v311() {
    let broker = Broker::start();
    let (mut first, _) = Raw::connect(broker.addr, &Connect::v311("twin")).await;
    let (mut second, _) = Raw::connect(broker.addr, &Connect::v311("twin")).await;
    first.expect_closed_silently().await;
    second.send(&wire::PINGREQ).await;
    second.expect_bytes(&wire::PINGRESP).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn taken_over_v5_connection_gets_disconnect_0x8e() {
    let broker = Broker::start();
    let (mut first, _) = Raw::connect(broker.addr, &Connect::v5("twin5")).await;
    let (mut second, _) = Raw::connect(broker.addr, &Connect::v5("twin5")).await;
    first.expect_disconnect(0x8E).await;
    second.send(&wire::PINGREQ).await;
    second.expect_bytes(&wire::PINGRESP).await;
}

/// Subscribes `id` at QoS 1 to `filter` with a persistent session, then disconnects.
async fn park_session(broker: &Broker, connect: Connect, filter: &str) {
    let v5 = connect.is_v5();
    let (mut raw, connack) = Raw::connect(broker.addr, &connect).await;
    assert!(!connack.session_present);
    let subscribe = if v5 {
        wire::subscribe_v5(1, Props::new(), &[(filter, 1)])
    } else {
        wire::subscribe(1, &[(filter, 1)])
    };
    raw.send(&subscribe).await;
    assert_eq!(raw.recv().await.sub_reasons(v5), [1]);
    raw.send(&DISCONNECT).await;
    raw.expect_closed().await;
}

async fn publish_qos1(broker: &Broker, id: &str, topic: &str, payloads: &[&[u8]]) {
    let mut publisher = V4::connect(broker.addr, id).await;
    for payload in payloads {
        publisher
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn persistent_session_keeps_subscriptions_and_queues_while_offline() {
    let broker = Broker::start();
    park_session(&broker, Connect::v311("sleeper").clean(false), "pers/t").await;
    let payloads: [&[u8]; 5] = [b"m0", b"m1", b"m2", b"m3", b"m4"];
    publish_qos1(&broker, "pers-pub", "pers/t", &payloads).await;

    let mut raw = Raw::open(broker.addr).await;
    raw.send(&Connect::v311("sleeper").clean(false).bytes())
        .await;
    raw.expect_bytes(&hex("20 02 01 00")).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(raw.recv_publish_and_ack().await.payload);
    }
    assert_eq!(got, payloads, "all five, in order");
    raw.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unacknowledged_qos1_is_redelivered_with_dup_and_the_same_packet_id() {
    let broker = Broker::start();
    park_session(&broker, Connect::v311("forgetful").clean(false), "redo/t").await;
    let connect = Connect::v311("forgetful").clean(false);
    let (mut raw, connack) = Raw::connect(broker.addr, &connect).await;
    assert!(connack.session_present);
    publish_qos1(&broker, "redo-pub", "redo/t", &[b"again"]).await;
    let frame = raw.recv().await;
    assert_eq!(frame.first, 0x32, "first delivery without DUP: {frame:?}");
    let first = frame.publish(false);
    drop(raw); // no PUBACK

    let (mut raw, connack) = Raw::connect(broker.addr, &connect).await;
    assert!(connack.session_present);
    let frame = raw.recv().await;
    assert!(
        frame.first == 0x3A || frame.first == 0x3B,
        "redelivery is QoS 1 with DUP set: {frame:?}"
    );
    let again = frame.publish(false);
    assert_eq!(again.packet_id, first.packet_id, "same packet id");
    assert_eq!((again.topic, again.payload), (first.topic, first.payload));
    raw.send(&wire::puback(again.packet_id.unwrap())).await;
    raw.send(&DISCONNECT).await;
    // Separate connections have no order: wait until the server has read
    // this one to its end, or the next CONNECT may overtake the PUBACK.
    raw.expect_closed_silently().await;

    // Acknowledged now: a third connection gets nothing.
    let (mut raw, _) = Raw::connect(broker.addr, &connect).await;
    raw.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn qos2_pubrel_is_resent_after_reconnect() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("half").clean(false)).await;
    raw.send(&wire::subscribe(1, &[("half/t", 2)])).await;
    raw.expect_bytes(&hex("90 03 00 01 02")).await;
    let mut publisher = V4::connect(broker.addr, "half-pub").await;
    publisher
        .publish("half/t", QoS::ExactlyOnce, false, b"q2")
        .await;
    let id = raw.recv_publish().await.packet_id.unwrap();
    raw.send(&wire::pubrec(id)).await;
    raw.expect_bytes(&wire::pubrel(id)).await;
    drop(raw); // no PUBCOMP

    let (mut raw, connack) = Raw::connect(broker.addr, &Connect::v311("half").clean(false)).await;
    assert!(connack.session_present);
    raw.expect_bytes(&wire::pubrel(id)).await;
    raw.send(&wire::pubcomp(id)).await;
    raw.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_session_discards_the_previous_session() {
    let broker = Broker::start();
    park_session(&broker, Connect::v311("fresh").clean(false), "clean/t").await;
    let (mut raw, connack) = Raw::connect(broker.addr, &Connect::v311("fresh").clean(true)).await;
    assert!(!connack.session_present);
    publish_qos1(&broker, "clean-pub", "clean/t", &[b"lost"]).await;
    raw.expect_silence(QUIET).await;
    raw.send(&DISCONNECT).await;
    raw.expect_closed().await;

    // The clean session ended with its connection: nothing to resume.
    let (mut raw, connack) = Raw::connect(broker.addr, &Connect::v311("fresh").clean(false)).await;
    assert!(!connack.session_present);
    raw.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_session_expires_after_its_interval() {
    let broker = Broker::start();
    let with_expiry = |id: &str, seconds: u32| {
        Connect::v5(id)
            .clean(false)
            .props(Props::new().four(prop::SESSION_EXPIRY, seconds))
    };
    park_session(&broker, with_expiry("brief", 1), "exp/t").await;
    park_session(&broker, with_expiry("lasting", 60), "exp/t").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let (_brief, connack) = Raw::connect(broker.addr, &with_expiry("brief", 1)).await;
    assert!(
        !connack.session_present,
        "a 1 s session is gone after 2.5 s"
    );
    let (_lasting, connack) = Raw::connect(broker.addr, &with_expiry("lasting", 60)).await;
    assert!(connack.session_present, "a 60 s session is still there");
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_session_expiry_0_ends_the_session_with_the_connection() {
    let broker = Broker::start();
    park_session(&broker, Connect::v5("gone").clean(false), "zero/t").await;
    let (_raw, connack) = Raw::connect(broker.addr, &Connect::v5("gone").clean(false)).await;
    assert!(!connack.session_present);
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_queue_is_bounded_by_max_queued() {
    let broker = Broker::with(|s| s.limits.max_queued = 3);
    park_session(&broker, Connect::v311("bounded").clean(false), "bound/t").await;
    let payloads: [&[u8]; 6] = [b"0", b"1", b"2", b"3", b"4", b"5"];
    publish_qos1(&broker, "bound-pub", "bound/t", &payloads).await;

    let (mut raw, connack) =
        Raw::connect(broker.addr, &Connect::v311("bounded").clean(false)).await;
    assert!(connack.session_present);
    let mut got = Vec::new();
    while let Ok(frame) = raw.try_recv(QUIET).await {
        let publish = frame.publish(false);
        raw.send(&wire::puback(publish.packet_id.unwrap())).await;
        got.push(publish.payload);
    }
    assert_eq!(got.len(), 3, "at most max_queued messages kept: {got:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_session_expiry_above_the_maximum_is_lowered_in_connack() {
    let broker = Broker::with(|s| s.mqtt.max_session_expiry = 100);
    let asks = |id: &str, seconds: u32| {
        Connect::v5(id).props(Props::new().four(prop::SESSION_EXPIRY, seconds))
    };
    let (_a, connack) = Raw::connect(broker.addr, &asks("greedy-exp", 1000)).await;
    assert_eq!(connack.props.num(prop::SESSION_EXPIRY), Some(100));
    let (_b, connack) = Raw::connect(broker.addr, &asks("modest-exp", 50)).await;
    assert_eq!(connack.props.get(prop::SESSION_EXPIRY), None);
}

/// DISCONNECT with a v5 session expiry interval property.
fn disconnect_with_expiry(seconds: u32) -> Vec<u8> {
    let mut body = vec![0x00];
    Props::new()
        .four(prop::SESSION_EXPIRY, seconds)
        .encode(&mut body);
    wire::frame(0xE0, &body)
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_disconnect_can_end_the_session_by_setting_expiry_0() {
    let broker = Broker::start();
    let connect = Connect::v5("shorten")
        .clean(false)
        .props(Props::new().four(prop::SESSION_EXPIRY, 60));
    let (mut raw, _) = Raw::connect(broker.addr, &connect).await;
    raw.send(&disconnect_with_expiry(0)).await;
    raw.expect_closed_silently().await;
    let (_raw, connack) = Raw::connect(broker.addr, &connect).await;
    assert!(!connack.session_present);
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_disconnect_setting_expiry_after_0_at_connect_is_a_protocol_error() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v5("revive")).await;
    raw.send(&disconnect_with_expiry(30)).await;
    raw.expect_disconnect(0x82).await;
    let (_raw, connack) = Raw::connect(broker.addr, &Connect::v5("revive").clean(false)).await;
    assert!(!connack.session_present, "the session still ended");
}

/// Exactly once across a reconnect: the packet id of an unreleased QoS 2
/// message is remembered by the session, so the client's retry is not
/// forwarded a second time (MQTT 3.1.1 §4.3.3).
#[tokio::test(flavor = "multi_thread")]
async fn qos2_retry_after_reconnect_is_not_forwarded_twice() {
    let broker = Broker::start();
    let mut sub = V4::connect(broker.addr, "eo-watch").await;
    sub.subscribe("eo2/t", QoS::ExactlyOnce).await;

    let connect = Connect::v311("eo-retry").clean(false);
    let message = Publish::new("eo2/t", b"only once").qos(2, 42);
    let (mut raw, _) = Raw::connect(broker.addr, &connect).await;
    raw.send(&message.bytes()).await;
    raw.expect_bytes(&wire::pubrec(42)).await;
    drop(raw); // PUBREC lost, as far as the client knows

    let (mut raw, connack) = Raw::connect(broker.addr, &connect).await;
    assert!(connack.session_present);
    raw.send(&message.clone().dup().bytes()).await;
    raw.expect_bytes(&wire::pubrec(42)).await;
    raw.send(&wire::pubrel(42)).await;
    raw.expect_bytes(&wire::pubcomp(42)).await;

    assert_eq!(&sub.recv().await.payload[..], b"only once");
    sub.expect_nothing(QUIET).await;
}

/// MQTT 3.1.1 [MQTT-3.1.2-6]: the state of a clean session must not be reused
/// by any later session, even when its connection is taken over rather than
/// closed (5.0: a session with expiry 0 ends with its network connection).
#[tokio::test(flavor = "multi_thread")]
async fn taking_over_a_clean_session_does_not_resume_it() {
    let broker = Broker::start();
    for connect in [Connect::v311("clean-owner"), Connect::v5("clean-owner-5")] {
        let v5 = connect.is_v5();
        let (mut old, _) = Raw::connect(broker.addr, &connect).await;
        let subscribe = if v5 {
            wire::subscribe_v5(1, Props::new(), &[("clean-owner/t", 1)])
        } else {
            wire::subscribe(1, &[("clean-owner/t", 1)])
        };
        old.send(&subscribe).await;
        assert_eq!(old.recv().await.sub_reasons(v5), [1]);

        let (mut new, connack) = Raw::connect(broker.addr, &connect.clone().clean(false)).await;
        old.expect_closed().await;
        assert!(
            !connack.session_present,
            "{}: a clean session was resumed by a takeover",
            connect.client_id
        );
        publish_qos1(
            &broker,
            &format!("{}-pub", connect.client_id),
            "clean-owner/t",
            &[b"x"],
        )
        .await;
        new.expect_silence(QUIET).await;
    }
}

/// A client that reconnects the moment it sees the server close must not find
/// its ended session: the broker must know a connection is gone before the
/// client can.
#[tokio::test(flavor = "multi_thread")]
async fn reconnecting_right_after_a_close_never_resumes_an_ended_session() {
    let broker = Broker::start();
    let mut resumed = Vec::new();
    for i in 0..200 {
        let id = format!("quick-{i}");
        let (mut old, _) = Raw::connect(broker.addr, &Connect::v311(&id)).await;
        // Opened in advance, so only the CONNECT is left to send after the close.
        // The race is narrow: 200 attempts take well under a second.
        let mut new = Raw::open(broker.addr).await;
        old.send(&DISCONNECT).await;
        old.expect_closed().await;
        new.send(&Connect::v311(&id).clean(false).bytes()).await;
        if new.recv().await.connack(false).session_present {
            resumed.push(i);
        }
    }
    assert!(
        resumed.is_empty(),
        "clean sessions resumed right after their DISCONNECT in attempts {resumed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resumed_session_sends_unacknowledged_then_queued_messages_in_order() {
    let broker = Broker::start();
    park_session(&broker, Connect::v311("orderly").clean(false), "ord/t").await;
    let connect = Connect::v311("orderly").clean(false);
    let (mut raw, _) = Raw::connect(broker.addr, &connect).await;
    publish_qos1(&broker, "ord-pub-1", "ord/t", &[b"m0"]).await;
    assert_eq!(raw.recv_publish().await.payload, b"m0");
    drop(raw); // m0 unacknowledged
    publish_qos1(&broker, "ord-pub-2", "ord/t", &[b"m1", b"m2"]).await;

    let (mut raw, _) = Raw::connect(broker.addr, &connect).await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let p = raw.recv_publish_and_ack().await;
        got.push((p.payload, p.dup));
    }
    assert_eq!(
        got,
        [
            (b"m0".to_vec(), true),
            (b"m1".to_vec(), false),
            (b"m2".to_vec(), false)
        ]
    );
}

/// A backlog larger than the session's write high-water mark (64 KiB) is sent
/// up to the inflight window without waiting for acknowledgements.
#[tokio::test(flavor = "multi_thread")]
async fn large_backlog_is_sent_up_to_the_window_without_acks() {
    let broker = Broker::start();
    park_session(&broker, Connect::v311("backlog").clean(false), "backlog/t").await;
    let mut publisher = V4::connect(broker.addr, "backlog-pub").await;
    for i in 0..20u8 {
        publisher
            .publish("backlog/t", QoS::AtLeastOnce, false, &[i; 10 * 1024])
            .await;
    }
    let (mut raw, connack) =
        Raw::connect(broker.addr, &Connect::v311("backlog").clean(false)).await;
    assert!(connack.session_present);
    // 20 messages fit the default window of 32: all must come, unacknowledged.
    for i in 0..20u8 {
        match raw.try_recv(Duration::from_secs(2)).await {
            Ok(frame) => assert_eq!(frame.publish(false).payload[0], i),
            Err(why) => panic!("message {i} of 20 never arrived: {why:?}"),
        }
    }
}
