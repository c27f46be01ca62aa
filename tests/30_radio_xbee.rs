//! An XBee radio link: the test plays the module over a pty (API mode 2 and
//! 1), answers the gateway's AT probe, and carries a node's MQTT-SN both ways.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::radio::{self, Kind, Node, Pty, XBEE_NODE, XBEE_NODE16, sensor_round_trip, xbee_frame};
use common::sn::{self, flag};
use common::{Broker, V4};
use rumqttc::QoS;

async fn xbee_round_trip(api_mode: u8) {
    let dir = radio::link_dir();
    let path = radio::link_path(&dir, "xbee");
    let pty = Pty::at(&path);
    let settings = radio::radio(&format!(
        "name = \"zb\"\nkind = \"xbee\"\nport = {:?}\napi_mode = {api_mode}",
        path.to_str().unwrap()
    ));
    let broker = Broker::with(|s| s.radio.push(settings));
    let mut node = Node::start(
        Kind::Xbee {
            escaped: api_mode == 2,
        },
        pty,
    );
    sensor_round_trip(&broker, &mut node, &format!("xbee{api_mode}")).await;

    // The gateway probed AP, NP, SH, SL and AI first, and addressed the node by
    // both addresses, the 16-bit one learnt from its frames.
    let mut frames = Vec::new();
    while let Ok(line) = node.log.try_recv() {
        frames.push(line);
    }
    let probes: Vec<&str> = frames.iter().take(5).map(|f| &f[4..8]).collect();
    assert_eq!(
        probes,
        ["4150", "4E50", "5348", "534C", "4149"],
        "{frames:?}"
    );
    let to_node = format!("{XBEE_NODE:016X}{XBEE_NODE16:04X}");
    assert!(
        frames
            .iter()
            .any(|f| f.starts_with("10") && f[4..24] == to_node),
        "{frames:?}"
    );
}

#[tokio::test]
async fn api_mode_2_sensor_publishes_and_receives() {
    xbee_round_trip(2).await;
}

#[tokio::test]
async fn api_mode_1_sensor_publishes_and_receives() {
    xbee_round_trip(1).await;
}

#[tokio::test]
async fn noise_and_a_bad_checksum_cost_only_their_frame() {
    let dir = radio::link_dir();
    let path = radio::link_path(&dir, "xbee");
    let mut pty = Pty::at(&path);
    let settings = radio::radio(&format!(
        "name = \"zb\"\nkind = \"xbee\"\nport = {:?}",
        path.to_str().unwrap()
    ));
    let broker = Broker::with(|s| s.radio.push(settings));
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("#", QoS::AtMostOnce).await;
    // QoS −1 to predefined-free short topic "ab": needs no connection.
    let publish = sn::publish(flag::QOS_MINUS_ONE | flag::SHORT, *b"ab", 0, b"x");
    let mut data = vec![0x90];
    data.extend(XBEE_NODE.to_be_bytes());
    data.extend([0xFF, 0xFE, 0x01]);
    data.extend(&publish);
    let good = xbee_frame(&data, true);
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let mut wire = vec![0x00, 0x13, 0x7D];
    wire.extend(&bad);
    wire.extend(&good);
    use tokio::io::AsyncWriteExt;
    // Wait for the gateway to open the port: its probe arrives first.
    let mut probe = [0u8; 8];
    tokio::time::timeout(
        common::WAIT,
        tokio::io::AsyncReadExt::read(&mut pty.master, &mut probe),
    )
    .await
    .unwrap()
    .unwrap();
    pty.master.write_all(&wire).await.unwrap();
    let got = mqtt.recv().await;
    assert_eq!((got.topic.as_str(), &got.payload[..]), ("ab", &b"x"[..]));
    mqtt.expect_nothing(common::QUIET).await;
}

#[tokio::test]
async fn a_failed_delivery_makes_the_gateway_rediscover_the_node() {
    let dir = radio::link_dir();
    let path = radio::link_path(&dir, "xbee");
    let pty = Pty::at(&path);
    let settings = radio::radio(&format!(
        "name = \"zb\"\nkind = \"xbee\"\nport = {:?}",
        path.to_str().unwrap()
    ));
    let broker = Broker::with(|s| s.radio.push(settings));
    let mut node = Node::start(Kind::Xbee { escaped: true }, pty);
    let mut mqtt = V4::connect(broker.addr, "pub").await;
    node.send(&sn::connect(flag::CLEAN, 60, "lost")).await;
    node.recv_kind(sn::kind::CONNACK).await;
    // The SUBACK is reported undeliverable: "address not found" (0x24).
    node.next_delivery
        .store(0x24, std::sync::atomic::Ordering::SeqCst);
    node.send(&sn::subscribe_name(0, 1, "cmd/lost")).await;
    node.recv_kind(sn::kind::SUBACK).await;
    mqtt.publish("cmd/lost", QoS::AtMostOnce, false, b"x").await;
    node.recv_kind(sn::kind::PUBLISH).await;
    let transmits: Vec<String> = std::iter::from_fn(|| node.log.try_recv().ok())
        .filter(|frame| frame.starts_with("10"))
        .collect();
    // CONNACK and SUBACK went to the 16-bit address learnt from the node's
    // frames; after the failure the PUBLISH asks the module to find it (FFFE).
    let dest16: Vec<&str> = transmits.iter().map(|f| &f[20..24]).collect();
    assert_eq!(dest16, ["1A2B", "1A2B", "FFFE"], "{transmits:?}");
}
