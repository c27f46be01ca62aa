//! MQTT-SN SUBSCRIBE and deliveries from MQTT publishers: by name,
//! wildcard (REGISTER before PUBLISH), predefined id, short name; retained
//! messages after SUBACK; one message in flight, resent with DUP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::sn::{self, Sn, flag, kind};
use common::{Broker, QUIET, V4};
use rumqttc::QoS;

fn broker() -> Broker {
    Broker::with(|s| {
        s.mqttsn.t_retry = Duration::from_secs(1);
        s.mqttsn.n_retry = 3;
        s.mqttsn
            .predefined_topics
            .insert(7, "home/predefined".into());
    })
}

/// Subscribes by name; returns the SUBACK's topic id after checking the rest.
async fn subscribe(node: &mut Sn, msg_id: u16, filter: &str, qos_flags: u8) -> u16 {
    node.send(&sn::subscribe_name(qos_flags, msg_id, filter))
        .await;
    let (flags, topic_id, acked, rc) = node.recv_kind(kind::SUBACK).await.suback();
    assert_eq!(
        (flags & 0x60, acked, rc),
        (qos_flags & 0x60, msg_id, 0),
        "SUBACK for {filter}"
    );
    topic_id
}

#[tokio::test]
async fn subscribe_by_name_gets_the_topic_id_used_for_deliveries() {
    let broker = broker();
    let mut node = Sn::connect(sn::gateway(&broker), "sub-node", 60).await;
    let id = subscribe(&mut node, 1, "home/door", 0).await;
    assert_ne!(id, 0);
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("home/door", QoS::AtMostOnce, false, b"open")
        .await;
    let (flags, topic, msg_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(
        (flags, topic, msg_id, payload.as_slice()),
        (0, sn::id(id), 0, &b"open"[..])
    );
    // The same id works for publishing back.
    let mut watcher = V4::connect(broker.addr, "watch").await;
    watcher.subscribe("home/door", QoS::AtMostOnce).await;
    node.send(&sn::publish(0, sn::id(id), 0, b"closed")).await;
    assert_eq!(&watcher.recv().await.payload[..], b"closed");
}

#[tokio::test]
async fn wildcard_subscription_registers_each_topic_before_its_first_publish() {
    let broker = broker();
    let mut node = Sn::connect(sn::gateway(&broker), "wild", 60).await;
    assert_eq!(subscribe(&mut node, 1, "home/+/temp", flag::QOS1).await, 0);
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("home/kitchen/temp", QoS::AtLeastOnce, false, b"21")
        .await;
    let (topic_id, msg_id, name) = node.recv_kind(kind::REGISTER).await.register();
    assert_eq!(name, "home/kitchen/temp");
    // Nothing else until the REGACK: the PUBLISH waits for it.
    node.expect_nothing(Duration::from_millis(200)).await;
    node.send(&sn::regack(topic_id, msg_id, 0)).await;
    let (flags, topic, pub_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(
        (flags, topic, payload.as_slice()),
        (flag::QOS1, sn::id(topic_id), &b"21"[..])
    );
    node.send(&sn::puback(topic, pub_id, 0)).await;
    // A second message on the same topic needs no REGISTER; another topic does.
    mqtt.publish("home/kitchen/temp", QoS::AtLeastOnce, false, b"22")
        .await;
    let (_, topic, pub_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!((topic, payload.as_slice()), (sn::id(topic_id), &b"22"[..]));
    node.send(&sn::puback(topic, pub_id, 0)).await;
    mqtt.publish("home/hall/temp", QoS::AtMostOnce, false, b"19")
        .await;
    let (other, msg_id, name) = node.recv_kind(kind::REGISTER).await.register();
    assert_eq!(name, "home/hall/temp");
    assert_ne!(other, topic_id);
    node.send(&sn::regack(other, msg_id, 0)).await;
    let (flags, topic, _, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(
        (flags, topic, payload.as_slice()),
        (0, sn::id(other), &b"19"[..])
    );
}

#[tokio::test]
async fn predefined_and_short_subscriptions_deliver_without_register() {
    let broker = broker();
    let mut node = Sn::connect(sn::gateway(&broker), "ps", 60).await;
    node.send(&sn::subscribe_id(flag::PREDEFINED, 1, sn::id(7)))
        .await;
    assert_eq!(node.recv_kind(kind::SUBACK).await.suback(), (0, 7, 1, 0));
    node.send(&sn::subscribe_id(flag::SHORT, 2, *b"ab")).await;
    assert_eq!(node.recv_kind(kind::SUBACK).await.suback(), (0, 0, 2, 0));
    node.send(&sn::subscribe_id(flag::PREDEFINED, 3, sn::id(8)))
        .await;
    assert_eq!(
        node.recv_kind(kind::SUBACK).await.suback().3,
        0x02,
        "unknown predefined id"
    );
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("home/predefined", QoS::AtMostOnce, false, b"p")
        .await;
    let (flags, topic, _, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(
        (flags, topic, payload.as_slice()),
        (flag::PREDEFINED, sn::id(7), &b"p"[..])
    );
    mqtt.publish("ab", QoS::AtMostOnce, false, b"s").await;
    let (flags, topic, _, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(
        (flags, topic, payload.as_slice()),
        (flag::SHORT, *b"ab", &b"s"[..])
    );
}

#[tokio::test]
async fn retained_messages_follow_the_suback() {
    let broker = broker();
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("state/a", QoS::AtLeastOnce, true, b"on").await;
    let mut node = Sn::connect(sn::gateway(&broker), "ret", 60).await;
    node.send(&sn::subscribe_name(flag::QOS1, 1, "state/#"))
        .await;
    let first = node.recv_in().await;
    assert_eq!(first.kind, kind::SUBACK, "SUBACK comes first: {first:02x?}");
    let (topic_id, msg_id, name) = node.recv_kind(kind::REGISTER).await.register();
    assert_eq!(name, "state/a");
    node.send(&sn::regack(topic_id, msg_id, 0)).await;
    let (flags, _, _, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(flags & flag::RETAIN, flag::RETAIN);
    assert_eq!(payload, b"on");
}

#[tokio::test]
async fn one_message_in_flight_resent_with_dup_until_acknowledged() {
    let broker = broker();
    let mut node = Sn::connect(sn::gateway(&broker), "slow", 600).await;
    let id = subscribe(&mut node, 1, "q/one", flag::QOS1).await;
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("q/one", QoS::AtLeastOnce, false, b"1").await;
    mqtt.publish("q/one", QoS::AtLeastOnce, false, b"2").await;
    let start = Instant::now();
    let (flags, topic, first_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(
        (flags, topic, payload.as_slice()),
        (flag::QOS1, sn::id(id), &b"1"[..])
    );
    // Not acknowledged: the same message again after T_retry, with DUP; never the second.
    let (flags, _, again_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    common::assert_between(
        "resend",
        start.elapsed(),
        Duration::from_millis(800),
        Duration::from_millis(2500),
    );
    assert_eq!(
        (flags, again_id, payload.as_slice()),
        (flag::QOS1 | flag::DUP, first_id, &b"1"[..])
    );
    node.send(&sn::puback(topic, first_id, 0)).await;
    let (flags, _, second_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!((flags, payload.as_slice()), (flag::QOS1, &b"2"[..]));
    assert_ne!(second_id, first_id);
    node.send(&sn::puback(topic, second_id, 0)).await;
    node.expect_nothing(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn node_answering_congestion_gets_the_message_again_after_t_wait() {
    let broker = Broker::with(|s| {
        s.mqttsn.t_retry = Duration::from_secs(10);
        s.mqttsn.t_wait = Duration::from_secs(1);
    });
    let mut node = Sn::connect(sn::gateway(&broker), "busy", 600).await;
    let id = subscribe(&mut node, 1, "q/busy", flag::QOS1).await;
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("q/busy", QoS::AtLeastOnce, false, b"1").await;
    let (_, topic, first_id, _) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(topic, sn::id(id));
    let refused = Instant::now();
    node.send(&sn::puback(topic, first_id, 0x01)).await;
    let (flags, _, again_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    common::assert_between(
        "sent again after T_WAIT",
        refused.elapsed(),
        Duration::from_millis(800),
        Duration::from_millis(3000),
    );
    assert_eq!(
        (flags, again_id, payload.as_slice()),
        (flag::QOS1 | flag::DUP, first_id, &b"1"[..])
    );
    node.send(&sn::puback(topic, again_id, 0)).await;
    node.expect_nothing(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn node_that_never_acknowledges_is_lost_after_n_retry() {
    let broker = broker();
    let mut watcher = V4::connect(broker.addr, "watch").await;
    watcher.subscribe("gone/#", QoS::AtMostOnce).await;
    let mut node = Sn::open(sn::gateway(&broker)).await;
    node.send(&sn::connect(flag::CLEAN | flag::WILL, 600, "deaf"))
        .await;
    node.expect(&[0x02, kind::WILLTOPICREQ]).await;
    node.send(&sn::will_topic(0, "gone/deaf")).await;
    node.expect(&[0x02, kind::WILLMSGREQ]).await;
    node.send(&sn::will_msg(b"lost")).await;
    node.expect(&[0x03, kind::CONNACK, 0x00]).await;
    let id = subscribe(&mut node, 1, "q/deaf", flag::QOS1).await;
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("q/deaf", QoS::AtLeastOnce, false, b"x").await;
    for resend in 0..=3 {
        let (flags, topic, _, _) = node.recv_kind(kind::PUBLISH).await.publish();
        assert_eq!(topic, sn::id(id));
        assert_eq!(flags & flag::DUP != 0, resend > 0);
    }
    let will = watcher.recv().await;
    assert_eq!(&will.payload[..], b"lost");
    node.expect_nothing(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn qos2_delivery_goes_through_pubrec_pubrel_pubcomp() {
    let broker = broker();
    let mut node = Sn::connect(sn::gateway(&broker), "q2", 60).await;
    let id = subscribe(&mut node, 1, "q/two", flag::QOS2).await;
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("q/two", QoS::ExactlyOnce, false, b"a").await;
    mqtt.publish("q/two", QoS::ExactlyOnce, false, b"b").await;
    for expected in [b"a", b"b"] {
        let (flags, topic, msg_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
        assert_eq!(
            (flags, topic, payload.as_slice()),
            (flag::QOS2, sn::id(id), &expected[..])
        );
        node.send(&sn::pubrec(msg_id)).await;
        node.expect(&sn::pubrel(msg_id)).await;
        node.send(&sn::pubcomp(msg_id)).await;
    }
    node.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn unsubscribe_stops_deliveries() {
    let broker = broker();
    let mut node = Sn::connect(sn::gateway(&broker), "uns", 60).await;
    subscribe(&mut node, 1, "u/t", 0).await;
    node.send(&sn::unsubscribe_name(2, "u/t")).await;
    node.expect(&[0x04, kind::UNSUBACK, 0x00, 0x02]).await;
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("u/t", QoS::AtLeastOnce, false, b"x").await;
    node.expect_nothing(QUIET).await;
}
