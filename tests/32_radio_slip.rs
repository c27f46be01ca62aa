//! The generic serial bridge: SLIP frames with CRC-16/XMODEM around the
//! MQTT-SN forwarder header, played over a pty.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::radio::{self, Kind, Node, Pty, forwarded, sensor_round_trip, slip_frame};
use common::sn::{self, flag};
use common::{Broker, V4};
use rumqttc::QoS;
use tokio::io::AsyncWriteExt;

fn settings(path: &std::path::Path) -> wren::settings::RadioSettings {
    radio::radio(&format!(
        "name = \"bridge\"\nkind = \"slip\"\nport = {:?}",
        path.to_str().unwrap()
    ))
}

#[tokio::test]
async fn bridge_node_publishes_and_receives() {
    let dir = radio::link_dir();
    let path = radio::link_path(&dir, "slip");
    let pty = Pty::at(&path);
    let broker = Broker::with(|s| s.radio.push(settings(&path)));
    let mut node = Node::start(Kind::Slip, pty);
    sensor_round_trip(&broker, &mut node, "slip").await;
}

#[tokio::test]
async fn noise_and_bad_crc_cost_only_their_frame() {
    let dir = radio::link_dir();
    let path = radio::link_path(&dir, "slip");
    let mut pty = Pty::at(&path);
    let broker = Broker::with(|s| s.radio.push(settings(&path)));
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("#", QoS::AtMostOnce).await;
    let publish = sn::publish(flag::QOS_MINUS_ONE | flag::SHORT, *b"ab", 0, b"x");
    let good = slip_frame(&forwarded(&publish));
    let mut bad = good.clone();
    bad[6] ^= 0x40;
    let mut wire = vec![0x11, 0x22, 0x33, 0xDB];
    wire.extend(&bad);
    wire.extend(&good);
    // The port may not be open yet: repeat until the publish arrives.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        pty.master.write_all(&wire).await.unwrap();
        if let Some(got) = mqtt.try_recv(std::time::Duration::from_millis(200)).await {
            assert_eq!((got.topic.as_str(), &got.payload[..]), ("ab", &b"x"[..]));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "nothing arrived");
    }
}
