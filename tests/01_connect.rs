//! CONNECT and CONNACK: protocol versions on one listener, refusals, the
//! first-packet and second-CONNECT rules, client identifiers, connect timeout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::wire::{Frame, PINGREQ, PINGRESP, kind};
use common::{Broker, Connect, Props, Raw, V4, V5, assert_between, hex, prop};

#[tokio::test(flavor = "multi_thread")]
async fn v31_v311_and_v5_connect_on_the_same_listener() {
    let broker = Broker::start();

    let mut v31 = Raw::open(broker.addr).await;
    v31.send(&Connect::v31("c-31").bytes()).await;
    v31.expect_bytes(&hex("20 02 00 00")).await;

    let mut v311 = Raw::open(broker.addr).await;
    v311.send(&Connect::v311("c-311").bytes()).await;
    v311.expect_bytes(&hex("20 02 00 00")).await;

    let (mut v5, connack) = Raw::connect(broker.addr, &Connect::v5("c-5")).await;
    assert!(!connack.session_present);
    assert!(
        connack.props.num(prop::MAXIMUM_PACKET_SIZE).is_some(),
        "v5 CONNACK advertises the maximum packet size: {connack:?}"
    );

    // All three stay usable at the same time.
    for raw in [&mut v31, &mut v311, &mut v5] {
        raw.send(&PINGREQ).await;
        raw.expect_bytes(&PINGRESP).await;
    }

    // And real client libraries agree.
    let _a = V4::connect(broker.addr, "lib-311").await;
    let _b = V5::connect(broker.addr, "lib-5").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v31_connected_client_can_subscribe_and_receive() {
    let broker = Broker::start();
    let mut sub = Raw::open(broker.addr).await;
    sub.send(&Connect::v31("old-sub").bytes()).await;
    sub.expect_bytes(&hex("20 02 00 00")).await;
    sub.send(&common::wire::subscribe(1, &[("old/t", 1)])).await;
    sub.expect_bytes(&hex("90 03 00 01 01")).await;

    let mut publisher = V4::connect(broker.addr, "new-pub").await;
    publisher
        .publish("old/t", rumqttc::QoS::AtLeastOnce, false, b"hi")
        .await;
    let got = sub.recv_publish_and_ack().await;
    assert_eq!(
        (got.topic.as_str(), got.payload.as_slice()),
        ("old/t", &b"hi"[..])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_protocol_level_gets_connack_1_then_close() {
    let broker = Broker::start();
    let mut raw = Raw::open(broker.addr).await;
    let mut connect = Connect::level(6, "future");
    connect.name = Some("MQTT");
    raw.send(&connect.bytes()).await;
    let before = raw.expect_closed().await;
    let bytes: Vec<u8> = before.iter().flat_map(Frame::bytes).collect();
    assert_eq!(
        bytes,
        hex("20 02 00 01"),
        "MQTT 3.1.1 [MQTT-3.1.2-2]: CONNACK 0x01 (unacceptable protocol level) before closing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn first_packet_other_than_connect_closes_the_connection() {
    let broker = Broker::start();

    let mut ping = Raw::open(broker.addr).await;
    ping.send(&PINGREQ).await;
    ping.expect_closed_silently().await;

    let mut publish = Raw::open(broker.addr).await;
    publish.send(&common::Publish::new("t", b"x").bytes()).await;
    publish.expect_closed_silently().await;

    // The server itself is fine.
    let _ok = Raw::connect(broker.addr, &Connect::v311("after")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn second_connect_closes_the_connection() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("twice")).await;
    raw.send(&Connect::v311("twice").bytes()).await;
    raw.expect_closed_silently().await;

    let (mut v5, _) = Raw::connect(broker.addr, &Connect::v5("twice-5")).await;
    v5.send(&Connect::v5("twice-5").bytes()).await;
    v5.expect_disconnect(0x82).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v311_empty_client_id_with_clean_session_is_accepted() {
    let broker = Broker::start();
    let mut raw = Raw::open(broker.addr).await;
    raw.send(&Connect::v311("").clean(true).bytes()).await;
    raw.expect_bytes(&hex("20 02 00 00")).await;
    raw.send(&PINGREQ).await;
    raw.expect_bytes(&PINGRESP).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v311_empty_client_id_without_clean_session_is_refused_with_code_2() {
    let broker = Broker::start();
    let mut raw = Raw::open(broker.addr).await;
    raw.send(&Connect::v311("").clean(false).bytes()).await;
    raw.expect_bytes(&hex("20 02 00 02")).await;
    raw.expect_closed_silently().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v31_empty_client_id_is_refused_with_code_2() {
    let broker = Broker::start();
    let mut raw = Raw::open(broker.addr).await;
    raw.send(&Connect::v31("").bytes()).await;
    raw.expect_bytes(&hex("20 02 00 02")).await;
    raw.expect_closed_silently().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_empty_client_id_gets_an_assigned_client_identifier() {
    let broker = Broker::start();
    let (_a, first) = Raw::connect(broker.addr, &Connect::v5("")).await;
    let (_b, second) = Raw::connect(broker.addr, &Connect::v5("")).await;
    let a = first
        .props
        .str(prop::ASSIGNED_CLIENT_ID)
        .expect("assigned client identifier property");
    let b = second
        .props
        .str(prop::ASSIGNED_CLIENT_ID)
        .expect("assigned client identifier property");
    assert!(!a.is_empty());
    assert_ne!(a, b, "two anonymous clients get distinct identifiers");

    let (_c, named) = Raw::connect(broker.addr, &Connect::v5("named")).await;
    assert_eq!(named.props.get(prop::ASSIGNED_CLIENT_ID), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_refusal_uses_a_v5_connack() {
    let broker = Broker::start();
    // Enhanced authentication is not offered: CONNACK 0x8C (bad authentication method).
    let connect = Connect::v5("auth").props(Props::new().string(0x15, "SCRAM-SHA-1"));
    let (mut raw, connack) = Raw::connect_any(broker.addr, &connect).await;
    assert_eq!(connack.code, 0x8C, "{connack:?}");
    raw.expect_closed_silently().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_timeout_closes_a_silent_socket() {
    let broker = Broker::with(|s| s.limits.connect_timeout = Duration::from_secs(1));
    let started = Instant::now();
    let mut raw = Raw::open(broker.addr).await;
    raw.expect_closed_within(Duration::from_secs(3)).await;
    assert_between(
        "close of a socket that never sent CONNECT",
        started.elapsed(),
        Duration::from_millis(900),
        Duration::from_secs(3),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_timeout_does_not_affect_connected_clients() {
    let broker = Broker::with(|s| s.limits.connect_timeout = Duration::from_secs(1));
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("stays")).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    raw.send(&PINGREQ).await;
    let pong = raw.recv().await;
    assert_eq!(pong.kind(), kind::PINGRESP);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_name_and_password_are_accepted() {
    let broker = Broker::start();
    let mut options = V4::options(broker.addr, "with-login");
    options.set_credentials("user", "secret");
    let _client = V4::start(options).await;

    // 3.1.1 forbids a password without a user name [MQTT-3.1.2-22].
    let mut bytes = Connect::v311("pw-only").bytes();
    bytes[9] |= 0x40;
    bytes[1] += 2;
    bytes.extend([0x00, 0x00]);
    let mut raw = Raw::open(broker.addr).await;
    raw.send(&bytes).await;
    raw.expect_closed().await;
}
