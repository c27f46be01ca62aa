//! Topic filters: `+` and `#`, `$` topics kept out of leading wildcards,
//! invalid filters refused per filter, overlapping subscriptions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::wire;
use common::{Broker, Connect, Props, Publish, QUIET, Raw, V4, hex};
use rumqttc::QoS;

async fn received_topics(sub: &mut V4) -> Vec<String> {
    let mut topics = Vec::new();
    while let Some(p) = sub.try_recv(QUIET).await {
        topics.push(p.topic);
    }
    topics.sort();
    topics
}

#[tokio::test(flavor = "multi_thread")]
async fn single_and_multi_level_wildcards() {
    let broker = Broker::start();
    let mut plus = V4::connect(broker.addr, "plus").await;
    plus.subscribe("w/+/c", QoS::AtMostOnce).await;
    let mut hash = V4::connect(broker.addr, "hash").await;
    hash.subscribe("h/#", QoS::AtMostOnce).await;
    let mut both = V4::connect(broker.addr, "both").await;
    both.subscribe("+/+/#", QoS::AtMostOnce).await;

    let mut publisher = V4::connect(broker.addr, "wpub").await;
    for topic in [
        "w/x/c", "w//c", "w/x/y/c", "w/c", "h", "h/x", "h/x/y", "hh/x", "a",
    ] {
        publisher
            .publish(topic, QoS::AtLeastOnce, false, b"m")
            .await;
    }
    assert_eq!(received_topics(&mut plus).await, ["w//c", "w/x/c"]);
    assert_eq!(
        received_topics(&mut hash).await,
        ["h", "h/x", "h/x/y"],
        "`h/#` also matches the parent level `h`"
    );
    assert_eq!(
        received_topics(&mut both).await,
        ["h/x", "h/x/y", "hh/x", "w//c", "w/c", "w/x/c", "w/x/y/c"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let broker = Broker::start();
    let mut all = V4::connect(broker.addr, "all").await;
    all.subscribe("#", QoS::AtMostOnce).await;
    let mut plus = V4::connect(broker.addr, "plus-x").await;
    plus.subscribe("+/x", QoS::AtMostOnce).await;
    let mut explicit = V4::connect(broker.addr, "explicit").await;
    explicit.subscribe("$test/#", QoS::AtMostOnce).await;

    let mut publisher = V4::connect(broker.addr, "dpub").await;
    publisher
        .publish("$test/x", QoS::AtLeastOnce, false, b"d")
        .await;
    publisher
        .publish("plain/x", QoS::AtLeastOnce, false, b"p")
        .await;

    assert_eq!(received_topics(&mut explicit).await, ["$test/x"]);
    assert_eq!(received_topics(&mut all).await, ["plain/x"]);
    assert_eq!(received_topics(&mut plus).await, ["plain/x"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_filters_are_refused_per_filter() {
    let broker = Broker::start();
    let (mut v311, _) = Raw::connect(broker.addr, &Connect::v311("badf")).await;
    v311.send(&wire::subscribe(1, &[("a/#/b", 0)])).await;
    v311.expect_bytes(&hex("90 03 00 01 80")).await;
    v311.send(&wire::subscribe(
        2,
        &[("ok/+", 1), ("a+", 0), ("#/x", 2), ("ok/#", 2)],
    ))
    .await;
    v311.expect_bytes(&hex("90 06 00 02 01 80 80 02")).await;

    let (mut v5, _) = Raw::connect(broker.addr, &Connect::v5("badf-5")).await;
    v5.send(&wire::subscribe_v5(
        3,
        Props::new(),
        &[("a/#/b", 0), ("ok5", 1)],
    ))
    .await;
    let suback = v5.recv().await;
    assert_eq!(suback.packet_id(), 3);
    assert_eq!(suback.sub_reasons(true), [0x8F, 0x01]);

    // The valid filters work.
    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v311("badf-pub")).await;
    publisher.send(&Publish::new("ok/1", b"x").bytes()).await;
    assert_eq!(v311.recv_publish().await.topic, "ok/1");
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_subscriptions_deliver_one_copy_at_the_highest_qos() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("overlap")).await;
    sub.send(&wire::subscribe(1, &[("ov/+", 0), ("ov/#", 2)]))
        .await;
    sub.expect_bytes(&hex("90 04 00 01 00 02")).await;

    let mut publisher = V4::connect(broker.addr, "ov-pub").await;
    publisher
        .publish("ov/t", QoS::ExactlyOnce, false, b"one")
        .await;
    let frame = sub.recv().await;
    assert_eq!(frame.first, 0x34, "QoS 2: {frame:?}");
    let publish = frame.publish(false);
    assert_eq!(publish.payload, b"one");
    sub.send(&wire::pubrec(publish.packet_id.unwrap())).await;
    sub.expect_bytes(&wire::pubrel(publish.packet_id.unwrap()))
        .await;
    sub.send(&wire::pubcomp(publish.packet_id.unwrap())).await;
    sub.expect_silence(QUIET).await;
}
