//! Publish and subscribe at QoS 0, 1 and 2 in both directions: granted QoS,
//! acknowledgement flows on the wire, exactly-once delivery, packet id reuse
//! and the outgoing inflight window.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::wire;
use common::{Broker, Connect, Publish, QUIET, Raw, V4, V5, hex};

/// Every (publish QoS, subscription QoS) pair; the delivery QoS is the minimum.
#[tokio::test(flavor = "multi_thread")]
async fn v311_delivery_qos_is_the_minimum_of_publish_and_subscription() {
    use rumqttc::QoS;
    let broker = Broker::start();
    let mut sub = V4::connect(broker.addr, "q-sub").await;
    let levels = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    for (i, qos) in levels.iter().enumerate() {
        sub.subscribe(&format!("q/{i}"), *qos).await;
    }
    let mut publisher = V4::connect(broker.addr, "q-pub").await;
    let mut expected = Vec::new();
    for (s, _) in levels.iter().enumerate() {
        for (p, pub_qos) in levels.iter().enumerate() {
            let payload = format!("sub{s}-pub{p}");
            publisher
                .publish(&format!("q/{s}"), *pub_qos, false, payload.as_bytes())
                .await;
            expected.push((format!("q/{s}"), payload, s.min(p) as u8));
        }
    }
    let mut got: Vec<_> = sub
        .recv_n(expected.len())
        .await
        .into_iter()
        .map(|p| {
            (
                p.topic,
                String::from_utf8(p.payload.to_vec()).unwrap(),
                p.qos as u8,
            )
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    sub.expect_nothing(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_delivery_qos_is_the_minimum_of_publish_and_subscription() {
    use common::clients::v5::QoS;
    let broker = Broker::start();
    let mut sub = V5::connect(broker.addr, "q5-sub").await;
    let levels = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    for (i, qos) in levels.iter().enumerate() {
        sub.subscribe(&format!("q5/{i}"), *qos).await;
    }
    let mut publisher = V5::connect(broker.addr, "q5-pub").await;
    let mut expected = Vec::new();
    for (s, _) in levels.iter().enumerate() {
        for (p, pub_qos) in levels.iter().enumerate() {
            let payload = format!("sub{s}-pub{p}");
            publisher
                .publish(&format!("q5/{s}"), *pub_qos, false, payload.as_bytes())
                .await;
            expected.push((format!("q5/{s}"), payload, s.min(p) as u8));
        }
    }
    let mut got: Vec<_> = sub
        .recv_n(expected.len())
        .await
        .into_iter()
        .map(|p| {
            (
                String::from_utf8(p.topic.to_vec()).unwrap(),
                String::from_utf8(p.payload.to_vec()).unwrap(),
                p.qos as u8,
            )
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    sub.expect_nothing(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn qos2_messages_arrive_exactly_once() {
    use rumqttc::QoS;
    let broker = Broker::start();
    let mut sub = V4::connect(broker.addr, "eo-sub").await;
    sub.subscribe("eo/t", QoS::ExactlyOnce).await;
    let mut publisher = V4::connect(broker.addr, "eo-pub").await;
    for i in 0..10u8 {
        publisher
            .publish("eo/t", QoS::ExactlyOnce, false, &[i])
            .await;
    }
    let got: Vec<u8> = sub.recv_n(10).await.iter().map(|p| p.payload[0]).collect();
    assert_eq!(got, (0..10).collect::<Vec<u8>>(), "in order, once each");
    sub.expect_nothing(QUIET).await;
}

/// A QoS 2 PUBLISH retransmitted (DUP) before PUBREL must not be forwarded twice.
#[tokio::test(flavor = "multi_thread")]
async fn retransmitted_qos2_publish_is_forwarded_once() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("dup2-sub")).await;
    sub.send(&wire::subscribe(1, &[("dup2/t", 2)])).await;
    sub.expect_bytes(&hex("90 03 00 01 02")).await;

    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v311("dup2-pub")).await;
    let message = Publish::new("dup2/t", b"once").qos(2, 7);
    publisher.send(&message.bytes()).await;
    publisher.expect_bytes(&wire::pubrec(7)).await;
    publisher.send(&message.clone().dup().bytes()).await;
    publisher.expect_bytes(&wire::pubrec(7)).await;
    publisher.send(&wire::pubrel(7)).await;
    publisher.expect_bytes(&wire::pubcomp(7)).await;

    let got = sub.recv_publish_and_ack().await;
    assert_eq!(got.payload, b"once");
    sub.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn publisher_acknowledgements_on_the_wire() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("acks")).await;
    raw.send(&Publish::new("acks/t", b"1").qos(1, 1).bytes())
        .await;
    raw.expect_bytes(&hex("40 02 00 01")).await;
    raw.send(&Publish::new("acks/t", b"2").qos(2, 0x1234).bytes())
        .await;
    raw.expect_bytes(&hex("50 02 12 34")).await;
    raw.send(&hex("62 02 12 34")).await;
    raw.expect_bytes(&hex("70 02 12 34")).await;
    // QoS 0 is not acknowledged.
    raw.send(&Publish::new("acks/t", b"0").bytes()).await;
    raw.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriber_acknowledgements_on_the_wire() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("sacks")).await;
    sub.send(&wire::subscribe(9, &[("sacks/t", 2)])).await;
    sub.expect_bytes(&hex("90 03 00 09 02")).await;
    let mut publisher = V4::connect(broker.addr, "sacks-pub").await;

    publisher
        .publish("sacks/t", rumqttc::QoS::AtLeastOnce, false, b"q1")
        .await;
    let frame = sub.recv().await;
    assert_eq!(
        frame.first, 0x32,
        "QoS 1 PUBLISH, no DUP, no retain: {frame:?}"
    );
    let q1 = frame.publish(false);
    assert_eq!(
        (q1.topic.as_str(), q1.payload.as_slice()),
        ("sacks/t", &b"q1"[..])
    );
    sub.send(&wire::puback(q1.packet_id.unwrap())).await;

    publisher
        .publish("sacks/t", rumqttc::QoS::ExactlyOnce, false, b"q2")
        .await;
    let frame = sub.recv().await;
    assert_eq!(frame.first, 0x34, "QoS 2 PUBLISH: {frame:?}");
    let q2 = frame.publish(false);
    let id = q2.packet_id.unwrap();
    sub.send(&wire::pubrec(id)).await;
    sub.expect_bytes(&wire::pubrel(id)).await;
    sub.send(&wire::pubcomp(id)).await;
    sub.expect_silence(QUIET).await;

    publisher
        .publish("sacks/t", rumqttc::QoS::AtMostOnce, false, b"q0")
        .await;
    let frame = sub.recv().await;
    assert_eq!(frame.bytes(), hex("30 0b 00 07 73 61 63 6b 73 2f 74 71 30"));
}

/// A client may reuse a packet id once its exchange is complete.
#[tokio::test(flavor = "multi_thread")]
async fn packet_ids_are_reusable_after_acknowledgement() {
    let broker = Broker::start();
    let mut sub = V4::connect(broker.addr, "reuse-sub").await;
    sub.subscribe("reuse/#", rumqttc::QoS::ExactlyOnce).await;
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("reuse-pub")).await;

    for payload in [b"a1", b"a2"] {
        raw.send(&Publish::new("reuse/1", payload).qos(1, 5).bytes())
            .await;
        raw.expect_bytes(&wire::puback(5)).await;
    }
    for payload in [b"b1", b"b2"] {
        raw.send(&Publish::new("reuse/2", payload).qos(2, 5).bytes())
            .await;
        raw.expect_bytes(&wire::pubrec(5)).await;
        raw.send(&wire::pubrel(5)).await;
        raw.expect_bytes(&wire::pubcomp(5)).await;
    }
    let got: Vec<Vec<u8>> = sub
        .recv_n(4)
        .await
        .into_iter()
        .map(|p| p.payload.to_vec())
        .collect();
    assert_eq!(got, [b"a1", b"a2", b"b1", b"b2"]);
    sub.expect_nothing(QUIET).await;
}

/// The server never has more unacknowledged QoS 1 messages at a client than its window.
#[tokio::test(flavor = "multi_thread")]
async fn inflight_window_holds_back_messages_until_acknowledged() {
    let broker = Broker::with(|s| s.limits.max_inflight = 2);
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("win-sub")).await;
    sub.send(&wire::subscribe(1, &[("win/t", 1)])).await;
    sub.expect_bytes(&hex("90 03 00 01 01")).await;

    let mut publisher = V4::connect(broker.addr, "win-pub").await;
    for i in 0..4u8 {
        publisher
            .publish("win/t", rumqttc::QoS::AtLeastOnce, false, &[b'0' + i])
            .await;
    }
    let first = sub.recv_publish().await;
    let second = sub.recv_publish().await;
    assert_eq!(
        (first.payload.as_slice(), second.payload.as_slice()),
        (&b"0"[..], &b"1"[..])
    );
    sub.expect_silence(QUIET).await;

    sub.send(&wire::puback(first.packet_id.unwrap())).await;
    let third = sub.recv_publish().await;
    assert_eq!(third.payload, b"2");
    sub.expect_silence(QUIET).await;

    sub.send(&wire::puback(second.packet_id.unwrap())).await;
    sub.send(&wire::puback(third.packet_id.unwrap())).await;
    let fourth = sub.recv_publish().await;
    assert_eq!(fourth.payload, b"3");
    publisher
        .publish("win/t", rumqttc::QoS::AtLeastOnce, false, b"4")
        .await;
    assert_eq!(sub.recv_publish().await.payload, b"4");
    // The window is full again, but QoS 0 messages do not wait for it.
    publisher
        .publish("win/t", rumqttc::QoS::AtMostOnce, false, b"5")
        .await;
    let fifth = sub.recv_publish().await;
    assert_eq!((fifth.qos, fifth.payload.as_slice()), (0, &b"5"[..]));
}

#[tokio::test(flavor = "multi_thread")]
async fn unsubscribe_stops_delivery() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("unsub")).await;
    sub.send(&wire::subscribe(1, &[("unsub/t", 0)])).await;
    sub.expect_bytes(&hex("90 03 00 01 00")).await;
    sub.send(&wire::unsubscribe(2, false, &["unsub/t"])).await;
    sub.expect_bytes(&hex("b0 02 00 02")).await;
    let mut publisher = V4::connect(broker.addr, "unsub-pub").await;
    publisher
        .publish("unsub/t", rumqttc::QoS::AtLeastOnce, false, b"x")
        .await;
    sub.expect_silence(QUIET).await;
}

/// A burst larger than the session's write high-water mark must still be
/// delivered completely, with no later traffic to wake the session again.
#[tokio::test(flavor = "multi_thread")]
async fn burst_of_large_qos0_messages_is_delivered_completely() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("burst-sub")).await;
    sub.send(&wire::subscribe(1, &[("burst/t", 0)])).await;
    sub.expect_bytes(&hex("90 03 00 01 00")).await;

    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v311("burst-pub")).await;
    let mut burst = Vec::new();
    for i in 0..100u8 {
        let mut payload = vec![i; 10 * 1024];
        payload[0] = i;
        burst.extend(Publish::new("burst/t", &payload).bytes());
    }
    publisher.send(&burst).await;

    for i in 0..100u8 {
        match sub.try_recv(std::time::Duration::from_secs(2)).await {
            Ok(frame) => {
                let p = frame.publish(false);
                assert_eq!((p.payload[0], p.payload.len()), (i, 10 * 1024));
            }
            Err(why) => panic!("message {i} of 100 never arrived: {why:?}"),
        }
    }
}

/// One packet may span reads, and one read may hold many packets.
#[tokio::test(flavor = "multi_thread")]
async fn packets_split_across_writes_or_sharing_one_write_are_decoded() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("split-sub")).await;
    sub.send(&wire::subscribe(1, &[("split/#", 1)])).await;
    sub.expect_bytes(&hex("90 03 00 01 01")).await;

    let mut raw = Raw::open(broker.addr).await;
    let mut bytes = Connect::v311("split-pub").bytes();
    bytes.extend(Publish::new("split/a", b"one").qos(1, 1).bytes());
    for byte in bytes {
        raw.send(&[byte]).await;
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    raw.expect_bytes(&hex("20 02 00 00 40 02 00 01")).await;

    let mut together = Vec::new();
    for id in 2..=4u16 {
        together.extend(Publish::new("split/b", &[id as u8]).qos(1, id).bytes());
    }
    together.extend(wire::PINGREQ);
    raw.send(&together).await;
    raw.expect_bytes(&hex("40 02 00 02 40 02 00 03 40 02 00 04 d0 00"))
        .await;

    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(sub.recv_publish_and_ack().await.payload);
    }
    assert_eq!(got, [b"one".to_vec(), vec![2], vec![3], vec![4]]);
}

/// A QoS 2 message holds its window slot until PUBCOMP, not just PUBREC.
#[tokio::test(flavor = "multi_thread")]
async fn qos2_message_holds_its_window_slot_until_pubcomp() {
    let broker = Broker::with(|s| s.limits.max_inflight = 1);
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v311("slot-sub")).await;
    sub.send(&wire::subscribe(1, &[("slot/t", 2)])).await;
    sub.expect_bytes(&hex("90 03 00 01 02")).await;
    let mut publisher = V4::connect(broker.addr, "slot-pub").await;
    for payload in [b"a", b"b"] {
        publisher
            .publish("slot/t", rumqttc::QoS::ExactlyOnce, false, payload)
            .await;
    }
    let first = sub.recv_publish().await;
    assert_eq!(first.payload, b"a");
    let id = first.packet_id.unwrap();
    sub.send(&wire::pubrec(id)).await;
    sub.expect_bytes(&wire::pubrel(id)).await;
    sub.expect_silence(QUIET).await;
    sub.send(&wire::pubcomp(id)).await;
    assert_eq!(sub.recv_publish().await.payload, b"b");
}
