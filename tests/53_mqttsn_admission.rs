//! MQTT-SN admission: the `[mqttsn.clients]` allow-list (client id and
//! address), the ACL applied to SN clients under their client id, and QoS −1
//! publishers judged by their address.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::sn::{self, Sn, flag, kind};
use common::{Broker, QUIET, V4};
use rumqttc::QoS;
use wren::settings::ExpectedAddr;

fn broker(clients: &[(&str, ExpectedAddr)], acl: Option<&tempfile::NamedTempFile>) -> Broker {
    Broker::with(|s| {
        s.mqttsn.t_retry = Duration::from_secs(1);
        s.mqttsn.clients = clients.iter().map(|(id, a)| (id.to_string(), *a)).collect();
        s.auth.acl_file = acl.map(|f| f.path().to_owned());
    })
}

const LOOPBACK: ExpectedAddr =
    ExpectedAddr::Host(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

#[tokio::test]
async fn the_allow_list_checks_client_id_and_address() {
    // Port 1 is never a test socket's source port.
    let elsewhere = ExpectedAddr::Socket("127.0.0.1:1".parse().unwrap());
    let broker = broker(&[("kitchen", LOOPBACK), ("garage", elsewhere)], None);
    let gateway = sn::gateway(&broker);
    Sn::connect(gateway, "kitchen", 60).await;
    for stranger in ["garage", "hall"] {
        let mut node = Sn::open(gateway).await;
        node.send(&sn::connect(flag::CLEAN, 60, stranger)).await;
        node.expect(&[0x03, kind::CONNACK, 0x03]).await;
        // Refused means not connected: anything else gets DISCONNECT.
        node.send(&sn::pingreq(None)).await;
        node.expect(&[0x02, kind::DISCONNECT]).await;
    }
}

#[tokio::test]
async fn the_acl_applies_to_sn_clients_by_client_id() {
    let acl = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        acl.path(),
        "topic read sensors/#\nclient kitchen\ntopic write sensors/kitchen/#\ntopic read cmd/kitchen\n",
    )
    .unwrap();
    let broker = broker(&[], Some(&acl));
    let mut watcher = V4::connect(broker.addr, "watcher").await;
    watcher.subscribe("sensors/#", QoS::AtMostOnce).await;
    let mut node = Sn::connect(sn::gateway(&broker), "kitchen", 60).await;

    node.send(&sn::subscribe_name(flag::NORMAL, 1, "cmd/garage"))
        .await;
    assert_eq!(node.recv_kind(kind::SUBACK).await.suback().3, 0x03);
    node.send(&sn::subscribe_name(flag::NORMAL, 2, "cmd/kitchen"))
        .await;
    assert_eq!(node.recv_kind(kind::SUBACK).await.suback().3, 0x00);

    let hall = node.register(3, "sensors/hall/t").await;
    node.send(&sn::publish(flag::QOS1, sn::id(hall), 4, b"no"))
        .await;
    assert_eq!(
        node.recv_kind(kind::PUBACK).await.ack().2,
        0x00,
        "acknowledged, dropped"
    );
    let own = node.register(5, "sensors/kitchen/t").await;
    node.send(&sn::publish(flag::QOS1, sn::id(own), 6, b"yes"))
        .await;
    assert_eq!(node.recv_kind(kind::PUBACK).await.ack().2, 0x00);
    let got = watcher.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("sensors/kitchen/t", &b"yes"[..])
    );
    watcher.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn qos_minus_one_is_taken_only_from_listed_addresses() {
    let elsewhere = ExpectedAddr::Socket("127.0.0.1:1".parse().unwrap());
    let listed_elsewhere = broker(&[("kitchen", elsewhere)], None);
    let listed_here = broker(&[("kitchen", LOOPBACK)], None);
    for (broker, expected) in [(&listed_elsewhere, false), (&listed_here, true)] {
        let mut watcher = V4::connect(broker.addr, "watcher").await;
        watcher.subscribe("#", QoS::AtMostOnce).await;
        let node = Sn::open(sn::gateway(broker)).await;
        node.send(&sn::publish(
            flag::QOS_MINUS_ONE | flag::SHORT,
            *b"zz",
            0,
            b"m",
        ))
        .await;
        if expected {
            assert_eq!(watcher.recv().await.topic, "zz");
        } else {
            watcher.expect_nothing(QUIET).await;
        }
    }
}
