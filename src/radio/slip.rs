//! The generic serial bridge: SLIP frames with a CRC-16/XMODEM, each holding
//! one MQTT-SN message in a forwarder header that names the radio node.
//!
//! Any microcontroller with any radio (nRF24, RFM69, SX127x) can be the
//! bridge; it needs no AT dialect and no state, so the driver only frames.

use std::io;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio_serial::SerialStream;
use tracing::debug;

use super::modem::write_all;
use super::{RadioIo, forwarder_payload, forwarder_peer};
use crate::protocol::radio::slip;
use crate::transport::serial::Session;

/// The SLIP bridge driver; lives as long as the link.
pub struct Slip {
    io: RadioIo,
}

impl Slip {
    pub fn new(io: RadioIo) -> Self {
        Self { io }
    }
}

impl Session for Slip {
    async fn run(&mut self, mut port: SerialStream) -> io::Error {
        let mut buf = BytesMut::with_capacity(2048);
        let mut out = BytesMut::with_capacity(600);
        loop {
            let step = tokio::select! {
                read = port.read_buf(&mut buf) => Step::Read(read),
                datagram = self.io.outbound.recv() => Step::Send(datagram),
            };
            match step {
                Step::Read(Ok(0)) => return io::ErrorKind::UnexpectedEof.into(),
                Step::Read(Ok(_)) => self.on_bytes(&mut buf),
                Step::Read(Err(error)) => return error,
                Step::Send(None) => return io::Error::other("link closed"),
                Step::Send(Some(datagram)) => {
                    out.clear();
                    slip::encode(&forwarder_payload(&datagram), &mut out);
                    if let Err(error) = write_all(&mut port, &out).await {
                        return error;
                    }
                }
            }
        }
    }
}

/// What woke the session loop.
enum Step {
    Read(io::Result<usize>),
    Send(Option<crate::gateway::datagram::Datagram>),
}

impl Slip {
    fn on_bytes(&self, buf: &mut BytesMut) {
        loop {
            match slip::decode(buf) {
                Ok(Some(payload)) => self.io.inbound.deliver(forwarder_peer(), payload),
                Ok(None) => return,
                Err(error) => debug!(%error, "SLIP frame dropped"),
            }
        }
    }
}
