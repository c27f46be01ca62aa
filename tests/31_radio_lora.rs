//! LoRa modems: a RAK3172 (RUI3 P2P AT commands, forwarder header on air)
//! and a REYAX module (AT+SEND / +RCV, base64), each played over a pty.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Broker;
use common::radio::{self, Kind, Node, Pty, sensor_round_trip};

fn start(kind: Kind, toml: &str) -> (Broker, Node, tempfile::TempDir) {
    let dir = radio::link_dir();
    let path = radio::link_path(&dir, "lora");
    let pty = Pty::at(&path);
    let settings = radio::radio(&format!("{toml}\nport = {:?}", path.to_str().unwrap()));
    let broker = Broker::with(|s| s.radio.push(settings));
    (broker, Node::start(kind, pty), dir)
}

fn commands(node: &mut Node) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(line) = node.log.try_recv() {
        lines.push(line);
    }
    // The log also holds what reached the node; keep the commands.
    lines.retain(|line| line.starts_with("AT"));
    lines
}

#[tokio::test]
async fn rak3172_configures_p2p_and_transmits_with_the_precv_dance() {
    let (broker, mut node, _dir) = start(
        Kind::Rak3172,
        "name = \"lora\"\nkind = \"rak3172\"\nfrequency = 868100000\nsf = 7\nduty_cycle = 100.0",
    );
    sensor_round_trip(&broker, &mut node, "rak").await;
    let lines = commands(&mut node);
    assert_eq!(
        lines[..4],
        [
            "AT+PRECV=0",
            "AT+NWM=0",
            "AT+P2P=868100000:7:125:0:8:14",
            "AT+PRECV=65534"
        ],
        "{lines:?}"
    );
    // Every transmit: stop receiving, send, (TXP2P DONE), receive again.
    let sends: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("AT+PSEND="))
        .collect();
    assert!(
        sends.len() >= 4,
        "CONNACK, REGACK, SUBACK, PUBLISH: {lines:?}"
    );
    for i in sends {
        assert_eq!(lines[i - 1], "AT+PRECV=0", "{lines:?}");
        // The last resume may still be on its way.
        if let Some(next) = lines.get(i + 1) {
            assert_eq!(next, "AT+PRECV=65534", "{lines:?}");
        }
    }
}

#[tokio::test]
async fn reyax_carries_base64_by_module_address() {
    let (broker, mut node, _dir) = start(
        Kind::Reyax,
        "name = \"lora\"\nkind = \"reyax\"\naddress = 1\nnetwork_id = 6\nfrequency = 868500000\nsf = 9\nduty_cycle = 100.0",
    );
    sensor_round_trip(&broker, &mut node, "reyax").await;
    let lines = commands(&mut node);
    assert_eq!(
        lines[..5],
        [
            "AT",
            "AT+ADDRESS=1",
            "AT+NETWORKID=6",
            "AT+BAND=868500000",
            "AT+PARAMETER=9,7,1,8"
        ],
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "AT+SEND=5,4,AwUA"),
        "CONNACK as base64: {lines:?}"
    );
}

#[tokio::test]
async fn rak3172_paces_transmits_by_duty_cycle() {
    // SF12 at 1 %: a 10-byte packet is about 1 s on air, so the next may
    // leave only about 99 s later. The second answer must not come quickly.
    let (_broker, mut node, _dir) = start(
        Kind::Rak3172,
        "name = \"lora\"\nkind = \"rak3172\"\nsf = 12\nduty_cycle = 1.0",
    );
    node.send(&common::sn::searchgw(1)).await;
    node.recv_kind(common::sn::kind::GWINFO).await;
    node.send(&common::sn::connect(common::sn::flag::CLEAN, 60, "slow"))
        .await;
    let waited =
        tokio::time::timeout(common::QUIET * 3, node.recv_kind(common::sn::kind::CONNACK)).await;
    assert!(
        waited.is_err(),
        "CONNACK went out within the duty-cycle pause"
    );
}
