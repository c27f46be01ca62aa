//! MQTT-SN over real UDP: CONNECT and the will flow, strangers, discovery,
//! forwarder encapsulation, limits and bad datagrams.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::sn::{self, Sn, flag, kind};
use common::{Broker, QUIET, V4};
use rumqttc::QoS;

/// A broker with quick MQTT-SN timers, so the tests stay fast.
fn broker() -> Broker {
    Broker::with(|s| {
        s.mqttsn.t_retry = Duration::from_secs(1);
        s.mqttsn.n_retry = 2;
    })
}

#[tokio::test]
async fn connect_is_accepted_and_disconnect_is_answered() {
    let broker = broker();
    let mut node = Sn::connect(sn::gateway(&broker), "node-1", 60).await;
    node.send(&sn::pingreq(None)).await;
    node.expect(&[0x02, kind::PINGRESP]).await;
    node.send(&sn::disconnect(None)).await;
    node.expect(&[0x02, kind::DISCONNECT]).await;
    // Gone: the next message from it is answered with DISCONNECT.
    node.send(&sn::pingreq(None)).await;
    node.expect(&[0x02, kind::DISCONNECT]).await;
}

#[tokio::test]
async fn messages_before_connect_get_disconnect() {
    let broker = broker();
    let mut node = Sn::open(sn::gateway(&broker)).await;
    node.send(&sn::register(0, 1, "a/b")).await;
    node.expect(&[0x02, kind::DISCONNECT]).await;
    node.send(&sn::publish(flag::QOS1, sn::id(1), 1, b"x"))
        .await;
    node.expect(&[0x02, kind::DISCONNECT]).await;
}

#[tokio::test]
async fn will_flow_then_will_published_when_the_node_is_lost() {
    let broker = broker();
    let mut watcher = V4::connect(broker.addr, "watcher").await;
    watcher.subscribe("nodes/+/status", QoS::AtLeastOnce).await;

    let mut node = Sn::open(sn::gateway(&broker)).await;
    node.send(&sn::connect(flag::CLEAN | flag::WILL, 1, "will-node"))
        .await;
    node.expect(&[0x02, kind::WILLTOPICREQ]).await;
    node.send(&sn::will_topic(flag::QOS1, "nodes/will-node/status"))
        .await;
    node.expect(&[0x02, kind::WILLMSGREQ]).await;
    node.send(&sn::will_msg(b"offline")).await;
    node.expect(&[0x03, kind::CONNACK, 0x00]).await;
    watcher.expect_nothing(Duration::from_millis(500)).await;

    // Silent past 1.5 × 1 s: lost, and the will goes out.
    let will = watcher.recv().await;
    assert_eq!(will.topic, "nodes/will-node/status");
    assert_eq!(&will.payload[..], b"offline");
    assert_eq!(will.qos, QoS::AtLeastOnce);
}

#[tokio::test]
async fn clean_disconnect_discards_the_will() {
    let broker = broker();
    let mut watcher = V4::connect(broker.addr, "watcher").await;
    watcher.subscribe("w/#", QoS::AtMostOnce).await;
    let mut node = Sn::open(sn::gateway(&broker)).await;
    node.send(&sn::connect(flag::CLEAN | flag::WILL, 1, "n"))
        .await;
    node.expect(&[0x02, kind::WILLTOPICREQ]).await;
    node.send(&sn::will_topic(0, "w/n")).await;
    node.expect(&[0x02, kind::WILLMSGREQ]).await;
    node.send(&sn::will_msg(b"gone")).await;
    node.expect(&[0x03, kind::CONNACK, 0x00]).await;
    node.send(&sn::disconnect(None)).await;
    node.expect(&[0x02, kind::DISCONNECT]).await;
    watcher.expect_nothing(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn will_topic_and_message_updates_change_the_will() {
    let broker = broker();
    let mut watcher = V4::connect(broker.addr, "watcher").await;
    watcher.subscribe("w/#", QoS::AtMostOnce).await;
    let mut node = Sn::connect(sn::gateway(&broker), "upd", 1).await;
    node.send(&sn::will_topic_upd(0, "w/updated")).await;
    node.expect(&[0x03, kind::WILLTOPICRESP, 0x00]).await;
    node.send(&sn::will_msg_upd(b"bye")).await;
    node.expect(&[0x03, kind::WILLMSGRESP, 0x00]).await;
    let will = watcher.recv().await;
    assert_eq!(
        (will.topic.as_str(), &will.payload[..]),
        ("w/updated", &b"bye"[..])
    );
}

#[tokio::test]
async fn searchgw_is_answered_with_gwinfo_and_a_flood_is_rate_limited() {
    let broker = Broker::with(|s| s.mqttsn.gateway_id = 42);
    let mut node = Sn::open(sn::gateway(&broker)).await;
    node.send(&sn::searchgw(1)).await;
    node.expect(&[0x03, kind::GWINFO, 42]).await;
    for _ in 0..200 {
        node.send(&sn::searchgw(1)).await;
    }
    let mut answers = 0;
    while node.try_recv(Duration::from_millis(300)).await.is_some() {
        answers += 1;
    }
    assert!(
        (1..=40).contains(&answers),
        "200 SEARCHGW got {answers} GWINFO"
    );
}

#[tokio::test]
async fn advertise_goes_to_the_configured_address() {
    let listener = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let _broker = Broker::with(|s| {
        s.mqttsn.gateway_id = 9;
        s.mqttsn.advertise_interval = 1;
        s.mqttsn.multicast = Some(target);
    });
    let mut buf = [0u8; 64];
    for _ in 0..2 {
        let (n, _) = tokio::time::timeout(Duration::from_secs(3), listener.recv_from(&mut buf))
            .await
            .expect("no ADVERTISE")
            .unwrap();
        assert_eq!(&buf[..n], &[0x05, kind::ADVERTISE, 9, 0x00, 0x01]);
    }
}

#[tokio::test]
async fn forwarder_encapsulated_nodes_are_clients_of_their_own() {
    let broker = broker();
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("fw/#", QoS::AtMostOnce).await;
    // One forwarder socket; the node id says which wireless node speaks.
    let mut forwarder = Sn::open(sn::gateway(&broker)).await;
    let (node_a, node_b) = (vec![0x00, 0x13, 0xA2, 0x00], vec![0x07]);
    forwarder.node = Some(node_a.clone());
    forwarder
        .send(&sn::connect(flag::CLEAN, 60, "behind-fw-a"))
        .await;
    forwarder.expect(&[0x03, kind::CONNACK, 0x00]).await;
    let id = forwarder.register(1, "fw/a").await;
    forwarder
        .send(&sn::publish(0, sn::id(id), 0, b"from a"))
        .await;
    let got = mqtt.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("fw/a", &b"from a"[..])
    );

    // Node b behind the same forwarder is another client: not connected yet,
    // and, once connected, it knows none of a's topic ids.
    forwarder.node = Some(node_b);
    forwarder.send(&sn::pingreq(None)).await;
    forwarder.expect(&[0x02, kind::DISCONNECT]).await;
    forwarder
        .send(&sn::connect(flag::CLEAN, 60, "behind-fw-b"))
        .await;
    forwarder.expect(&[0x03, kind::CONNACK, 0x00]).await;
    forwarder
        .send(&sn::publish(flag::QOS1, sn::id(id), 5, b"x"))
        .await;
    let (_, msg_id, rc) = forwarder.recv_kind(kind::PUBACK).await.ack();
    assert_eq!((msg_id, rc), (5, 0x02));

    // A plain (unwrapped) message from the forwarder's own address is yet another client.
    forwarder.node = None;
    forwarder.send(&sn::pingreq(None)).await;
    forwarder.expect(&[0x02, kind::DISCONNECT]).await;
    forwarder.node = Some(node_a);
    forwarder.send(&sn::pingreq(None)).await;
    forwarder.expect(&[0x02, kind::PINGRESP]).await;
}

#[tokio::test]
async fn garbage_datagrams_do_not_hurt_other_clients() {
    let broker = broker();
    let gateway = sn::gateway(&broker);
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("g/#", QoS::AtMostOnce).await;
    let mut good = Sn::connect(gateway, "good", 60).await;
    let id = good.register(1, "g/t").await;
    let mut bad = Sn::connect(gateway, "bad", 60).await;
    let garbage: [&[u8]; 8] = [
        &[],
        &[0x05],
        &[0x03, 0x05],
        &[0x02, 0x03],
        &[0x04, kind::PUBLISH, 0x00, 0x00],
        &[0x01, 0x00],
        &[0x09, 0xFE, 0x00, 0x01],
        &[0xFF; 300],
    ];
    for datagram in garbage {
        bad.send_raw(datagram).await;
        good.send_raw(datagram).await;
    }
    let big = vec![0u8; 65_000];
    bad.send_raw(&big).await;
    bad.expect_nothing(QUIET).await;
    good.send(&sn::publish(0, sn::id(id), 0, b"still here"))
        .await;
    assert_eq!(&mqtt.recv().await.payload[..], b"still here");
    bad.send(&sn::pingreq(None)).await;
    bad.expect(&[0x02, kind::PINGRESP]).await;
}

#[tokio::test]
async fn max_clients_refuses_with_congestion() {
    let broker = Broker::with(|s| s.mqttsn.max_clients = 1);
    let gateway = sn::gateway(&broker);
    let mut first = Sn::connect(gateway, "first", 60).await;
    let mut second = Sn::open(gateway).await;
    second.send(&sn::connect(flag::CLEAN, 60, "second")).await;
    second.expect(&[0x03, kind::CONNACK, 0x01]).await;
    first.send(&sn::disconnect(None)).await;
    first.expect(&[0x02, kind::DISCONNECT]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    second.send(&sn::connect(flag::CLEAN, 60, "second")).await;
    second.expect(&[0x03, kind::CONNACK, 0x00]).await;
}

#[tokio::test]
async fn long_messages_use_the_three_octet_length() {
    let broker = broker();
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("big", QoS::AtMostOnce).await;
    let mut node = Sn::connect(sn::gateway(&broker), "big-node", 60).await;
    let id = node.register(1, "big").await;
    let payload = vec![0xAB; 600];
    let datagram = sn::publish(0, sn::id(id), 0, &payload);
    assert_eq!(datagram[0], 0x01, "3-octet form");
    node.send(&datagram).await;
    assert_eq!(mqtt.recv().await.payload.len(), 600);
}

#[tokio::test]
async fn ipv4_and_ipv6_sockets_on_the_same_port_serve_side_by_side() {
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let broker = Broker::with(|s| {
        s.mqttsn.udp = vec![
            format!("127.0.0.1:{port}").parse().unwrap(),
            format!("[::1]:{port}").parse().unwrap(),
        ];
    });
    let addrs = broker.server.as_ref().unwrap().addrs().mqttsn_udp.clone();
    assert_eq!(addrs.len(), 2);
    for gateway in addrs {
        let socket = if gateway.is_ipv6() {
            tokio::net::UdpSocket::bind("[::1]:0").await.unwrap()
        } else {
            tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap()
        };
        let mut node = Sn {
            socket,
            gateway,
            node: None,
        };
        node.send(&sn::connect(
            flag::CLEAN,
            60,
            &format!("n-{}", gateway.is_ipv6()),
        ))
        .await;
        node.expect(&[0x03, kind::CONNACK, 0x00]).await;
    }
}
