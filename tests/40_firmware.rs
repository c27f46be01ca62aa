//! The sensor-node firmware (firmware/): its C library built with the host's
//! gcc, unit-tested on the byte vectors of the notes, then run as a UDP node
//! against the real gateway and checked from the MQTT side with rumqttc.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use common::{Broker, QUIET, V4, WAIT, sn};
use rumqttc::QoS;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;
use wren::settings::Settings;

const C_FLAGS: &[&str] = &[
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-Os",
];

fn firmware() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware")
}

/// Compiles `sources` (relative to firmware/) with the library into the
/// test's scratch directory; panics with gcc's output on failure.
fn build(name: &str, sources: &[&str]) -> PathBuf {
    build_with(name, sources, &[])
}

fn build_with(name: &str, sources: &[&str], flags: &[&str]) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("firmware");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(name);
    let output = std::process::Command::new("gcc")
        .args(C_FLAGS)
        .arg("-I")
        .arg(firmware().join("lib/mqttsn"))
        .arg("-I")
        .arg(firmware().join("sketches/common"))
        .arg("-I")
        .arg(firmware().join("sketches/serial_bridge"))
        .args(flags)
        .args(sources.iter().map(|s| firmware().join(s)))
        .arg("-o")
        .arg(&out)
        .output()
        .expect("gcc is needed to build the firmware on the host");
    assert!(
        output.status.success(),
        "gcc failed building {name}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// A host program over UDP: `main` plus the transport and the client.
fn host_program(name: &str, extra: &[&str]) -> PathBuf {
    let main = format!("host/{name}.c");
    let mut sources = vec![
        main.as_str(),
        "host/udp_transport.c",
        "lib/mqttsn/mqttsn.c",
        "lib/mqttsn/mqttsn_codec.c",
    ];
    sources.extend(extra);
    build(name, &sources)
}

fn udp_node() -> &'static Path {
    static NODE: OnceLock<PathBuf> = OnceLock::new();
    NODE.get_or_init(|| host_program("udp_node", &[]))
}

/// Also the serial bridge's relay rules, and 22000 random inputs to the
/// parser, both framings and the client, built with AddressSanitizer and
/// UBSan so a stray read or overflow fails.
#[test]
fn codec_and_framings_match_the_notes_byte_vectors() {
    let exe = build_with(
        "vectors",
        &[
            "tests/vectors.c",
            "lib/mqttsn/mqttsn.c",
            "lib/mqttsn/mqttsn_codec.c",
            "lib/mqttsn/xbee_api.c",
            "lib/mqttsn/slip.c",
            "sketches/common/sensor_cycle.c",
            "sketches/serial_bridge/bridge_relay.c",
        ],
        &[
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
        ],
    );
    // No leak check: the code allocates nothing, and LeakSanitizer needs
    // ptrace, which some containers forbid.
    let output = std::process::Command::new(exe)
        .env("ASAN_OPTIONS", "detect_leaks=0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "C unit tests failed:\n{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    let passed: u32 = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary {last:?}"));
    assert!(passed >= 200, "only {passed} checks ran");
}

/// The ESP sketch cannot be built here (no ESP toolchain in Debian), but its
/// C++ is type-checked with g++ against the library and stub headers that
/// declare the ESP8266 and ESP32 Arduino calls it makes (host/esp_stubs/).
#[test]
fn esp_sketch_type_checks_against_the_library_for_esp8266_and_esp32() {
    for board in ["-DESP8266", "-DESP32"] {
        let output = std::process::Command::new("g++")
            .args([
                "-std=gnu++11",
                "-fsyntax-only",
                "-Wall",
                "-Wextra",
                "-Werror",
                board,
            ])
            .arg("-I")
            .arg(firmware().join("host/esp_stubs"))
            .arg("-I")
            .arg(firmware().join("lib/mqttsn"))
            .arg("-I")
            .arg(firmware().join("sketches/common"))
            .args(["-x", "c++", "-include", "Arduino.h"])
            .arg(firmware().join("sketches/esp_node/esp_node.ino"))
            .output()
            .expect("g++ is needed to check the ESP sketch");
        assert!(
            output.status.success(),
            "esp_node.ino ({board}):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The `id = "name"` pairs of the commented block under
/// `[mqttsn.predefined_topics]` in config/wren.toml.
fn documented_topic_ids() -> BTreeMap<u16, String> {
    let toml =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wren.toml"))
            .unwrap();
    let block = toml
        .split("[mqttsn.predefined_topics]")
        .nth(1)
        .expect("wren.toml has [mqttsn.predefined_topics]");
    let mut ids = BTreeMap::new();
    for line in block.lines().take_while(|l| !l.starts_with('[')) {
        let Some((id, name)) = line.strip_prefix("# ").and_then(|l| l.split_once(" = ")) else {
            continue;
        };
        if let Ok(id) = id.parse() {
            ids.insert(id, name.trim_matches('"').to_owned());
        }
    }
    ids
}

/// The `#define WREN_TOPIC_* id /* "name" */` lines of wren_topics.h.
fn firmware_topic_ids() -> BTreeMap<u16, String> {
    let header = std::fs::read_to_string(firmware().join("lib/mqttsn/wren_topics.h")).unwrap();
    header
        .lines()
        .filter_map(|l| l.strip_prefix("#define WREN_TOPIC_"))
        .map(|l| {
            let mut words = l.split_whitespace();
            let id = words.nth(1).unwrap().parse().unwrap();
            let name = l.split('"').nth(1).unwrap().to_owned();
            (id, name)
        })
        .collect()
}

/// The sketches' topic ids, as wren's settings (proving the block is valid).
fn sketch_settings(settings: &mut Settings) {
    let mut toml = String::from("[mqttsn.predefined_topics]\n");
    for (id, name) in documented_topic_ids() {
        toml.push_str(&format!("{id} = \"{name}\"\n"));
    }
    settings.mqttsn.predefined_topics =
        Settings::from_toml(&toml).unwrap().mqttsn.predefined_topics;
}

#[test]
fn sketch_topic_ids_match_the_ones_documented_in_wren_toml() {
    let documented = documented_topic_ids();
    assert!(documented.len() >= 7, "{documented:?}");
    assert_eq!(firmware_topic_ids(), documented);
    let mut settings = Settings::default();
    sketch_settings(&mut settings);
    assert_eq!(settings.mqttsn.predefined_topics, documented);
}

/// The C node as a child process, its output read line by line.
struct Node {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Node {
    /// Starts `exe` with the gateway's UDP port as its first argument.
    fn start(exe: &Path, broker: &Broker, args: &[String]) -> Self {
        Self::start_with(exe, broker, args, &[])
    }

    fn start_with(exe: &Path, broker: &Broker, args: &[String], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(exe)
            .envs(env.iter().copied())
            .arg(sn::gateway(broker).port().to_string())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// Writes a line to the node's stdin: its cue to wake.
    async fn wake(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"wake\n").await.unwrap();
        stdin.flush().await.unwrap();
    }

    async fn exits_cleanly(mut self) {
        let status = timeout(WAIT, self.child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "{status}");
    }

    async fn line(&mut self) -> String {
        match timeout(WAIT, self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => panic!("the node exited early: {:?}", self.child.wait().await),
            Ok(Err(e)) => panic!("reading the node: {e}"),
            Err(_) => panic!("no line from the node within {WAIT:?}"),
        }
    }

    async fn expect(&mut self, want: &str) {
        assert_eq!(self.line().await, want);
    }

    /// The number after `word` on the next line.
    async fn expect_number(&mut self, word: &str) -> u16 {
        let line = self.line().await;
        let rest = line
            .strip_prefix(word)
            .unwrap_or_else(|| panic!("{line:?}"));
        rest.trim().parse().unwrap()
    }
}

/// A node's whole life against the gateway, watched over MQTT: connect with
/// a will, register, QoS 0/1/-1, subscribe and receive, ping, sleep,
/// messages published while asleep delivered on wake, reconnect, leave.
async fn node_life(client_id: &str, forwarder: Option<u16>) {
    let broker = Broker::with(sketch_settings);
    let mut watch = V4::connect(broker.addr, "watch").await;
    watch.subscribe("fw/#", QoS::AtLeastOnce).await;
    watch.subscribe("sensors/#", QoS::AtLeastOnce).await;
    let mut args = vec![client_id.to_owned(), "4".to_owned()];
    args.extend(forwarder.map(|id| id.to_string()));
    let mut node = Node::start(udp_node(), &broker, &args);

    node.expect("searchgw 0").await;
    node.expect("gwinfo 1").await;
    node.expect("connack 0").await;
    node.expect("regack 0").await;
    let topic = node.expect_number("topic").await;
    assert_ne!(topic, 0);
    node.expect("qos0 0").await;
    node.expect("qos1 0").await;
    node.expect("qos-1 0").await;
    let mut seen: Vec<_> = watch
        .recv_n(3)
        .await
        .into_iter()
        .map(|p| (p.topic, String::from_utf8(p.payload.to_vec()).unwrap()))
        .collect();
    seen.sort();
    let temp = format!("fw/{client_id}/temp");
    assert_eq!(
        seen,
        [
            (temp.clone(), "21.5".to_owned()),
            (temp, "22.5".to_owned()),
            ("sensors/xbee/temperature".to_owned(), "23.5".to_owned()),
        ]
    );

    node.expect("suback 0").await;
    let cmd_id = node.expect_number("subscribed").await;
    let cmd = format!("fw/{client_id}/cmd");
    watch.publish(&cmd, QoS::AtLeastOnce, false, b"hello").await;
    node.expect(&format!("got {cmd_id} 1 hello")).await;
    node.expect("received 1").await;
    node.expect("ping 0").await;
    node.expect("sleep 0").await;
    node.expect("asleep").await;
    assert_eq!(&watch.recv().await.payload[..], b"hello");

    // While the node sleeps: once the watcher hears them, the broker has
    // routed them to the node's sleep buffer as well.
    watch
        .publish(&cmd, QoS::AtLeastOnce, false, b"led on")
        .await;
    watch
        .publish(&cmd, QoS::AtMostOnce, false, b"led off")
        .await;
    assert_eq!(&watch.recv_n(2).await[1].payload[..], b"led off");
    node.wake().await;
    node.expect(&format!("got {cmd_id} 1 led on")).await;
    node.expect(&format!("got {cmd_id} 0 led off")).await;
    node.expect("woke 2").await;
    node.expect("connack 0").await;
    node.expect("bye 0").await;
    node.exits_cleanly().await;
    // A clean DISCONNECT: the will is not published.
    watch.expect_nothing(QUIET).await;
}

#[tokio::test]
async fn c_client_over_udp_connects_publishes_subscribes_sleeps_and_wakes() {
    node_life("fw-node", None).await;
}

#[tokio::test]
async fn c_client_behind_a_forwarder_header_does_the_same() {
    node_life("fw-fwd", Some(5)).await;
}

/// The will the node registered in the CONNECT handshake is published when it
/// goes silent past 1.5 times its keep-alive.
#[tokio::test]
async fn c_client_will_is_published_when_the_node_vanishes() {
    let broker = Broker::start();
    let mut watch = V4::connect(broker.addr, "watch").await;
    watch.subscribe("fw/+/status", QoS::AtLeastOnce).await;
    let args = ["fw-gone".to_owned(), "4".to_owned()];
    let mut node = Node::start_with(udp_node(), &broker, &args, &[("NODE_VANISH", "1")]);
    node.expect("searchgw 0").await;
    node.expect("gwinfo 1").await;
    node.expect("connack 0").await;
    node.exits_cleanly().await;
    let will = watch.recv().await;
    assert_eq!(
        (will.topic.as_str(), &will.payload[..], will.qos),
        ("fw/fw-gone/status", &b"gone"[..], QoS::AtLeastOnce)
    );
}

/// Payloads of the next `n` publishes, as (topic, text).
async fn texts(watch: &mut V4, n: usize) -> Vec<(String, String)> {
    watch
        .recv_n(n)
        .await
        .into_iter()
        .map(|p| (p.topic, String::from_utf8(p.payload.to_vec()).unwrap()))
        .collect()
}

/// The ESP and LoRa sketches' cycle, built from the sketches' own source:
/// a fresh session that subscribes to its command topic, readings at QoS 1
/// to predefined ids, sleep; a command published while it sleeps reaches it
/// in the next cycle, which resumes the session.
#[tokio::test]
async fn sketch_sensor_cycle_publishes_sleeps_and_gets_commands_on_the_next_wake() {
    let broker = Broker::with(sketch_settings);
    let mut watch = V4::connect(broker.addr, "watch").await;
    watch.subscribe("sensors/esp/#", QoS::AtLeastOnce).await;
    let exe = host_program("cycle_node", &["sketches/common/sensor_cycle.c"]);
    let mut node = Node::start(&exe, &broker, &["esp-test".to_owned()]);
    let pair = |topic: &str, text: &str| (format!("sensors/esp/{topic}"), text.to_owned());

    node.expect("cycle 0").await;
    node.expect("asleep").await;
    assert_eq!(
        texts(&mut watch, 2).await,
        [pair("temperature", "21.5"), pair("humidity", "48.0")]
    );
    watch
        .publish("sensors/esp/command", QoS::AtLeastOnce, false, b"led on")
        .await;
    assert_eq!(texts(&mut watch, 1).await, [pair("command", "led on")]);
    node.wake().await;
    node.expect("got 3 1 led on").await;
    node.expect("cycle 0").await;
    assert_eq!(
        texts(&mut watch, 2).await,
        [pair("temperature", "-3.5"), pair("humidity", "100.0")]
    );
    node.exits_cleanly().await;
}
