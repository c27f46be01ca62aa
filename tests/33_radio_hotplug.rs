//! Radios that come and go: a port missing at start, a dongle unplugged and
//! plugged back under the same path, and several radios beside UDP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::radio::{self, Kind, Node, Pty, sensor_round_trip};
use common::sn::{self, Sn, flag, kind};
use common::{Broker, V4};
use rumqttc::QoS;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

fn xbee(name: &str, path: &std::path::Path) -> wren::settings::RadioSettings {
    radio::radio(&format!(
        "name = {name:?}\nkind = \"xbee\"\nport = {:?}",
        path.to_str().unwrap()
    ))
}

/// Log lines of `wren::transport::serial`, captured for the whole test binary
/// (each test finds its own by port path).
fn serial_log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        struct Capture;
        impl std::io::Write for Capture {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                serial_log().lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt()
            .with_env_filter("wren::transport::serial=debug")
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
        Mutex::new(Vec::new())
    })
}

/// How many captured lines mention `path` and contain `text`.
fn log_count(path: &std::path::Path, text: &str) -> usize {
    let log = String::from_utf8_lossy(&serial_log().lock().unwrap()).into_owned();
    let path = path.to_str().unwrap();
    log.lines()
        .filter(|line| line.contains(path) && line.contains(text))
        .count()
}

#[tokio::test]
async fn unplugged_dongle_is_reopened_and_the_node_keeps_its_session() {
    serial_log();
    let dir = radio::link_dir();
    let path = radio::link_path(&dir, "xbee");
    let pty = Pty::at(&path);
    let broker = Broker::with(|s| s.radio.push(xbee("zb", &path)));
    let mut node = Node::start(Kind::Xbee { escaped: true }, pty);
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("home/#", QoS::AtMostOnce).await;
    node.send(&sn::connect(flag::CLEAN, 600, "plugged")).await;
    node.recv_kind(kind::CONNACK).await;
    node.send(&sn::register(0, 1, "home/t")).await;
    let (topic, _, _) = node.recv_kind(kind::REGACK).await.ack();
    node.send(&sn::publish(0, sn::id(topic), 0, b"before"))
        .await;
    assert_eq!(&mqtt.recv().await.payload[..], b"before");

    // Unplug: the modem end closes. Re-plug: a new pty under the same path.
    node.unplug();
    let pty = Pty::at(&path);
    let node = Node::start(Kind::Xbee { escaped: true }, pty);
    // The same node, same session, same topic id, no new CONNECT. The gateway
    // reopens after its 1 s backoff: repeat the QoS 0 publish until it flows.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        node.send(&sn::publish(0, sn::id(topic), 0, b"after")).await;
        if let Some(got) = mqtt.try_recv(Duration::from_millis(300)).await {
            assert_eq!(&got.payload[..], b"after");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing after re-plugging"
        );
    }
    // One line when the dongle went, one when it came back.
    assert_eq!(log_count(&path, "serial port gone"), 1);
    assert_eq!(log_count(&path, "serial port is back"), 1);
}

#[tokio::test]
async fn a_port_missing_at_start_does_not_stop_wren_and_is_logged_once() {
    serial_log();
    let dir = radio::link_dir();
    let path = radio::link_path(&dir, "later");
    let broker = Broker::with(|s| s.radio.push(xbee("zb", &path)));
    // wren runs: MQTT works with the radio missing.
    let mut mqtt = V4::connect(broker.addr, "sub").await;
    mqtt.subscribe("home/#", QoS::AtMostOnce).await;
    // Attempts at 0, 1 and 3 s fail: one warning, the retries at debug level.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(log_count(&path, "cannot open serial port"), 1);
    assert!(
        log_count(&path, "still missing") >= 1,
        "retried at 1 s (and 3 s)"
    );
    let pty = Pty::at(&path);
    let mut node = Node::start(Kind::Xbee { escaped: true }, pty);
    // The next attempt is at 7 s (4 s backoff); CONNECT until the gateway answers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    loop {
        node.send(&sn::connect(flag::CLEAN, 60, "late")).await;
        let connack =
            tokio::time::timeout(Duration::from_millis(300), node.recv_kind(kind::CONNACK));
        if connack.await.is_ok() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "radio never opened");
    }
    assert_eq!(log_count(&path, "serial port is back"), 1);
    assert_eq!(log_count(&path, "cannot open serial port"), 1);
}

#[tokio::test]
async fn two_radios_and_udp_at_once() {
    let dir = radio::link_dir();
    let (xbee_path, slip_path) = (
        radio::link_path(&dir, "xbee"),
        radio::link_path(&dir, "slip"),
    );
    let (xbee_pty, slip_pty) = (Pty::at(&xbee_path), Pty::at(&slip_path));
    let slip = radio::radio(&format!(
        "name = \"bridge\"\nkind = \"slip\"\nport = {:?}",
        slip_path.to_str().unwrap()
    ));
    let broker = Broker::with(|s| {
        s.radio.push(xbee("zb", &xbee_path));
        s.radio.push(slip);
    });
    let mut zigbee = Node::start(Kind::Xbee { escaped: true }, xbee_pty);
    let mut bridge = Node::start(Kind::Slip, slip_pty);
    let mut udp = Sn::connect(sn::gateway(&broker), "udp-node", 60).await;
    let udp_topic = udp.register(1, "home/udp-node/t").await;
    let mut mqtt = V4::connect(broker.addr, "all").await;
    mqtt.subscribe("home/#", QoS::AtMostOnce).await;
    let (a, b) = tokio::join!(
        sensor_round_trip(&broker, &mut zigbee, "zigbee-node"),
        sensor_round_trip(&broker, &mut bridge, "bridge-node"),
    );
    let ((), ()) = (a, b);
    udp.send(&sn::publish(0, sn::id(udp_topic), 0, b"u")).await;
    let mut topics = Vec::new();
    for _ in 0..3 {
        topics.push(mqtt.recv().await.topic);
    }
    topics.sort();
    assert_eq!(
        topics,
        [
            "home/bridge-node/t",
            "home/udp-node/t",
            "home/zigbee-node/t"
        ]
    );
}
