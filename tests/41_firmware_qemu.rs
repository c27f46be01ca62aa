//! The XBee sketch (firmware/sketches/xbee_node), emulated end to end: built
//! for the Uno with Debian's gcc-avr, run in `qemu-system-avr -machine uno`
//! with its serial port on a pseudo-terminal, and heard by wren's `xbee` radio
//! on another pseudo-terminal; its QoS −1 PUBLISHes must reach a rumqttc
//! subscriber.
//!
//! The node's serial port talks to its own XBee module and wren's to the
//! coordinator module, so the test plays the Zigbee network between the two:
//! the coordinator is the radio tests' played module (it answers wren's AT
//! probes in API mode 2 and acknowledges wren's transmits with 0x8B), and
//! [`network`] carries frames across, each 0x10 Transmit Request of the node
//! reported to wren as a 0x90 Receive Packet from the node's 64-bit address.
//!
//! Without the AVR toolchain or QEMU the test fails, naming the packages:
//! it must never pass without running the firmware. `.ci/run` installs them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes::BytesMut;
use common::radio::{self, Kind, Node, Pty, take_xbee_frame, xbee_frame};
use common::{Broker, V4, WAIT};
use rumqttc::QoS;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_serial::{SerialPortBuilderExt, SerialStream};

/// The Debian packages the test needs beyond the Rust toolchain.
const PACKAGES: &str = "gcc-avr avr-libc arduino-core-avr make qemu-system-misc";
const ARDUINO_CORE: &str = "/usr/share/arduino/hardware/arduino/avr/cores/arduino";

/// The sketch's predefined topic ids (firmware/lib/mqttsn/wren_topics.h) and
/// what its emulated build publishes to them.
const TOPICS: [(u16, &str, &str); 2] = [
    (4, "sensors/xbee/temperature", "21.5"),
    (5, "sensors/xbee/battery", "3.3"),
];

/// Wren's radio start (open, five AT probes) plus QEMU's start: longer than
/// one [`WAIT`], still bounded.
const FIRST_PUBLISH: Duration = Duration::from_secs(15);

/// Panics, naming the packages, when a tool the test runs is missing.
fn require_tools() {
    for tool in ["avr-gcc", "make", "qemu-system-avr"] {
        let found = std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success());
        assert!(
            found,
            "`{tool}` is not installed: this test runs the XBee sketch in QEMU against wren; \
             install the Debian packages {PACKAGES} (.ci/run does)"
        );
    }
    assert!(
        Path::new(ARDUINO_CORE).is_dir(),
        "{ARDUINO_CORE} is missing: install the Debian packages {PACKAGES} (.ci/run does)"
    );
}

/// Builds the emulated XBee node (`make -C firmware qemu-elf`) into the
/// test's scratch directory and returns the ELF's path.
fn build_node() -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("firmware-qemu");
    let output = std::process::Command::new("make")
        .arg("-C")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware"))
        .arg("--no-print-directory")
        .arg(format!("OUT={}", out.display()))
        .arg("qemu-elf")
        .output()
        .expect("make runs");
    assert!(
        output.status.success(),
        "make qemu-elf failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    out.join("qemu/xbee_node.elf")
}

/// qemu-system-avr running the node. Killed on drop, so also when the test
/// panics half-way.
struct Qemu {
    child: Child,
}

impl Qemu {
    /// Starts `elf` on an emulated Uno and returns the pty its serial port
    /// was redirected to (QEMU prints "char device redirected to /dev/pts/N").
    async fn start(elf: &Path) -> (Self, PathBuf) {
        let mut child = Command::new("qemu-system-avr")
            .args(["-machine", "uno", "-nographic", "-monitor", "none"])
            .args(["-serial", "pty", "-bios"])
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("qemu-system-avr starts");
        let stdout = child.stdout.take().unwrap();
        let qemu = Self { child };
        let line = timeout(WAIT, BufReader::new(stdout).lines().next_line())
            .await
            .expect("QEMU names its pty within the usual wait")
            .unwrap()
            .expect("QEMU printed a line");
        let pty = line
            .split_whitespace()
            .find(|word| word.starts_with("/dev/pts/"))
            .unwrap_or_else(|| panic!("no pty in QEMU's {line:?}"));
        (qemu, PathBuf::from(pty))
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The Zigbee network between the node's XBee and the coordinator.
///
/// Each frame the node writes goes to `node_frames` for the test to check.
/// A 0x10 Transmit Request's RF data reaches wren as a 0x90 from the node
/// (the played coordinator adds the node's addresses); what wren transmits to
/// the node reaches it as a 0x90 from the coordinator (64-bit address 0). Had
/// the node asked for a status (frame id not 0), its module's 0x8B success or
/// 0x88 AT response is written back to it.
async fn network(
    mut node_port: SerialStream,
    mut coordinator: Node,
    node_frames: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut buf = BytesMut::new();
    loop {
        tokio::select! {
            read = node_port.read_buf(&mut buf) => {
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
                while let Some(frame) = take_xbee_frame(&mut buf, true) {
                    let answer = match (frame[0], frame[1]) {
                        (0x10, 0) | (0x08, 0) => None,
                        (0x10, id) => Some(vec![0x8B, id, 0xFF, 0xFE, 0x00, 0x00, 0x00]),
                        (0x08, id) => Some(vec![0x88, id, frame[2], frame[3], 0x00]),
                        _ => None,
                    };
                    if frame[0] == 0x10 && frame.len() > 14 {
                        coordinator.send(&frame[14..]).await;
                    }
                    if let Some(answer) = answer {
                        node_port.write_all(&xbee_frame(&answer, true)).await.unwrap();
                    }
                    let _ = node_frames.send(frame);
                }
            }
            message = coordinator.next_from_gateway() => {
                let Some(message) = message else { return };
                let mut data = vec![0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x01];
                data.extend(message);
                node_port.write_all(&xbee_frame(&data, true)).await.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn the_xbee_sketch_in_qemu_publishes_through_wren() {
    require_tools();
    let elf = build_node();

    let dir = radio::link_dir();
    let path = radio::link_path(&dir, "coordinator");
    let pty = Pty::at(&path);
    let settings = radio::radio(&format!(
        "name = \"zigbee\"\nkind = \"xbee\"\nport = {:?}\napi_mode = 2",
        path.to_str().unwrap()
    ));
    let broker = Broker::with(|s| {
        s.radio.push(settings);
        for (id, topic, _) in TOPICS {
            s.mqttsn.predefined_topics.insert(id, topic.to_owned());
        }
    });
    let mut mqtt = V4::connect(broker.addr, "qemu-sub").await;
    mqtt.subscribe("sensors/xbee/#", QoS::AtMostOnce).await;
    let coordinator = Node::start(Kind::Xbee { escaped: true }, pty);

    let started = Instant::now();
    let (qemu, node_tty) = Qemu::start(&elf).await;
    let node_port = tokio_serial::new(node_tty.to_str().unwrap(), 9600)
        .open_native_async()
        .unwrap();
    let (frames_tx, mut node_frames) = mpsc::unbounded_channel();
    let network = tokio::spawn(network(node_port, coordinator, frames_tx));

    // The node publishes both readings every emulated second (a few times a
    // real second): wait for one of each.
    let deadline = started + FIRST_PUBLISH;
    let mut got = BTreeMap::new();
    while got.len() < TOPICS.len() {
        let within = deadline.saturating_duration_since(Instant::now());
        let Some(publish) = mqtt.try_recv(within).await else {
            panic!("the node's readings did not reach MQTT within {FIRST_PUBLISH:?}: got {got:?}");
        };
        got.insert(
            publish.topic,
            String::from_utf8(publish.payload.to_vec()).unwrap(),
        );
    }
    let want: BTreeMap<String, String> = TOPICS
        .iter()
        .map(|(_, topic, payload)| (topic.to_string(), payload.to_string()))
        .collect();
    assert_eq!(got, want);

    // Every frame the sketch wrote was a Transmit Request to the coordinator
    // (64-bit 0, 16-bit FFFE), frame id 0, carrying a QoS −1 PUBLISH to a
    // predefined id (flags 0x61).
    network.abort();
    drop(qemu);
    let frames: Vec<Vec<u8>> = std::iter::from_fn(|| node_frames.try_recv().ok()).collect();
    assert!(frames.len() >= TOPICS.len(), "{frames:02X?}");
    for frame in &frames {
        assert_eq!(
            frame[..12],
            [0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFE],
            "{frame:02X?}"
        );
        assert_eq!((frame[15], frame[16]), (0x0C, 0x61), "{frame:02X?}");
    }
    eprintln!(
        "{} frames from the emulated node; both readings on MQTT {:?} after QEMU started",
        frames.len(),
        started.elapsed()
    );
}
