//! MQTT-SN PUBLISH from a node to MQTT subscribers: REGISTER, QoS −1, 0, 1
//! and 2, predefined and short topics, unknown topic ids.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::sn::{self, Sn, flag, kind};
use common::{Broker, V4};
use rumqttc::QoS;

fn broker() -> Broker {
    Broker::with(|s| {
        s.mqttsn.t_retry = Duration::from_secs(1);
        s.mqttsn
            .predefined_topics
            .insert(7, "home/predefined".into());
        // This node's firmware calls its garage sensor 7.
        s.mqttsn.client_predefined_topics.insert(
            "garage-node".into(),
            [(7, "garage/temp".to_owned())].into_iter().collect(),
        );
    })
}

#[tokio::test]
async fn register_then_publish_qos0_qos1_qos2_reaches_an_mqtt_subscriber() {
    let broker = broker();
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("home/#", QoS::ExactlyOnce).await;
    let mut node = Sn::connect(sn::gateway(&broker), "pub-node", 60).await;
    let id = node.register(1, "home/hall/temp").await;
    assert_ne!(id, 0);
    assert_eq!(
        node.register(2, "home/hall/temp").await,
        id,
        "same name, same id"
    );

    node.send(&sn::publish(0, sn::id(id), 0, b"q0")).await;
    let got = mqtt.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.qos),
        ("home/hall/temp", &b"q0"[..], QoS::AtMostOnce)
    );

    node.send(&sn::publish(
        flag::QOS1 | flag::RETAIN,
        sn::id(id),
        3,
        b"q1",
    ))
    .await;
    let (topic_id, msg_id, rc) = node.recv_kind(kind::PUBACK).await.ack();
    assert_eq!((topic_id, msg_id, rc), (id, 3, 0));
    let got = mqtt.recv().await;
    assert_eq!((&got.payload[..], got.qos), (&b"q1"[..], QoS::AtLeastOnce));

    node.send(&sn::publish(flag::QOS2, sn::id(id), 4, b"q2"))
        .await;
    node.expect(&sn::pubrec(4)).await;
    // A resend before PUBREL is acknowledged again but forwarded once.
    node.send(&sn::publish(flag::QOS2 | flag::DUP, sn::id(id), 4, b"q2"))
        .await;
    node.expect(&sn::pubrec(4)).await;
    node.send(&sn::pubrel(4)).await;
    node.expect(&sn::pubcomp(4)).await;
    let got = mqtt.recv().await;
    assert_eq!((&got.payload[..], got.qos), (&b"q2"[..], QoS::ExactlyOnce));
    mqtt.expect_nothing(Duration::from_millis(300)).await;

    // The retained QoS 1 message is kept for later MQTT subscribers.
    let mut late = V4::connect(broker.addr, "late").await;
    late.subscribe("home/hall/temp", QoS::AtLeastOnce).await;
    let got = late.recv().await;
    assert!(got.retain);
    assert_eq!(&got.payload[..], b"q1");
}

#[tokio::test]
async fn predefined_and_short_topics_need_no_register() {
    let broker = broker();
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("#", QoS::AtLeastOnce).await;
    let mut node = Sn::connect(sn::gateway(&broker), "p", 60).await;
    node.send(&sn::publish(
        flag::QOS1 | flag::PREDEFINED,
        sn::id(7),
        1,
        b"pre",
    ))
    .await;
    assert_eq!(node.recv_kind(kind::PUBACK).await.ack(), (7, 1, 0));
    let got = mqtt.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("home/predefined", &b"pre"[..])
    );
    node.send(&sn::publish(flag::QOS1 | flag::SHORT, *b"ab", 2, b"short"))
        .await;
    // PUBACK echoes the short name's two octets in order (Paho swaps them).
    node.expect(&sn::puback(*b"ab", 2, 0)).await;
    let got = mqtt.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("ab", &b"short"[..])
    );
}

#[tokio::test]
async fn a_client_with_its_own_predefined_ids_uses_them_both_ways() {
    let broker = broker();
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("#", QoS::AtLeastOnce).await;
    let mut garage = Sn::connect(sn::gateway(&broker), "garage-node", 60).await;
    garage
        .send(&sn::publish(
            flag::QOS1 | flag::PREDEFINED,
            sn::id(7),
            1,
            b"12.5",
        ))
        .await;
    assert_eq!(garage.recv_kind(kind::PUBACK).await.ack(), (7, 1, 0));
    let got = mqtt.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("garage/temp", &b"12.5"[..])
    );
    // The other way: an MQTT publish reaches it under its own id, no REGISTER.
    garage
        .send(&sn::subscribe_id(flag::PREDEFINED, 2, sn::id(7)))
        .await;
    assert_eq!(garage.recv_kind(kind::SUBACK).await.suback().3, 0);
    mqtt.publish("garage/temp", QoS::AtMostOnce, false, b"13.0")
        .await;
    let (flags, topic, _, payload) = garage.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!(
        (flags & 0b11, topic, &payload[..]),
        (flag::PREDEFINED, sn::id(7), &b"13.0"[..])
    );
    assert_eq!(mqtt.recv().await.payload, "13.0", "its own publish, on #");
    // Every other node keeps the shared meaning of 7.
    let mut other = Sn::connect(sn::gateway(&broker), "hall-node", 60).await;
    other
        .send(&sn::publish(
            flag::QOS1 | flag::PREDEFINED,
            sn::id(7),
            1,
            b"x",
        ))
        .await;
    assert_eq!(other.recv_kind(kind::PUBACK).await.ack(), (7, 1, 0));
    let got = mqtt.recv().await;
    assert_eq!(got.topic.as_str(), "home/predefined");
}

#[tokio::test]
async fn unknown_topic_ids_are_refused_with_puback_0x02() {
    let broker = broker();
    let mut node = Sn::connect(sn::gateway(&broker), "u", 60).await;
    node.send(&sn::publish(flag::QOS1, sn::id(77), 9, b"x"))
        .await;
    node.expect(&sn::puback(sn::id(77), 9, 0x02)).await;
    node.send(&sn::publish(0, sn::id(78), 0, b"x")).await;
    node.expect(&sn::puback(sn::id(78), 0, 0x02)).await;
    node.send(&sn::publish(
        flag::QOS1 | flag::PREDEFINED,
        sn::id(8),
        10,
        b"x",
    ))
    .await;
    node.expect(&sn::puback(sn::id(8), 10, 0x02)).await;
    // A wildcard cannot be registered for publishing.
    node.send(&sn::register(0, 11, "a/+")).await;
    assert_eq!(node.recv_kind(kind::REGACK).await.ack(), (0, 11, 0x02));
}

#[tokio::test]
async fn qos_minus_one_from_a_node_that_never_connected() {
    let broker = broker();
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("#", QoS::AtMostOnce).await;
    let mut node = Sn::open(sn::gateway(&broker)).await;
    let minus_one = flag::QOS_MINUS_ONE;
    node.send(&sn::publish(
        minus_one | flag::PREDEFINED,
        sn::id(7),
        0,
        b"m1",
    ))
    .await;
    let got = mqtt.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.qos),
        ("home/predefined", &b"m1"[..], QoS::AtMostOnce)
    );
    node.send(&sn::publish(minus_one | flag::SHORT, *b"zz", 0, b"m2"))
        .await;
    let got = mqtt.recv().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("zz", &b"m2"[..]));
    // Normal ids and unknown predefined ids mean nothing without a connection.
    node.send(&sn::publish(minus_one, sn::id(1), 0, b"no"))
        .await;
    node.send(&sn::publish(
        minus_one | flag::PREDEFINED,
        sn::id(9),
        0,
        b"no",
    ))
    .await;
    mqtt.expect_nothing(Duration::from_millis(300)).await;
    node.expect_nothing(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn qos_minus_one_can_be_turned_off() {
    let broker = Broker::with(|s| {
        s.mqttsn.allow_qos_minus_one = false;
        s.mqttsn.predefined_topics.insert(7, "t".into());
    });
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("#", QoS::AtMostOnce).await;
    let node = Sn::open(sn::gateway(&broker)).await;
    node.send(&sn::publish(
        flag::QOS_MINUS_ONE | flag::PREDEFINED,
        sn::id(7),
        0,
        b"x",
    ))
    .await;
    mqtt.expect_nothing(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn several_nodes_publish_in_order() {
    let broker = broker();
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("n/+", QoS::AtLeastOnce).await;
    let gateway = sn::gateway(&broker);
    let mut nodes = Vec::new();
    for i in 0..5 {
        let mut node = Sn::connect(gateway, &format!("node-{i}"), 60).await;
        let id = node.register(1, &format!("n/{i}")).await;
        nodes.push((node, id));
    }
    for seq in 0..10u16 {
        for (node, id) in &mut nodes {
            node.send(&sn::publish(
                flag::QOS1,
                sn::id(*id),
                seq + 1,
                &seq.to_be_bytes(),
            ))
            .await;
            assert_eq!(node.recv_kind(kind::PUBACK).await.ack().2, 0);
        }
    }
    let mut last = std::collections::HashMap::new();
    for _ in 0..50 {
        let got = mqtt.recv().await;
        let seq = u16::from_be_bytes([got.payload[0], got.payload[1]]);
        let previous = last.insert(got.topic.clone(), seq);
        assert_eq!(previous.map_or(0, |p| p + 1), seq, "order on {}", got.topic);
    }
}
