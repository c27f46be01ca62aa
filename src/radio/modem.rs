//! Line I/O with an AT-command modem over a serial port.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_serial::SerialStream;

use crate::gateway::datagram::Datagram;
use crate::protocol::radio::lines;
use crate::settings::LoraSettings;

/// The longest line a modem sends: a 500-hex-digit RX report plus its header.
const MAX_LINE: usize = 600;
/// A write that takes longer means the line is stuck (flow control with
/// nothing on CTS, or a dead adapter).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// An open port, read as lines.
pub struct Modem {
    port: SerialStream,
    buf: BytesMut,
}

impl Modem {
    pub fn new(port: SerialStream) -> Self {
        Self {
            port,
            buf: BytesMut::with_capacity(1024),
        }
    }

    /// The next non-empty line. Cancel-safe: no bytes are lost if the
    /// future is dropped. EOF or a read error means the device is gone.
    pub async fn read_line(&mut self) -> io::Result<String> {
        loop {
            match lines::next_line(&mut self.buf, MAX_LINE) {
                Ok(Some(line)) => return Ok(line),
                Ok(None) => {}
                Err(error) => tracing::debug!(%error, "modem line dropped"),
            }
            if self.port.read_buf(&mut self.buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Writes `command` and CR LF.
    pub async fn write_line(&mut self, command: &str) -> io::Result<()> {
        let mut line = Vec::with_capacity(command.len() + 2);
        line.extend_from_slice(command.as_bytes());
        line.extend_from_slice(b"\r\n");
        write_all(&mut self.port, &line).await
    }
}

/// Writes `bytes`, failing if the port will not take them in time.
pub async fn write_all(port: &mut SerialStream, bytes: &[u8]) -> io::Result<()> {
    match tokio::time::timeout(WRITE_TIMEOUT, port.write_all(bytes)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "write stalled for 5 s (rtscts on without CTS wired?)",
        )),
    }
}

/// What waiting for a command's answer gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok,
    /// The modem's error line.
    Error(String),
    /// Nothing in time.
    Timeout,
}

/// How long a LoRa transmission may take: its airtime plus slack for the
/// modem's own processing.
pub fn tx_timeout(airtime: Duration) -> Duration {
    airtime + Duration::from_secs(3)
}

/// The wait after a transmission that keeps the share of air time at
/// `duty_cycle` percent.
pub fn duty_cycle_pause(airtime: Duration, duty_cycle: f64) -> Duration {
    let factor = (100.0 / duty_cycle - 1.0).max(0.0);
    airtime.mul_f64(factor)
}

/// Airtime of `len` bytes with `lora` settings.
pub fn airtime(lora: &crate::settings::LoraSettings, len: usize) -> Duration {
    let params = crate::protocol::radio::airtime::LoraParams {
        sf: lora.sf,
        bw_khz: lora.bw,
        cr: lora.cr,
        preamble: lora.preamble,
    };
    Duration::from_micros(crate::protocol::radio::airtime::airtime_us(&params, len))
}

/// A configured LoRa AT modem, as [`serve`] drives it.
pub(super) trait LoraPort {
    fn modem(&mut self) -> &mut Modem;
    /// A line the module sent unasked (a receive report, an event).
    fn on_line(&mut self, line: &str);
    /// Sends one datagram; returns the pause the duty cycle asks for after it.
    async fn transmit(&mut self, datagram: &Datagram, lora: &LoraSettings) -> io::Result<Duration>;
}

/// What woke the serve loop.
enum Step {
    Line(io::Result<String>),
    Send(Option<Datagram>),
}

/// Reads the module's lines and sends the link's datagrams, no sooner than
/// `next_tx`, until the port fails (the error is returned; the caller reopens it).
pub(super) async fn serve(
    port: &mut impl LoraPort,
    outbound: &mut mpsc::Receiver<Datagram>,
    lora: &LoraSettings,
    next_tx: &mut Instant,
) -> io::Error {
    loop {
        let not_before = *next_tx;
        let step = tokio::select! {
            // What the radio said is taken in before the next transmit.
            biased;
            line = port.modem().read_line() => Step::Line(line),
            datagram = async {
                sleep_until(not_before).await;
                outbound.recv().await
            } => Step::Send(datagram),
        };
        match step {
            Step::Line(Ok(line)) => port.on_line(&line),
            Step::Line(Err(error)) => return error,
            Step::Send(None) => return io::Error::other("link closed"),
            Step::Send(Some(datagram)) => match port.transmit(&datagram, lora).await {
                Ok(pause) => *next_tx = Instant::now() + pause,
                Err(error) => return error,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duty_cycle_pause_keeps_the_share() {
        let airtime = Duration::from_millis(50);
        let close = |got: Duration, ms: u64| {
            got.abs_diff(Duration::from_millis(ms)) < Duration::from_millis(1)
        };
        assert!(close(duty_cycle_pause(airtime, 1.0), 4950));
        assert!(close(duty_cycle_pause(airtime, 10.0), 450));
        assert_eq!(duty_cycle_pause(airtime, 100.0), Duration::ZERO);
    }
}
