//! Retained messages: set, replace, clear; sent after the SUBACK with the
//! retain flag; MQTT 5 retain handling and retain-as-published.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::wire::{self, kind};
use common::{Broker, Connect, Props, Publish, QUIET, Raw, V4, hex};
use rumqttc::QoS;

#[tokio::test(flavor = "multi_thread")]
async fn retained_message_is_set_replaced_and_cleared() {
    let broker = Broker::start();
    let mut publisher = V4::connect(broker.addr, "ret-pub").await;
    publisher
        .publish("ret/a", QoS::AtLeastOnce, true, b"one")
        .await;
    publisher
        .publish("ret/a", QoS::AtLeastOnce, true, b"two")
        .await;

    let mut first = V4::connect(broker.addr, "ret-sub-1").await;
    first.subscribe("ret/#", QoS::AtLeastOnce).await;
    let got = first.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.retain),
        ("ret/a", &b"two"[..], true),
        "only the latest retained message, with the retain flag"
    );
    first.expect_nothing(QUIET).await;

    // A retained message published while subscribed is forwarded without the flag
    // (MQTT 3.1.1 §3.3.1.3).
    publisher
        .publish("ret/a", QoS::AtLeastOnce, true, b"three")
        .await;
    let live = first.recv().await;
    assert_eq!((&live.payload[..], live.retain), (&b"three"[..], false));

    // An empty retained payload clears it.
    publisher
        .publish("ret/a", QoS::AtLeastOnce, true, b"")
        .await;
    let clearing = first.recv().await;
    assert!(clearing.payload.is_empty());
    let mut second = V4::connect(broker.addr, "ret-sub-2").await;
    second.subscribe("ret/#", QoS::AtLeastOnce).await;
    second.expect_nothing(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retained_message_follows_the_suback_with_the_retain_flag() {
    let broker = Broker::start();
    let mut publisher = V4::connect(broker.addr, "order-pub").await;
    publisher
        .publish("order/t", QoS::AtLeastOnce, true, b"kept")
        .await;

    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("order-sub")).await;
    sub.send(&wire::subscribe(3, &[("order/+", 1)])).await;
    let first = sub.recv().await;
    assert_eq!(first.bytes(), hex("90 03 00 03 01"), "SUBACK comes first");
    let second = sub.recv().await;
    assert_eq!(
        second.first, 0x33,
        "QoS 1 PUBLISH with retain set: {second:?}"
    );
    let publish = second.publish(false);
    assert_eq!(
        (publish.topic.as_str(), publish.payload.as_slice()),
        ("order/t", &b"kept"[..])
    );
    sub.send(&wire::puback(publish.packet_id.unwrap())).await;
    sub.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retained_qos_is_capped_by_the_subscription() {
    let broker = Broker::start();
    let mut publisher = V4::connect(broker.addr, "cap-pub").await;
    publisher
        .publish("cap/t", QoS::ExactlyOnce, true, b"x")
        .await;
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("cap-sub")).await;
    sub.send(&wire::subscribe(1, &[("cap/t", 0)])).await;
    sub.expect_bytes(&hex("90 03 00 01 00")).await;
    let frame = sub.recv().await;
    assert_eq!(frame.first, 0x31, "QoS 0 with retain: {frame:?}");
}

/// Subscription options byte: QoS | retain-as-published 0x08 | retain handling << 4.
fn options(qos: u8, rap: bool, handling: u8) -> u8 {
    qos | if rap { 0x08 } else { 0 } | (handling << 4)
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_retain_handling_0_1_and_2() {
    let broker = Broker::start();
    let mut publisher = V4::connect(broker.addr, "rh-pub").await;
    publisher
        .publish("rh/t", QoS::AtLeastOnce, true, b"r")
        .await;

    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v5("rh-sub")).await;
    let subscribe = |id: u16, filter: &'static str, handling: u8| {
        wire::subscribe_v5(id, Props::new(), &[(filter, options(0, false, handling))])
    };

    // 1: only when the subscription is new.
    sub.send(&subscribe(1, "rh/t", 1)).await;
    assert_eq!(sub.recv().await.kind(), kind::SUBACK);
    assert_eq!(sub.recv_publish().await.payload, b"r");
    sub.send(&subscribe(2, "rh/t", 1)).await;
    assert_eq!(sub.recv().await.kind(), kind::SUBACK);
    sub.expect_silence(QUIET).await;

    // 0: at every subscribe, new or not.
    sub.send(&subscribe(3, "rh/t", 0)).await;
    assert_eq!(sub.recv().await.kind(), kind::SUBACK);
    assert!(sub.recv_publish().await.retain);
    sub.send(&subscribe(4, "rh/t", 0)).await;
    assert_eq!(sub.recv().await.kind(), kind::SUBACK);
    assert!(sub.recv_publish().await.retain);

    // 2: never, even for a new subscription.
    sub.send(&subscribe(5, "rh/+", 2)).await;
    assert_eq!(sub.recv().await.sub_reasons(true), [0x00]);
    sub.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_retain_as_published_keeps_the_flag_on_live_messages() {
    let broker = Broker::start();
    let (mut keeps, _) = Raw::connect(broker.addr, &Connect::v5("rap-1")).await;
    keeps
        .send(&wire::subscribe_v5(
            1,
            Props::new(),
            &[("rap/t", options(0, true, 2))],
        ))
        .await;
    assert_eq!(keeps.recv().await.sub_reasons(true), [0x00]);
    let (mut clears, _) = Raw::connect(broker.addr, &Connect::v5("rap-0")).await;
    clears
        .send(&wire::subscribe_v5(
            1,
            Props::new(),
            &[("rap/t", options(0, false, 2))],
        ))
        .await;
    assert_eq!(clears.recv().await.sub_reasons(true), [0x00]);

    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v5("rap-pub")).await;
    publisher
        .send(
            &Publish::new("rap/t", b"flagged")
                .retain()
                .v5(Props::new())
                .bytes(),
        )
        .await;
    publisher
        .send(&Publish::new("rap/t", b"plain").v5(Props::new()).bytes())
        .await;

    let a = keeps.recv_publish().await;
    let b = keeps.recv_publish().await;
    assert_eq!((a.payload.as_slice(), a.retain), (&b"flagged"[..], true));
    assert_eq!((b.payload.as_slice(), b.retain), (&b"plain"[..], false));
    let c = clears.recv_publish().await;
    assert_eq!((c.payload.as_slice(), c.retain), (&b"flagged"[..], false));
}

#[tokio::test(flavor = "multi_thread")]
async fn retained_messages_are_not_sent_for_shared_subscriptions() {
    let broker = Broker::start();
    let mut publisher = V4::connect(broker.addr, "sh-ret-pub").await;
    publisher
        .publish("shr/t", QoS::AtLeastOnce, true, b"r")
        .await;
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v5("sh-ret-sub")).await;
    sub.send(&wire::subscribe_v5(
        1,
        Props::new(),
        &[("$share/g/shr/t", 0)],
    ))
    .await;
    assert_eq!(sub.recv().await.sub_reasons(true), [0x00]);
    // MQTT 5.0 §4.8.2: retained messages are not sent to a shared subscription.
    sub.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retain_not_available_is_advertised_and_enforced() {
    let broker = Broker::with(|s| s.mqtt.retain_available = false);
    let (mut raw, connack) = Raw::connect(broker.addr, &Connect::v5("no-retain")).await;
    assert_eq!(connack.props.num(0x25), Some(0), "Retain Available = 0");
    raw.send(&Publish::new("nr/t", b"x").retain().v5(Props::new()).bytes())
        .await;
    raw.expect_disconnect(0x9A).await;

    let mut will = common::Will::new("nr/will", b"x", 0);
    will.retain = true;
    let (mut refused, connack) =
        Raw::connect_any(broker.addr, &Connect::v5("no-retain-will").will(will)).await;
    assert_eq!(connack.code, 0x9A);
    refused.expect_closed_silently().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_matching_retained_message_is_sent_once_per_subscribe() {
    let broker = Broker::start();
    let mut publisher = V4::connect(broker.addr, "many-pub").await;
    for topic in ["many/a", "many/b", "many/c/d", "other/a"] {
        publisher
            .publish(topic, QoS::AtLeastOnce, true, topic.as_bytes())
            .await;
    }
    let mut sub = V4::connect(broker.addr, "many-sub").await;
    sub.subscribe("many/#", QoS::AtMostOnce).await;
    let mut topics = Vec::new();
    while let Some(p) = sub.try_recv(QUIET).await {
        assert!(p.retain);
        topics.push(p.topic);
    }
    topics.sort();
    assert_eq!(topics, ["many/a", "many/b", "many/c/d"]);
    sub.subscribe("many/+", QoS::AtMostOnce).await;
    let mut topics = Vec::new();
    while let Some(p) = sub.try_recv(QUIET).await {
        topics.push(p.topic);
    }
    topics.sort();
    assert_eq!(topics, ["many/a", "many/b"]);
}
