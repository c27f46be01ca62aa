//! Sleeping MQTT-SN nodes (MQTT-SN 1.2 §6.14): messages buffered while
//! asleep, delivered on wake before PINGRESP, lost nodes' wills, resuming
//! with CONNECT, persistent sessions across reconnects, the buffer's bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::sn::{self, Sn, flag, kind};
use common::{Broker, QUIET, V4};
use rumqttc::QoS;

fn broker() -> Broker {
    Broker::with(|s| {
        s.mqttsn.t_retry = Duration::from_secs(1);
        s.mqttsn.max_sleep_buffer = 10;
    })
}

/// Subscribes by name at QoS 1; returns the topic id.
async fn subscribe(node: &mut Sn, msg_id: u16, filter: &str) -> u16 {
    node.send(&sn::subscribe_name(flag::QOS1, msg_id, filter))
        .await;
    let (_, topic_id, _, rc) = node.recv_kind(kind::SUBACK).await.suback();
    assert_eq!(rc, 0);
    topic_id
}

/// Sends DISCONNECT(duration) and checks the gateway's DISCONNECT.
async fn sleep(node: &mut Sn, seconds: u16) {
    node.send(&sn::disconnect(Some(seconds))).await;
    node.expect(&[0x02, kind::DISCONNECT]).await;
}

/// Collects PUBLISHes until PINGRESP, acknowledging each QoS 1 one; returns the payloads.
async fn collect_until_pingresp(node: &mut Sn) -> Vec<Vec<u8>> {
    let mut payloads = Vec::new();
    loop {
        let got = node.recv_in().await;
        match got.kind {
            kind::PINGRESP => return payloads,
            kind::PUBLISH => {
                let (flags, topic, msg_id, payload) = got.publish();
                if flags & 0x60 == flag::QOS1 {
                    node.send(&sn::puback(topic, msg_id, 0)).await;
                }
                payloads.push(payload);
            }
            other => panic!("unexpected message type {other:#04x} while awake"),
        }
    }
}

/// The radio-to-browser shape: a sensor publishes to an MQTT dashboard, and
/// a command from the dashboard reaches the sensor when it next wakes.
#[tokio::test]
async fn sleeping_node_gets_buffered_messages_on_wake_then_pingresp() {
    let broker = broker();
    let mut dashboard = V4::connect(broker.addr, "dashboard").await;
    // The dashboard hears its own commands too: once it has one, the broker
    // has routed it to the sleeping node's buffer as well.
    dashboard.subscribe("sensor/#", QoS::AtLeastOnce).await;
    let mut node = Sn::connect(sn::gateway(&broker), "sensor-1", 30).await;
    let cmd = subscribe(&mut node, 1, "sensor/1/cmd").await;
    let temp = node.register(2, "sensor/1/temp").await;
    node.send(&sn::publish(flag::QOS1, sn::id(temp), 3, b"20.5"))
        .await;
    assert_eq!(node.recv_kind(kind::PUBACK).await.ack(), (temp, 3, 0));
    assert_eq!(&dashboard.recv().await.payload[..], b"20.5");

    sleep(&mut node, 60).await;
    dashboard
        .publish("sensor/1/cmd", QoS::AtLeastOnce, false, b"led on")
        .await;
    dashboard
        .publish("sensor/1/cmd", QoS::AtMostOnce, false, b"led off")
        .await;
    assert_eq!(dashboard.recv_n(2).await[1].payload.as_ref(), b"led off");
    node.expect_nothing(QUIET).await;

    node.send(&sn::pingreq(Some("sensor-1"))).await;
    let (flags, topic, msg_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(
        (flags, topic, payload.as_slice()),
        (flag::QOS1, sn::id(cmd), &b"led on"[..])
    );
    // PINGRESP only once the QoS 1 message is acknowledged and the rest sent.
    node.expect_nothing(Duration::from_millis(300)).await;
    node.send(&sn::puback(topic, msg_id, 0)).await;
    let (flags, _, _, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!((flags, payload.as_slice()), (0, &b"led off"[..]));
    node.expect(&[0x02, kind::PINGRESP]).await;

    // Back asleep: the next message waits for the next wake.
    dashboard
        .publish("sensor/1/cmd", QoS::AtLeastOnce, false, b"again")
        .await;
    assert_eq!(dashboard.recv().await.payload.as_ref(), b"again");
    node.expect_nothing(QUIET).await;
    node.send(&sn::pingreq(Some("sensor-1"))).await;
    assert_eq!(collect_until_pingresp(&mut node).await, [b"again".to_vec()]);
    // Nothing buffered: PINGRESP at once.
    node.send(&sn::pingreq(Some("sensor-1"))).await;
    node.expect(&[0x02, kind::PINGRESP]).await;
}

#[tokio::test]
async fn wildcard_subscription_and_sleep_register_then_publish_on_wake() {
    let broker = broker();
    let mut node = Sn::connect(sn::gateway(&broker), "wild-sleeper", 30).await;
    assert_eq!(subscribe(&mut node, 1, "cmd/#").await, 0);
    sleep(&mut node, 60).await;
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.subscribe("cmd/#", QoS::AtMostOnce).await;
    mqtt.publish("cmd/x", QoS::AtLeastOnce, false, b"go").await;
    // Routed (to the node's buffer too) once the publisher hears it back.
    mqtt.recv().await;
    node.send(&sn::pingreq(Some("wild-sleeper"))).await;
    let (topic_id, msg_id, name) = node.recv_kind(kind::REGISTER).await.register();
    assert_eq!(name, "cmd/x");
    node.send(&sn::regack(topic_id, msg_id, 0)).await;
    let (_, topic, pub_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!((topic, payload.as_slice()), (sn::id(topic_id), &b"go"[..]));
    node.send(&sn::puback(topic, pub_id, 0)).await;
    node.expect(&[0x02, kind::PINGRESP]).await;
}

#[tokio::test]
async fn node_silent_past_its_sleep_duration_is_lost_and_its_will_published() {
    let broker = broker();
    let mut watcher = V4::connect(broker.addr, "watch").await;
    watcher.subscribe("status/#", QoS::AtMostOnce).await;
    let mut node = Sn::open(sn::gateway(&broker)).await;
    node.send(&sn::connect(flag::CLEAN | flag::WILL, 30, "sleepy"))
        .await;
    node.expect(&[0x02, kind::WILLTOPICREQ]).await;
    node.send(&sn::will_topic(0, "status/sleepy")).await;
    node.expect(&[0x02, kind::WILLMSGREQ]).await;
    node.send(&sn::will_msg(b"lost")).await;
    node.expect(&[0x03, kind::CONNACK, 0x00]).await;
    sleep(&mut node, 1).await;
    // Not before the sleep duration (plus its half) has passed.
    watcher.expect_nothing(Duration::from_millis(1200)).await;
    assert_eq!(&watcher.recv().await.payload[..], b"lost");
    node.send(&sn::pingreq(Some("sleepy"))).await;
    node.expect(&[0x02, kind::DISCONNECT]).await;
}

#[tokio::test]
async fn waking_in_time_keeps_the_node_and_its_will_unsent() {
    let broker = broker();
    let mut watcher = V4::connect(broker.addr, "watch").await;
    watcher.subscribe("status/#", QoS::AtMostOnce).await;
    let mut node = Sn::open(sn::gateway(&broker)).await;
    node.send(&sn::connect(flag::CLEAN | flag::WILL, 30, "punctual"))
        .await;
    node.expect(&[0x02, kind::WILLTOPICREQ]).await;
    node.send(&sn::will_topic(0, "status/punctual")).await;
    node.expect(&[0x02, kind::WILLMSGREQ]).await;
    node.send(&sn::will_msg(b"lost")).await;
    node.expect(&[0x03, kind::CONNACK, 0x00]).await;
    sleep(&mut node, 1).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        node.send(&sn::pingreq(Some("punctual"))).await;
        node.expect(&[0x02, kind::PINGRESP]).await;
    }
    watcher.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn connect_while_asleep_resumes_and_delivers_what_was_buffered() {
    let broker = broker();
    let gateway = sn::gateway(&broker);
    let mut node = Sn::open(gateway).await;
    node.send(&sn::connect(0, 30, "resumer")).await;
    node.expect(&[0x03, kind::CONNACK, 0x00]).await;
    let id = subscribe(&mut node, 1, "r/t").await;
    sleep(&mut node, 60).await;
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("r/t", QoS::AtLeastOnce, false, b"while asleep")
        .await;
    node.send(&sn::connect(0, 30, "resumer")).await;
    node.expect(&[0x03, kind::CONNACK, 0x00]).await;
    let (_, topic, msg_id, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(
        (topic, payload.as_slice()),
        (sn::id(id), &b"while asleep"[..]),
        "same topic id"
    );
    node.send(&sn::puback(topic, msg_id, 0)).await;
    node.send(&sn::pingreq(None)).await;
    node.expect(&[0x02, kind::PINGRESP]).await;
}

#[tokio::test]
async fn persistent_session_keeps_subscriptions_and_topic_ids_across_reconnects() {
    let broker = broker();
    let gateway = sn::gateway(&broker);
    let mut node = Sn::open(gateway).await;
    node.send(&sn::connect(0, 30, "keeper")).await;
    node.expect(&[0x03, kind::CONNACK, 0x00]).await;
    let id = subscribe(&mut node, 1, "k/t").await;
    let own = node.register(2, "k/out").await;
    node.send(&sn::disconnect(None)).await;
    node.expect(&[0x02, kind::DISCONNECT]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("k/t", QoS::AtLeastOnce, false, b"queued")
        .await;

    // Back from another address (a rebooted node gets a new port).
    let mut again = Sn::open(gateway).await;
    again.send(&sn::connect(0, 30, "keeper")).await;
    again.expect(&[0x03, kind::CONNACK, 0x00]).await;
    let (_, topic, msg_id, payload) = again.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!((topic, payload.as_slice()), (sn::id(id), &b"queued"[..]));
    again.send(&sn::puback(topic, msg_id, 0)).await;
    let mut watcher = V4::connect(broker.addr, "watch").await;
    watcher.subscribe("k/out", QoS::AtMostOnce).await;
    again.send(&sn::publish(0, sn::id(own), 0, b"old id")).await;
    assert_eq!(&watcher.recv().await.payload[..], b"old id");

    // A clean CONNECT forgets all of it.
    again.send(&sn::disconnect(None)).await;
    again.expect(&[0x02, kind::DISCONNECT]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    again.send(&sn::connect(flag::CLEAN, 30, "keeper")).await;
    again.expect(&[0x03, kind::CONNACK, 0x00]).await;
    again
        .send(&sn::publish(flag::QOS1, sn::id(own), 9, b"x"))
        .await;
    assert_eq!(again.recv_kind(kind::PUBACK).await.ack().2, 0x02);
    mqtt.publish("k/t", QoS::AtLeastOnce, false, b"not for you")
        .await;
    again.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn sleep_buffer_is_bounded_and_drops_qos0_first() {
    let broker = Broker::with(|s| s.mqttsn.max_sleep_buffer = 3);
    let mut node = Sn::connect(sn::gateway(&broker), "bounded", 30).await;
    subscribe(&mut node, 1, "b/t").await;
    sleep(&mut node, 60).await;
    // Routed to the node's buffer and to this watcher in the same step: once
    // the watcher has the last message, the buffer has had all of them.
    let mut watcher = V4::connect(broker.addr, "watch").await;
    watcher.subscribe("b/t", QoS::AtMostOnce).await;
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    mqtt.publish("b/t", QoS::AtMostOnce, false, b"q0-a").await;
    mqtt.publish("b/t", QoS::AtMostOnce, false, b"q0-b").await;
    for payload in [&b"q1-a"[..], b"q1-b", b"q1-c", b"q1-d"] {
        mqtt.publish("b/t", QoS::AtLeastOnce, false, payload).await;
    }
    assert_eq!(watcher.recv_n(6).await[5].payload.as_ref(), b"q1-d");
    node.send(&sn::pingreq(Some("bounded"))).await;
    let got = collect_until_pingresp(&mut node).await;
    assert_eq!(got, [b"q1-a".to_vec(), b"q1-b".to_vec(), b"q1-c".to_vec()]);
}
