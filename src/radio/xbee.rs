//! XBee (Zigbee) modules in API mode 1 or 2.
//!
//! On every open the driver asks the module for `AP` (API mode), `NP`
//! (largest payload), `SH`/`SL` (its own address) and `AI` (join state), and
//! says plainly in the log when the module is in transparent mode, in the
//! other API mode, or not joined: the usual reasons a Paho user sees nothing.
//! Nodes are peers by their 64-bit address (permanent); the 16-bit network
//! address, which changes on rejoin, is cached from every frame and used as
//! a routing hint only. Transmits are pipelined by frame id, each with its
//! own timeout, and every failed delivery becomes one log line naming the
//! node and the module's reason.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::time::{Instant, interval};
use tokio_serial::SerialStream;
use tracing::{debug, info, warn};

use super::RadioIo;
use super::modem::write_all;
use crate::gateway::datagram::{Datagram, Peer};
use crate::protocol::radio::xbee::{
    self, ApiMode, BROADCAST64, Frame, FrameError, UNKNOWN16, delivery_name, modem_status_name,
};
use crate::settings::RadioSettings;
use crate::transport::serial::Session;

/// Payload cap until `NP` answers: one unfragmented unicast (Digi, "NP").
pub const DEFAULT_MAX_PAYLOAD: usize = 84;
/// How long a transmit may wait for its status frame. Paho waits 5 s, for
/// one frame at a time; here each frame has its own clock.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);
/// Transmits awaiting status at once; more wait in the link's queue.
const MAX_IN_FLIGHT: usize = 16;
/// How long the startup probe may take before its silence is reported.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The probe: `AP`, `NP`, `SH`, `SL`, `AI`, with frame ids 1 to 5.
const PROBE: [[u8; 2]; 5] = [*b"AP", *b"NP", *b"SH", *b"SL", *b"AI"];

/// The XBee driver; lives as long as the link.
pub struct XBee {
    io: RadioIo,
    mode: ApiMode,
    /// 16-bit network address last seen per 64-bit address.
    short: HashMap<u64, u16>,
}

/// One port session's state.
struct Port {
    port: SerialStream,
    in_flight: HashMap<u8, InFlight>,
    ids: FrameIds,
    probe_answered: bool,
    probe_deadline: Option<Instant>,
    noise: usize,
    address: (Option<u32>, Option<u32>),
}

struct InFlight {
    dest64: u64,
    deadline: Instant,
}

enum Step {
    Read(io::Result<usize>),
    Send(Option<Datagram>),
    Tick,
}

impl XBee {
    pub fn new(io: RadioIo, settings: &RadioSettings) -> Self {
        let mode = ApiMode::from_ap(settings.api_mode()).unwrap_or(ApiMode::Escaped);
        Self {
            io,
            mode,
            short: HashMap::new(),
        }
    }
}

impl Session for XBee {
    async fn run(&mut self, port: SerialStream) -> io::Error {
        let mut port = Port {
            port,
            in_flight: HashMap::new(),
            ids: FrameIds::default(),
            probe_answered: false,
            probe_deadline: Some(Instant::now() + PROBE_TIMEOUT),
            noise: 0,
            address: (None, None),
        };
        if let Err(error) = self.probe(&mut port).await {
            return error;
        }
        let mut buf = BytesMut::with_capacity(1024);
        let mut tick = interval(Duration::from_millis(250));
        loop {
            let room = port.in_flight.len() < MAX_IN_FLIGHT;
            let step = tokio::select! {
                read = port.port.read_buf(&mut buf) => Step::Read(read),
                datagram = self.io.outbound.recv(), if room => Step::Send(datagram),
                _ = tick.tick() => Step::Tick,
            };
            let result = match step {
                Step::Read(Ok(0)) => Err(io::ErrorKind::UnexpectedEof.into()),
                Step::Read(Ok(_)) => {
                    self.on_bytes(&mut port, &mut buf);
                    Ok(())
                }
                Step::Read(Err(error)) => Err(error),
                Step::Send(None) => Err(io::Error::other("link closed")),
                Step::Send(Some(datagram)) => self.transmit(&mut port, &datagram).await,
                Step::Tick => {
                    self.on_tick(&mut port);
                    Ok(())
                }
            };
            if let Err(error) = result {
                return error;
            }
        }
    }
}

impl XBee {
    async fn probe(&self, port: &mut Port) -> io::Result<()> {
        let mut out = BytesMut::new();
        for (id, command) in (1u8..).zip(PROBE) {
            let frame = Frame::AtCommand {
                frame_id: id,
                command,
                param: Bytes::new(),
            };
            xbee::encode(&frame, self.mode, &mut out);
        }
        write_all(&mut port.port, &out).await
    }

    fn on_bytes(&mut self, port: &mut Port, buf: &mut BytesMut) {
        loop {
            match xbee::decode(buf, self.mode) {
                Ok(Some(frame)) => self.on_frame(port, frame),
                Ok(None) => return,
                Err(FrameError::Noise(n)) => {
                    port.noise += n;
                    debug!(len = n, "bytes outside API frames dropped");
                }
                Err(error) => debug!(%error, "XBee frame dropped"),
            }
        }
    }

    fn on_frame(&mut self, port: &mut Port, frame: Frame) {
        match frame {
            Frame::Receive {
                src64, src16, data, ..
            } => {
                self.short.insert(src64, src16);
                self.io.inbound.deliver(peer_of(src64), data);
            }
            Frame::TransmitStatus {
                frame_id,
                dest16,
                retries,
                delivery,
                ..
            } => self.on_status(port, frame_id, dest16, retries, delivery),
            Frame::ModemStatus(code) => {
                info!(status = modem_status_name(code), code, "XBee modem status")
            }
            Frame::AtResponse {
                command,
                status,
                data,
                ..
            } => self.on_at_response(port, command, status, &data),
            other => debug!(?other, "XBee frame ignored"),
        }
    }

    fn on_status(&mut self, port: &mut Port, frame_id: u8, dest16: u16, retries: u8, delivery: u8) {
        let Some(sent) = port.in_flight.remove(&frame_id) else {
            debug!(frame_id, "transmit status for no frame in flight");
            return;
        };
        let peer = peer_of(sent.dest64);
        if delivery == 0 {
            if sent.dest64 != BROADCAST64 && dest16 < UNKNOWN16 {
                self.short.insert(sent.dest64, dest16);
            }
            debug!(%peer, retries, "XBee delivery confirmed");
            return;
        }
        // A stale 16-bit address makes every later frame fail the same way:
        // forget it so the module discovers the node again.
        self.short.remove(&sent.dest64);
        warn!(
            %peer,
            reason = delivery_name(delivery),
            code = format_args!("{delivery:#04x}"),
            retries,
            "XBee could not deliver to the node"
        );
    }

    fn on_at_response(&self, port: &mut Port, command: [u8; 2], status: u8, data: &[u8]) {
        port.probe_answered = true;
        let name = String::from_utf8_lossy(&command).into_owned();
        if status != 0 {
            warn!(command = %name, status, "XBee refused an AT query");
            return;
        }
        let value = data.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        match &command {
            b"AP" => self.on_api_mode(value),
            b"NP" => {
                let max = usize::try_from(value)
                    .unwrap_or(usize::MAX)
                    .min(xbee::MAX_RF_DATA);
                self.io.max_payload.store(max, Ordering::Relaxed);
                info!(max_payload = max, "XBee payload limit (NP)");
            }
            b"SH" => port.address.0 = Some(value),
            b"SL" => port.address.1 = Some(value),
            b"AI" if value == 0 => info!("XBee joined to the network (AI=0)"),
            b"AI" => warn!(
                ai = format_args!("{value:#04x}"),
                "XBee not joined to a network: nodes cannot be reached until it is (check ID, CE, NJ)"
            ),
            _ => {}
        }
        if let (Some(high), Some(low)) = port.address {
            info!(
                address = format_args!("{high:08X}{low:08X}"),
                "XBee module address"
            );
            port.address = (None, None);
        }
    }

    fn on_api_mode(&self, ap: u32) {
        let configured = match self.mode {
            ApiMode::Plain => 1,
            ApiMode::Escaped => 2,
        };
        if ap == configured {
            debug!(ap, "XBee API mode as configured");
        } else {
            warn!(
                ap,
                configured,
                "XBee API mode differs from radio.api_mode: escaped bytes will be misread; set one to match"
            );
        }
    }

    fn on_tick(&self, port: &mut Port) {
        let now = Instant::now();
        port.in_flight.retain(|frame_id, sent| {
            if sent.deadline > now {
                return true;
            }
            warn!(peer = %peer_of(sent.dest64), frame_id, "no transmit status from the XBee within 5 s");
            false
        });
        if port.probe_deadline.is_some_and(|deadline| deadline <= now) {
            port.probe_deadline = None;
            if port.probe_answered {
                return;
            }
            if port.noise > 0 {
                warn!(
                    noise = port.noise,
                    "XBee sends bytes that are not API frames: the module is in transparent mode (AP=0) or at another baud rate; set AP=2 (or AP=1 and radio.api_mode = 1)"
                );
            } else {
                warn!(
                    "XBee does not answer AT queries in API mode: check the port, baud rate and AP setting"
                );
            }
        }
    }

    async fn transmit(&mut self, port: &mut Port, datagram: &Datagram) -> io::Result<()> {
        let Some(dest64) = address_of(&datagram.peer) else {
            debug!(peer = %datagram.peer, "not an XBee address; datagram dropped");
            return Ok(());
        };
        let dest16 = match dest64 {
            BROADCAST64 => UNKNOWN16,
            _ => self.short.get(&dest64).copied().unwrap_or(UNKNOWN16),
        };
        let frame_id = port.ids.next(&port.in_flight);
        let frame = Frame::Transmit {
            frame_id,
            dest64,
            dest16,
            radius: 0,
            options: 0,
            data: datagram.payload.clone(),
        };
        let mut out = BytesMut::new();
        xbee::encode(&frame, self.mode, &mut out);
        port.in_flight.insert(
            frame_id,
            InFlight {
                dest64,
                deadline: Instant::now() + STATUS_TIMEOUT,
            },
        );
        write_all(&mut port.port, &out).await
    }
}

/// Frame ids for transmits; the probe uses 1 to 5 at the start of a session.
#[derive(Debug)]
struct FrameIds {
    last: u8,
}

impl Default for FrameIds {
    fn default() -> Self {
        Self {
            last: PROBE.len() as u8,
        }
    }
}

impl FrameIds {
    /// The next id in 1..=255 (0 would ask for no status) not in flight.
    fn next<T>(&mut self, in_flight: &HashMap<u8, T>) -> u8 {
        for _ in 0..255 {
            self.last = self.last.checked_add(1).unwrap_or(1);
            if !in_flight.contains_key(&self.last) {
                break;
            }
        }
        self.last
    }
}

/// The peer for a 64-bit address: its 8 octets, big-endian.
fn peer_of(address: u64) -> Peer {
    Peer::Radio(Bytes::copy_from_slice(&address.to_be_bytes()))
}

fn address_of(peer: &Peer) -> Option<u64> {
    match peer {
        Peer::Radio(octets) => Some(u64::from_be_bytes(octets.as_ref().try_into().ok()?)),
        Peer::Udp(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_ids_cycle_through_1_to_255_skipping_those_in_flight() {
        let mut ids = FrameIds::default();
        let mut in_flight = HashMap::new();
        assert_eq!(ids.next(&in_flight), PROBE.len() as u8 + 1);
        in_flight.insert(7u8, ());
        in_flight.insert(8u8, ());
        assert_eq!(ids.next(&in_flight), 9);
        ids.last = 254;
        assert_eq!(ids.next(&in_flight), 255);
        assert_eq!(ids.next(&in_flight), 1, "0 would ask for no status");
    }

    #[test]
    fn peers_are_64_bit_addresses() {
        let peer = peer_of(0x0013_A200_41B2_C3D4);
        assert_eq!(peer.to_string(), "0013a20041b2c3d4");
        assert_eq!(address_of(&peer), Some(0x0013_A200_41B2_C3D4));
        assert_eq!(address_of(&Peer::Radio(Bytes::from_static(&[1, 2]))), None);
    }
}
