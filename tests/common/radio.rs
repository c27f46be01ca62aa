//! Radio modems played by the test over pseudo-terminal pairs.
//!
//! wren opens a symlink that points at the pty's slave side; a background
//! task on the master side plays the modem: it answers the gateway's AT
//! commands and probes, turns what a node "sends" into the modem's receive
//! frames or lines, and hands what the gateway transmits back to the test as
//! the node would hear it (MQTT-SN bytes, forwarder header removed). The
//! framings here are written from the vendors' documents, independently of
//! wren's codecs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use bytes::BytesMut;
use data_encoding::{BASE64, HEXUPPER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_serial::{SerialPort, SerialStream};

use rumqttc::QoS;

use super::sn::{self, In, flag, kind};
use super::{Broker, V4, WAIT};
use wren::settings::{RadioSettings, Settings};

/// One `[[radio]]` table, parsed as a user's file would be.
pub fn radio(toml_body: &str) -> RadioSettings {
    let text = format!("[[radio]]\n{toml_body}\n");
    Settings::from_toml(&text).unwrap().radio.remove(0)
}

/// A pty pair behind a symlink that wren opens.
pub struct Pty {
    pub master: SerialStream,
    /// Kept open so the master never reads EIO while wren has the slave closed.
    _slave: SerialStream,
}

impl Pty {
    /// A new pty pair, with `link` (re)pointed at its slave side.
    pub fn at(link: &Path) -> Self {
        let (master, slave) = SerialStream::pair().unwrap();
        let target = slave.name().unwrap();
        let temp = link.with_extension("new");
        let _ = std::fs::remove_file(&temp);
        std::os::unix::fs::symlink(&target, &temp).unwrap();
        // rename() swaps the link atomically: wren sees the old pty or the new one.
        std::fs::rename(&temp, link).unwrap();
        Self {
            master,
            _slave: slave,
        }
    }
}

/// A directory for the symlinks, removed on drop.
pub fn link_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Which modem the task plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// XBee API mode 1 (false) or 2 (true); the node is [`XBEE_NODE`].
    Xbee { escaped: bool },
    /// RAK3172 RUI3 P2P; the node has forwarder node id [`NODE_ID`].
    Rak3172,
    /// REYAX; the node's module address is [`REYAX_NODE`].
    Reyax,
    /// SLIP bridge; the node has forwarder node id [`NODE_ID`].
    Slip,
}

pub const XBEE_NODE: u64 = 0x0013_A200_41B2_C3D4;
pub const XBEE_NODE16: u16 = 0x1A2B;
pub const NODE_ID: [u8; 2] = [0x05, 0x00];
pub const REYAX_NODE: u16 = 5;

/// A node on the far side of a played modem.
pub struct Node {
    to_air: mpsc::Sender<Vec<u8>>,
    from_gateway: mpsc::Receiver<Vec<u8>>,
    task: JoinHandle<()>,
    /// Every line or frame the gateway wrote, for assertions on commands.
    pub log: mpsc::UnboundedReceiver<String>,
    /// XBee: the delivery status for the next transmit (0 = success).
    pub next_delivery: Arc<AtomicU8>,
}

impl Node {
    /// Plays `kind` on `pty`.
    pub fn start(kind: Kind, pty: Pty) -> Self {
        let (to_air, air_rx) = mpsc::channel(16);
        let (gw_tx, from_gateway) = mpsc::channel(64);
        let (log_tx, log) = mpsc::unbounded_channel();
        let next_delivery = Arc::new(AtomicU8::new(0));
        let modem = Modem {
            next_delivery: next_delivery.clone(),
            kind,
            port: pty.master,
            _slave: pty._slave,
            buf: BytesMut::new(),
            to_test: gw_tx,
            log: log_tx,
        };
        let task = tokio::spawn(modem.run(air_rx));
        Self {
            to_air,
            from_gateway,
            task,
            log,
            next_delivery,
        }
    }

    /// The node sends one MQTT-SN message.
    pub async fn send(&self, message: &[u8]) {
        self.to_air.send(message.to_vec()).await.unwrap();
    }

    /// The next message from the gateway of type `kind`, skipping others.
    pub async fn recv_kind(&mut self, kind: u8) -> In {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.from_gateway.recv())
                .await
                .unwrap_or_else(|_| panic!("no message of type {kind:#04x} within {WAIT:?}"))
                .expect("modem task ended");
            let parsed = In::parse(&message);
            if parsed.kind == kind {
                return parsed;
            }
        }
    }

    /// Unplugs: the modem's end of the pty closes.
    pub fn unplug(self) {
        self.task.abort();
    }
}

/// The modem's side of the pty.
struct Modem {
    kind: Kind,
    port: SerialStream,
    _slave: SerialStream,
    buf: BytesMut,
    to_test: mpsc::Sender<Vec<u8>>,
    log: mpsc::UnboundedSender<String>,
    next_delivery: Arc<AtomicU8>,
}

impl Modem {
    async fn run(mut self, mut air: mpsc::Receiver<Vec<u8>>) {
        loop {
            tokio::select! {
                read = self.port.read_buf(&mut self.buf) => match read {
                    Ok(n) if n > 0 => self.on_bytes().await,
                    _ => return,
                },
                message = air.recv() => match message {
                    Some(message) => self.node_sent(&message).await,
                    None => return,
                },
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.port.write_all(bytes).await.unwrap();
    }

    async fn line(&mut self, line: &str) {
        self.write(format!("{line}\r\n").as_bytes()).await;
    }

    /// A node's message, as the modem reports it to the gateway.
    async fn node_sent(&mut self, message: &[u8]) {
        match self.kind {
            Kind::Xbee { escaped } => {
                let mut data = vec![0x90];
                data.extend(XBEE_NODE.to_be_bytes());
                data.extend(XBEE_NODE16.to_be_bytes());
                data.push(0x01);
                data.extend(message);
                self.write(&xbee_frame(&data, escaped)).await;
            }
            Kind::Rak3172 => {
                let hex = HEXUPPER.encode(&forwarded(message));
                self.line(&format!("+EVT:RXP2P:-45:8:{hex}")).await;
            }
            Kind::Reyax => {
                let text = BASE64.encode(message);
                self.line(&format!("+RCV={REYAX_NODE},{},{text},-45,8", text.len()))
                    .await;
            }
            Kind::Slip => self.write(&slip_frame(&forwarded(message))).await,
        }
    }

    async fn on_bytes(&mut self) {
        match self.kind {
            Kind::Xbee { escaped } => {
                while let Some(data) = take_xbee_frame(&mut self.buf, escaped) {
                    self.on_xbee(&data, escaped).await;
                }
            }
            Kind::Rak3172 | Kind::Reyax => {
                while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                    let line = self.buf.split_to(end + 1);
                    let line = String::from_utf8_lossy(&line).trim().to_owned();
                    let _ = self.log.send(line.clone());
                    self.on_command(&line).await;
                }
            }
            Kind::Slip => {
                while let Some(end) = self.buf.iter().position(|&b| b == 0xC0) {
                    let raw = self.buf.split_to(end + 1);
                    if raw.len() > 1 {
                        let payload = slip_payload(&raw[..raw.len() - 1]);
                        self.deliver(&payload).await;
                    }
                }
            }
        }
    }

    /// Hands a forwarder-wrapped payload to the test, unwrapped.
    async fn deliver(&mut self, payload: &[u8]) {
        let _ = self.log.send(HEXUPPER.encode(payload));
        assert_eq!(payload[1], 0xFE, "not a forwarder header: {payload:02X?}");
        let node = &payload[3..payload[0] as usize];
        if node == NODE_ID {
            let _ = self
                .to_test
                .send(payload[payload[0] as usize..].to_vec())
                .await;
        }
    }

    async fn on_xbee(&mut self, data: &[u8], escaped: bool) {
        let _ = self.log.send(HEXUPPER.encode(data));
        match data[0] {
            // AT command: answer the probe as a joined module in this mode.
            0x08 => {
                let value: Vec<u8> = match &data[2..4] {
                    b"AP" => vec![if escaped { 2 } else { 1 }],
                    b"NP" => vec![0x00, 0x54],
                    b"SH" => vec![0x00, 0x13, 0xA2, 0x00],
                    b"SL" => vec![0x41, 0x00, 0x00, 0x01],
                    _ => vec![0x00],
                };
                let mut answer = vec![0x88, data[1], data[2], data[3], 0x00];
                answer.extend(value);
                self.write(&xbee_frame(&answer, escaped)).await;
            }
            // Transmit request: deliver to the node, acknowledge with 0x8B.
            0x10 => {
                let dest64 = u64::from_be_bytes(data[2..10].try_into().unwrap());
                let delivery = self.next_delivery.swap(0, Ordering::SeqCst);
                let status = [0x8B, data[1], 0x1A, 0x2B, 0x00, delivery, 0x00];
                self.write(&xbee_frame(&status, escaped)).await;
                if dest64 == XBEE_NODE {
                    let _ = self.to_test.send(data[14..].to_vec()).await;
                }
            }
            other => panic!("unexpected XBee frame type {other:#04x}"),
        }
    }

    async fn on_command(&mut self, line: &str) {
        match self.kind {
            Kind::Rak3172 => {
                if let Some(hex) = line.strip_prefix("AT+PSEND=") {
                    self.line("OK").await;
                    self.line("+EVT:TXP2P DONE").await;
                    let payload = HEXUPPER.decode(hex.as_bytes()).unwrap();
                    self.deliver(&payload).await;
                } else {
                    self.line("OK").await;
                }
            }
            Kind::Reyax => {
                self.line("+OK").await;
                if let Some(rest) = line.strip_prefix("AT+SEND=") {
                    let mut fields = rest.splitn(3, ',');
                    let address: u16 = fields.next().unwrap().parse().unwrap();
                    let len: usize = fields.next().unwrap().parse().unwrap();
                    let text = fields.next().unwrap();
                    assert_eq!(text.len(), len, "AT+SEND length field");
                    let payload = BASE64.decode(text.as_bytes()).unwrap();
                    if address == REYAX_NODE {
                        let _ = self.to_test.send(payload).await;
                    }
                }
            }
            _ => {}
        }
    }
}

/// MQTT-SN 1.2 §5.5: Length, 0xFE, Ctrl, Wireless Node Id, then the message.
pub fn forwarded(message: &[u8]) -> Vec<u8> {
    let mut out = vec![5, 0xFE, 0x00, NODE_ID[0], NODE_ID[1]];
    out.extend(message);
    out
}

/// An XBee API frame around `data`: 7E, length, data, checksum; escaped for AP=2.
pub fn xbee_frame(data: &[u8], escaped: bool) -> Vec<u8> {
    let sum = data.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    let mut body = (data.len() as u16).to_be_bytes().to_vec();
    body.extend(data);
    body.push(0xFF - sum);
    let mut out = vec![0x7E];
    for b in body {
        if escaped && matches!(b, 0x7E | 0x7D | 0x11 | 0x13) {
            out.extend([0x7D, b ^ 0x20]);
        } else {
            out.push(b);
        }
    }
    out
}

/// Takes one whole frame's data from `buf`, checksum checked.
fn take_xbee_frame(buf: &mut BytesMut, escaped: bool) -> Option<Vec<u8>> {
    let start = buf.iter().position(|&b| b == 0x7E)?;
    let mut bytes = Vec::new();
    let mut i = start + 1;
    while i < buf.len() {
        let b = buf[i];
        if escaped && b == 0x7D {
            bytes.push(*buf.get(i + 1)? ^ 0x20);
            i += 2;
        } else {
            bytes.push(b);
            i += 1;
        }
        if bytes.len() >= 2 {
            let len = u16::from_be_bytes([bytes[0], bytes[1]]) as usize;
            if bytes.len() == len + 3 {
                let _ = buf.split_to(i);
                let data = bytes[2..2 + len].to_vec();
                let sum = data.iter().fold(0u8, |s, b| s.wrapping_add(*b));
                assert_eq!(0xFF - sum, bytes[len + 2], "checksum of {data:02X?}");
                return Some(data);
            }
        }
    }
    None
}

/// CRC-16/XMODEM, bit by bit.
fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// A SLIP frame around `payload` and its CRC (little-endian).
pub fn slip_frame(payload: &[u8]) -> Vec<u8> {
    let mut body = payload.to_vec();
    body.extend(crc16(payload).to_le_bytes());
    let mut out = vec![0xC0];
    for b in body {
        match b {
            0xC0 => out.extend([0xDB, 0xDC]),
            0xDB => out.extend([0xDB, 0xDD]),
            b => out.push(b),
        }
    }
    out.push(0xC0);
    out
}

/// The payload of a SLIP frame's bytes (no END), CRC checked and removed.
fn slip_payload(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        out.push(match (b, b == 0xDB) {
            (_, true) => match bytes.next() {
                Some(0xDC) => 0xC0,
                Some(0xDD) => 0xDB,
                other => panic!("bad SLIP escape {other:?}"),
            },
            (b, false) => b,
        });
    }
    let crc = out.split_off(out.len() - 2);
    assert_eq!(crc16(&out).to_le_bytes(), crc[..], "CRC of {out:02X?}");
    out
}

/// The symlink path for radio `name` in `dir`.
pub fn link_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// CONNECT, REGISTER and PUBLISH reach an MQTT subscriber; an MQTT publish
/// reaches the node. Shared by every radio test.
pub async fn sensor_round_trip(broker: &Broker, node: &mut Node, client_id: &str) {
    let mut mqtt = V4::connect(broker.addr, &format!("{client_id}-sub")).await;
    mqtt.subscribe(&format!("home/{client_id}/#"), QoS::AtLeastOnce)
        .await;

    node.send(&sn::connect(flag::CLEAN, 60, client_id)).await;
    assert_eq!(node.recv_kind(kind::CONNACK).await.body, [0x00]);
    node.send(&sn::register(0, 1, &format!("home/{client_id}/t")))
        .await;
    let (topic, msg_id, rc) = node.recv_kind(kind::REGACK).await.ack();
    assert_eq!((msg_id, rc), (1, 0));
    node.send(&sn::publish(0, sn::id(topic), 0, b"21.5")).await;
    let got = mqtt.recv().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        (format!("home/{client_id}/t").as_str(), &b"21.5"[..])
    );

    node.send(&sn::subscribe_name(0, 2, &format!("cmd/{client_id}")))
        .await;
    let (_, cmd_topic, _, rc) = node.recv_kind(kind::SUBACK).await.suback();
    assert_eq!(rc, 0);
    mqtt.publish(&format!("cmd/{client_id}"), QoS::AtMostOnce, false, b"on")
        .await;
    let (_, topic, _, payload) = node.recv_kind(kind::PUBLISH).await.publish();
    assert_eq!((topic, &payload[..]), (sn::id(cmd_topic), &b"on"[..]));
}
