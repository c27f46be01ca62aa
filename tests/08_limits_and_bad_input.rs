//! Safety limits and hostile input: oversized packets, malformed packets,
//! invalid topics, too many connections. The offender is closed; everyone
//! else carries on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::wire::{self, PINGREQ, PINGRESP};
use common::{Broker, Connect, NoPacket, Props, Publish, Raw, V4, hex};
use rumqttc::QoS;

/// Asserts the broker still routes messages between fresh clients.
async fn still_serving(broker: &Broker, tag: &str) {
    let mut sub = V4::connect(broker.addr, &format!("{tag}-sub")).await;
    sub.subscribe("alive/t", QoS::AtLeastOnce).await;
    let mut publisher = V4::connect(broker.addr, &format!("{tag}-pub")).await;
    publisher
        .publish("alive/t", QoS::AtLeastOnce, false, tag.as_bytes())
        .await;
    assert_eq!(&sub.recv().await.payload[..], tag.as_bytes());
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_packet_is_disconnect_0x95_and_others_are_unaffected() {
    let broker = Broker::with(|s| s.limits.max_packet_size = 256);
    let mut bystander = V4::connect(broker.addr, "bystander").await;
    bystander.subscribe("big/#", QoS::AtLeastOnce).await;
    let mut publisher = V4::connect(broker.addr, "big-pub").await;

    let (mut v5, connack) = Raw::connect(broker.addr, &Connect::v5("big-5")).await;
    assert_eq!(
        connack.props.num(common::prop::MAXIMUM_PACKET_SIZE),
        Some(256)
    );
    v5.send(&Publish::new("big/t", &[b'x'; 300]).v5(Props::new()).bytes())
        .await;
    v5.expect_disconnect(0x95).await;

    let (mut v311, _) = Raw::connect(broker.addr, &Connect::v311("big-311")).await;
    v311.send_lossy(&Publish::new("big/t", &[b'x'; 300]).bytes())
        .await;
    v311.expect_closed_silently().await;

    // Exactly at the limit is fine: 1 + 2 (remaining length 253) + 2 + 5 + 246 = 256 bytes.
    let (mut fits, _) = Raw::connect(broker.addr, &Connect::v311("fits")).await;
    let at_limit = Publish::new("big/t", &[b'y'; 246]).bytes();
    assert_eq!(at_limit.len(), 256);
    fits.send(&at_limit).await;
    fits.send(&PINGREQ).await;
    fits.expect_bytes(&PINGRESP).await;
    assert_eq!(bystander.recv().await.payload.len(), 246);

    publisher
        .publish("big/t", QoS::AtLeastOnce, false, b"small")
        .await;
    assert_eq!(&bystander.recv().await.payload[..], b"small");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_packet_is_refused_before_it_is_all_sent() {
    let broker = Broker::with(|s| s.limits.max_packet_size = 1024);
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v5("liar")).await;
    // Announce 10 MB, send only the header: the server must not wait for the rest.
    let mut header = vec![0x30];
    wire::put_varint(&mut header, 10_000_000);
    raw.send(&header).await;
    raw.expect_disconnect(0x95).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_remaining_length_closes_the_connection() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("bad-len")).await;
    raw.send_lossy(&hex("30 ff ff ff ff ff")).await;
    raw.expect_closed_silently().await;

    // Before CONNECT too.
    let mut early = Raw::open(broker.addr).await;
    early.send_lossy(&hex("10 ff ff ff ff ff")).await;
    early.expect_closed_silently().await;

    let (mut v5, _) = Raw::connect(broker.addr, &Connect::v5("bad-len-5")).await;
    v5.send_lossy(&hex("30 ff ff ff ff ff")).await;
    v5.expect_disconnect(0x81).await;

    still_serving(&broker, "after-bad-len").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reserved_flags_close_the_connection() {
    let broker = Broker::start();
    // SUBSCRIBE must have flags 0b0010 [MQTT-3.8.1-1].
    let mut subscribe = wire::subscribe(1, &[("t", 0)]);
    subscribe[0] = 0x80;
    // PUBREL must have flags 0b0010 [MQTT-3.6.1-1].
    let pubrel = hex("60 02 00 01");
    // QoS 3 PUBLISH [MQTT-3.3.1-4].
    let mut qos3 = Publish::new("t", b"x").qos(1, 1).bytes();
    qos3[0] = 0x36;
    // Reserved packet type 0.
    let type0 = hex("00 00");
    // AUTH does not exist before 5.0.
    let auth = hex("f0 00");
    // Requested QoS 3, and reserved bits of the 3.1.1 options byte [MQTT-3-8.3-4].
    let sub_qos3 = wire::subscribe(1, &[("t", 3)]);
    let sub_reserved = wire::subscribe(1, &[("t", 0x04)]);
    let cases = [subscribe, pubrel, qos3, type0, auth, sub_qos3, sub_reserved];
    for (i, bad) in cases.iter().enumerate() {
        let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311(&format!("flags-{i}"))).await;
        raw.send_lossy(bad).await;
        raw.expect_closed_silently().await;
    }
    let mut reserved_connect_flag = Connect::v311("flag-connect").bytes();
    let flags_at = 2 + 2 + 4 + 1;
    reserved_connect_flag[flags_at] |= 0x01;
    let mut raw = Raw::open(broker.addr).await;
    raw.send_lossy(&reserved_connect_flag).await;
    raw.expect_closed_silently().await;

    still_serving(&broker, "after-flags").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_to_a_wildcard_topic_closes_the_connection() {
    let broker = Broker::start();
    let mut watcher = V4::connect(broker.addr, "wild-watch").await;
    watcher.subscribe("#", QoS::AtMostOnce).await;
    for (i, topic) in ["wild/+", "wild/#", "+"].iter().enumerate() {
        let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311(&format!("wild-{i}"))).await;
        raw.send_lossy(&Publish::new(topic, b"x").bytes()).await;
        raw.expect_closed_silently().await;
    }
    let (mut v5, _) = Raw::connect(broker.addr, &Connect::v5("wild-5")).await;
    v5.send(&Publish::new("wild/+", b"x").v5(Props::new()).bytes())
        .await;
    v5.expect_disconnect(0x90).await;
    watcher.expect_nothing(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_utf8_topic_closes_the_connection() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("utf8")).await;
    raw.send_lossy(&hex("30 05 00 02 c3 28 78")).await;
    raw.expect_closed_silently().await;
    still_serving(&broker, "after-utf8").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_max_connections_are_refused() {
    let broker = Broker::with(|s| s.limits.max_connections = 2);
    let (mut one, _) = Raw::connect(broker.addr, &Connect::v311("one")).await;
    let (_two, _) = Raw::connect(broker.addr, &Connect::v311("two")).await;

    let mut third = Raw::open(broker.addr).await;
    third.send_lossy(&Connect::v311("three").bytes()).await;
    third.expect_closed_silently().await;

    // Slots come back when connections end.
    one.send(&wire::DISCONNECT).await;
    one.expect_closed().await;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut again = Raw::open(broker.addr).await;
        again.send_lossy(&Connect::v311("three").bytes()).await;
        match again.try_recv(Duration::from_secs(1)).await {
            Ok(frame) => {
                assert_eq!(frame.bytes(), hex("20 02 00 00"));
                break;
            }
            Err(NoPacket::Closed) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(why) => panic!("no slot freed after a disconnect: {why:?}"),
        }
    }
}

/// STYLE.md "Backpressure": a subscriber whose queue overflows with QoS 1
/// messages is disconnected as a slow consumer (v5: DISCONNECT 0x97).
#[tokio::test(flavor = "multi_thread")]
async fn slow_consumer_is_disconnected_with_0x97() {
    let broker = Broker::with(|s| {
        s.limits.max_queued = 2;
        s.limits.max_inflight = 1;
    });
    let (mut slow, _) = Raw::connect(broker.addr, &Connect::v5("slow")).await;
    slow.send(&wire::subscribe_v5(1, Props::new(), &[("slow/t", 1)]))
        .await;
    assert_eq!(slow.recv().await.sub_reasons(true), [1]);
    let mut fast = V4::connect(broker.addr, "fast").await;
    fast.subscribe("slow/t", QoS::AtLeastOnce).await;

    let mut publisher = V4::connect(broker.addr, "slow-pub").await;
    let mut got = Vec::new();
    for i in 0..5u8 {
        publisher
            .publish("slow/t", QoS::AtLeastOnce, false, &[i])
            .await;
        // Paced by the fast subscriber, which has the same small limits and
        // must never fall behind; the slow one never acknowledges.
        got.extend(fast.recv_n(1).await.iter().map(|p| p.payload[0]));
    }
    // One in flight, two queued, the fourth does not fit.
    slow.expect_disconnect(0x97).await;
    assert_eq!(got, [0, 1, 2, 3, 4], "other subscribers are unaffected");
}

#[tokio::test(flavor = "multi_thread")]
async fn packet_id_0_closes_the_connection() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("pid0")).await;
    raw.send_lossy(&Publish::new("t", b"x").qos(1, 0).bytes())
        .await;
    raw.expect_closed_silently().await;
    let (mut v5, _) = Raw::connect(broker.addr, &Connect::v5("pid0-5")).await;
    v5.send(&wire::subscribe_v5(0, Props::new(), &[("t", 0)]))
        .await;
    v5.expect_disconnect(0x81).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_packets_a_client_must_not_send_are_protocol_errors() {
    let broker = Broker::start();
    let cases: [(&str, Vec<u8>); 4] = [
        ("AUTH without an authentication method", hex("f0 00")),
        ("CONNACK from a client", hex("20 03 00 00 00")),
        ("SUBACK from a client", hex("90 04 00 01 00 00")),
        (
            "empty topic without a topic alias",
            Publish::new("", b"x").v5(Props::new()).bytes(),
        ),
    ];
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let (mut raw, _) = Raw::connect(broker.addr, &Connect::v5(&format!("proto-{i}"))).await;
        raw.send(bytes).await;
        let before = raw.expect_closed().await;
        assert_eq!(
            before.last().map(|f| f.disconnect_reason()),
            Some(0x82),
            "{what}: {before:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn v311_empty_topic_closes_the_connection() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("empty-topic")).await;
    raw.send_lossy(&Publish::new("", b"x").bytes()).await;
    raw.expect_closed_silently().await;
}
