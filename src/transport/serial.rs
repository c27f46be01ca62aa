//! Serial ports for radio links: opening one, and keeping it open.
//!
//! A USB dongle can vanish at any time (EOF or EIO on read, ENOENT on
//! reopen). [`supervise`] runs a driver's session on the open port, and when
//! the port goes away or cannot be opened, retries with a backoff from 1 s
//! to 64 s, logging one line when the port goes and one when it is back:
//! never a line per retry. Polling the path needs no udev, so it works in
//! containers and CI alike.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use tokio_serial::{FlowControl, SerialPortBuilderExt, SerialStream};
use tracing::{debug, info, warn};

/// The first wait before reopening.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
/// The longest wait between reopen attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(64);
/// A session that lasted this long was a real connection: the next outage
/// starts again from the shortest wait.
const STABLE: Duration = Duration::from_secs(10);

/// How to open one serial port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortConfig {
    pub path: String,
    pub baud: u32,
    /// RTS/CTS hardware flow control.
    pub rtscts: bool,
    /// Assert DTR once open. Without it wren leaves DTR alone, so an Arduino
    /// bridge is not reset by wren (Linux itself raises DTR on open unless
    /// `stty -F PORT -hupcl` was run once).
    pub dtr_on_open: bool,
}

/// Opens `config.path` as a raw 8N1 port, exclusively.
pub fn open(config: &PortConfig) -> io::Result<SerialStream> {
    let mut builder = tokio_serial::new(&config.path, config.baud).flow_control(if config.rtscts {
        FlowControl::Hardware
    } else {
        FlowControl::None
    });
    if config.dtr_on_open {
        builder = builder.dtr_on_open(true);
    }
    builder.open_native_async().map_err(io::Error::from)
}

/// One kind of radio's protocol over an open port.
pub trait Session {
    /// Talks to the device until it goes away; returns why.
    fn run(&mut self, port: SerialStream) -> impl Future<Output = io::Error>;
}

/// Waits that double from [`BACKOFF_MIN`] to [`BACKOFF_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: BACKOFF_MIN }
    }
}

impl Backoff {
    /// The wait to take now; the one after is twice as long, up to the cap.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        wait
    }

    /// Starts again from the shortest wait.
    pub fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }
}

/// Opens the port and runs `session` on it, forever: every time the port
/// goes away or will not open, waits (with backoff) and tries again.
pub async fn supervise(config: PortConfig, mut session: impl Session) {
    let mut backoff = Backoff::default();
    // Whether the port is known to be missing: "gone" and "back" are logged
    // once each, the retries in between only at debug level.
    let mut missing = false;
    loop {
        match open(&config) {
            Ok(port) => {
                if missing {
                    info!(port = %config.path, "serial port is back");
                } else {
                    info!(port = %config.path, baud = config.baud, "serial port open");
                }
                let opened = Instant::now();
                let error = session.run(port).await;
                warn!(port = %config.path, %error, "serial port gone; reopening with backoff");
                missing = true;
                if opened.elapsed() >= STABLE {
                    backoff.reset();
                }
            }
            Err(error) if missing => {
                debug!(port = %config.path, %error, "serial port still missing");
            }
            Err(error) => {
                warn!(port = %config.path, %error, "cannot open serial port; retrying with backoff (1 s to 64 s)");
                missing = true;
            }
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..9).map(|_| backoff.next_wait().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
        backoff.reset();
        assert_eq!(backoff.next_wait(), BACKOFF_MIN);
    }

    #[test]
    fn a_missing_port_is_an_error_not_a_panic() {
        let config = PortConfig {
            path: "/dev/wren-no-such-port".into(),
            baud: 9600,
            rtscts: false,
            dtr_on_open: false,
        };
        let error = open(&config).err().map(|e| e.kind());
        assert_eq!(error, Some(io::ErrorKind::NotFound));
    }
}
