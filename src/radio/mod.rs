//! Serial radio links: each `[[radio]]` becomes a [`LinkTransport`] that an
//! `SnLink` drives like a UDP socket, so its nodes are ordinary `SnClient`s.
//!
//! # Layout
//!
//! ```text
//! mod.rs    start(): channels between the link and the port task; the sink
//! xbee      XBee API: startup probe, pipelined transmit with status per frame
//! modem     line I/O shared by the AT-command modems
//! rak3172   RAK3172 RUI3 P2P: configure, PRECV/PSEND/TXP2P DONE, pacing
//! reyax     REYAX RYLR: AT+SEND / +RCV, +ERR codes by name, pacing
//! slip      the SLIP + CRC-16 serial bridge
//! ```
//!
//! The port task (one per radio, `transport::serial::supervise`) owns the
//! serial port and outlives it: when the dongle is unplugged the channels
//! stay, the `SnLink` and its clients keep their state, and the task reopens
//! the port with backoff. Backpressure: the link's sends go into a bounded
//! channel; when it is full (the radio is slower than the gateway, or the
//! port is gone) the datagram is dropped and the send reported failed, as a
//! lossy network would. Received datagrams the link cannot take are dropped
//! and counted the same way.

pub mod modem;
pub mod rak3172;
pub mod reyax;
pub mod slip;
pub mod xbee;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::stream;
use tokio::sync::mpsc;
use tracing::debug;

use crate::gateway::datagram::{Datagram, DatagramSink, LinkTransport, Peer};
use crate::settings::{RadioKind, RadioSettings};
use crate::transport::serial::{self, PortConfig};

/// Datagrams waiting for the radio; a LoRa modem sends a few per second.
const OUTBOUND_QUEUE: usize = 32;
/// Datagrams waiting for the link.
const INBOUND_QUEUE: usize = 64;

/// What a driver shares with the link across port sessions.
pub struct RadioIo {
    pub inbound: Inbound,
    /// Datagrams from the link, to transmit.
    pub outbound: mpsc::Receiver<Datagram>,
    /// The largest payload the radio carries now (XBee: `NP` once probed).
    pub max_payload: Arc<AtomicUsize>,
}

/// The way to the link for received datagrams.
#[derive(Clone)]
pub struct Inbound {
    /// `kind:name`, for logs.
    pub link: Arc<str>,
    tx: mpsc::Sender<Datagram>,
    /// Received datagrams dropped because the link was busy.
    pub dropped: Arc<AtomicU64>,
}

impl Inbound {
    /// Hands a received datagram to the link; dropped (and counted) when it is busy.
    pub fn deliver(&self, peer: Peer, payload: Bytes) {
        if let Err(error) = self.tx.try_send(Datagram { peer, payload }) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            debug!(link = %self.link, %error, "received datagram dropped");
        }
    }
}

/// The link's sending side: a bounded channel into the port task.
struct RadioSink {
    tx: mpsc::Sender<Datagram>,
    max_payload: Arc<AtomicUsize>,
}

impl DatagramSink for RadioSink {
    fn send(&self, datagram: &Datagram) -> io::Result<()> {
        let max = self.max_payload.load(Ordering::Relaxed);
        if datagram.payload.len() > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} bytes exceed the radio's {max}-byte payload",
                    datagram.payload.len()
                ),
            ));
        }
        self.tx
            .try_send(datagram.clone())
            .map_err(|_| io::Error::new(io::ErrorKind::WouldBlock, "radio queue full or closed"))
    }
}

/// A running radio link: the transport for `SnLink::start`, and the port task.
pub struct Radio {
    pub transport: LinkTransport,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts the port task for `settings` on the current runtime. Never fails:
/// a port that is missing now is retried until it appears.
pub fn start(settings: &RadioSettings) -> Radio {
    let (out_tx, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
    let (in_tx, in_rx) = mpsc::channel(INBOUND_QUEUE);
    let max_payload = Arc::new(AtomicUsize::new(initial_max_payload(settings)));
    let link: Arc<str> = format!("{}:{}", settings.kind.as_str(), settings.name).into();
    let io = RadioIo {
        inbound: Inbound {
            link: link.clone(),
            tx: in_tx,
            dropped: Arc::default(),
        },
        outbound: out_rx,
        max_payload: max_payload.clone(),
    };
    let port = PortConfig {
        path: settings.port.clone(),
        baud: settings.baud(),
        rtscts: settings.rtscts,
        dtr_on_open: settings.dtr_on_open,
    };
    let span = tracing::info_span!("radio", link = %link);
    let task = match settings.kind {
        RadioKind::Xbee => spawn(port, xbee::XBee::new(io, settings), span),
        RadioKind::Rak3172 => spawn(port, rak3172::Rak3172::new(io, settings), span),
        RadioKind::Reyax => spawn(port, reyax::Reyax::new(io, settings), span),
        RadioKind::Slip => spawn(port, slip::Slip::new(io), span),
    };
    let inbound = Box::pin(stream::unfold(in_rx, |mut rx| async move {
        rx.recv().await.map(|datagram| (datagram, rx))
    }));
    Radio {
        transport: LinkTransport {
            name: link.to_string(),
            inbound,
            outbound: Arc::new(RadioSink {
                tx: out_tx,
                max_payload,
            }),
            advertise_to: Some(broadcast_peer(settings.kind)),
        },
        task,
    }
}

fn spawn(
    port: PortConfig,
    session: impl serial::Session + 'static,
    span: tracing::Span,
) -> tokio::task::JoinHandle<()> {
    use tracing::Instrument;
    actix::spawn(serial::supervise(port, session).instrument(span))
}

fn initial_max_payload(settings: &RadioSettings) -> usize {
    match settings.kind {
        RadioKind::Xbee => xbee::DEFAULT_MAX_PAYLOAD,
        RadioKind::Rak3172 => crate::protocol::radio::rak3172::MAX_PAYLOAD - FE_BROADCAST_HEADER,
        RadioKind::Reyax => settings.encoding().max_payload(),
        RadioKind::Slip => crate::protocol::radio::slip::MAX_PAYLOAD - FE_BROADCAST_HEADER,
    }
}

/// Where ADVERTISE goes on each kind of radio.
fn broadcast_peer(kind: RadioKind) -> Peer {
    match kind {
        RadioKind::Xbee => Peer::Radio(Bytes::copy_from_slice(
            &crate::protocol::radio::xbee::BROADCAST64.to_be_bytes(),
        )),
        RadioKind::Reyax => Peer::Radio(Bytes::copy_from_slice(
            &crate::protocol::radio::reyax::BROADCAST.to_be_bytes(),
        )),
        RadioKind::Rak3172 | RadioKind::Slip => Peer::Radio(Bytes::from_static(&BROADCAST_NODE)),
    }
}

/// The peer of every node behind a forwarder header (RAK3172, SLIP): the
/// nodes differ by their node id, which the link reads from the header.
pub(crate) fn forwarder_peer() -> Peer {
    Peer::Radio(Bytes::new())
}

/// Wireless node id 0xFFFF: every node (notes/radio.md §2).
const BROADCAST_NODE: [u8; 2] = [0xFF, 0xFF];
/// Bytes the broadcast forwarder header adds.
const FE_BROADCAST_HEADER: usize = 5;

/// The bytes to put on air for `datagram` on a forwarder-header radio: as
/// the link framed it, but a broadcast (ADVERTISE) gets the forwarder
/// header with node id 0xFFFF (MQTT-SN 1.2 §5.5: Length, 0xFE, Ctrl,
/// Wireless Node Id), so nodes see one format only.
pub(crate) fn forwarder_payload(datagram: &Datagram) -> Bytes {
    if datagram.peer != Peer::Radio(Bytes::from_static(&BROADCAST_NODE)) {
        return datagram.payload.clone();
    }
    let mut out = BytesMut::with_capacity(FE_BROADCAST_HEADER + datagram.payload.len());
    // Length 5 = Length, MsgType and Ctrl octets plus the 2-octet node id.
    out.put_slice(&[0x05, 0xFE, 0x00]);
    out.put_slice(&BROADCAST_NODE);
    out.put_slice(&datagram.payload);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(peer: Peer, payload: &'static [u8]) -> Datagram {
        Datagram {
            peer,
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn broadcasts_get_the_forwarder_header_for_every_node() {
        let advertise = datagram(
            broadcast_peer(RadioKind::Slip),
            &[0x05, 0x00, 0x01, 0x03, 0x84],
        );
        assert_eq!(
            &forwarder_payload(&advertise)[..],
            [0x05, 0xFE, 0x00, 0xFF, 0xFF, 0x05, 0x00, 0x01, 0x03, 0x84]
        );
        // A unicast was framed by the link already (it carries the node id).
        let connack = datagram(
            forwarder_peer(),
            &[0x05, 0xFE, 0x00, 0x05, 0x00, 0x03, 0x05, 0x00],
        );
        assert_eq!(forwarder_payload(&connack), connack.payload);
    }

    #[test]
    fn the_sink_drops_when_full_and_refuses_oversize() {
        let (tx, mut rx) = mpsc::channel(1);
        let sink = RadioSink {
            tx,
            max_payload: Arc::new(AtomicUsize::new(4)),
        };
        let small = datagram(forwarder_peer(), b"abcd");
        assert!(sink.send(&small).is_ok());
        let full = sink.send(&small).map_err(|e| e.kind());
        assert_eq!(full, Err(io::ErrorKind::WouldBlock));
        let oversize = sink
            .send(&datagram(forwarder_peer(), b"abcde"))
            .map_err(|e| e.kind());
        assert_eq!(oversize, Err(io::ErrorKind::InvalidInput));
        assert_eq!(rx.try_recv().map(|d| d.payload), Ok(small.payload));
    }

    #[test]
    fn broadcast_peers_by_kind() {
        let xbee = broadcast_peer(RadioKind::Xbee);
        assert_eq!(xbee.to_string(), "000000000000ffff");
        assert_eq!(broadcast_peer(RadioKind::Reyax).to_string(), "0000");
        assert_eq!(broadcast_peer(RadioKind::Rak3172).to_string(), "ffff");
    }
}
