//! REYAX RYLR896/406/998/498 LoRa modules.
//!
//! The module has an address of its own (0–65535) and reports the sender's
//! with every `+RCV`, so each node is a peer by its module address and no
//! forwarder header is needed. Payloads go as base64 or hex text (the module
//! parses lines); `+ERR=` answers are logged by name. Transmits are paced by
//! the airtime of the text actually sent and the duty cycle.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, timeout_at};
use tokio_serial::SerialStream;
use tracing::{debug, info, warn};

use super::modem::{self, Modem, Reply};
use super::{Inbound, RadioIo};
use crate::gateway::datagram::{Datagram, Peer};
use crate::protocol::radio::reyax::{self as at, Encoding, Event};
use crate::settings::{LoraSettings, RadioSettings};
use crate::transport::serial::Session;

/// Time for an answer to a command; `AT+SEND` answers once the packet is out.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// The REYAX driver; lives as long as the link.
pub struct Reyax {
    io: RadioIo,
    encoding: Encoding,
    lora: LoraSettings,
    setup: Vec<String>,
    next_tx: Instant,
}

struct Port<'a> {
    modem: Modem,
    encoding: Encoding,
    inbound: &'a Inbound,
}

impl Reyax {
    pub fn new(io: RadioIo, settings: &RadioSettings) -> Self {
        let lora = settings.lora();
        let mut setup = Vec::new();
        if let Some(address) = settings.address {
            setup.push(format!("AT+ADDRESS={address}"));
        }
        if let Some(id) = settings.network_id {
            setup.push(format!("AT+NETWORKID={id}"));
        }
        if let Some(frequency_hz) = lora.frequency {
            // AT+BAND and AT+PARAMETER, from the shared command builder.
            let radio = at::setup(&at::Config {
                address: 0,
                network_id: 0,
                frequency_hz,
                sf: lora.sf,
                bw_khz: lora.bw,
                cr: lora.cr,
                preamble: lora.preamble,
            });
            setup.extend(radio.into_iter().skip(2));
        }
        Self {
            io,
            encoding: settings.encoding(),
            lora,
            setup,
            next_tx: Instant::now(),
        }
    }
}

impl Session for Reyax {
    async fn run(&mut self, port: SerialStream) -> io::Error {
        let mut port = Port {
            modem: Modem::new(port),
            encoding: self.encoding,
            inbound: &self.io.inbound,
        };
        let probe = std::iter::once("AT".to_owned()).chain(self.setup.iter().cloned());
        for command in probe {
            match port.command(&command).await {
                Ok(Reply::Ok) => {}
                Ok(Reply::Error(error)) => {
                    warn!(%command, %error, "REYAX refused a set-up command")
                }
                Ok(Reply::Timeout) => {
                    warn!(%command, "no answer from the REYAX module (port, baud rate?)")
                }
                Err(error) => return error,
            }
        }
        info!(encoding = ?self.encoding, "REYAX module ready");
        modem::serve(
            &mut port,
            &mut self.io.outbound,
            &self.lora,
            &mut self.next_tx,
        )
        .await
    }
}

impl Port<'_> {
    /// Sends `command` and waits for `+OK` or `+ERR`, delivering packets meanwhile.
    async fn command(&mut self, command: &str) -> io::Result<Reply> {
        self.modem.write_line(command).await?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let Ok(line) = timeout_at(deadline, self.modem.read_line()).await else {
                return Ok(Reply::Timeout);
            };
            match at::parse(&line?, self.encoding) {
                Event::Ok => return Ok(Reply::Ok),
                Event::Error(code) => {
                    return Ok(Reply::Error(format!(
                        "+ERR={code} ({})",
                        at::error_name(code)
                    )));
                }
                other => self.on_event(other),
            }
        }
    }

    fn on_line(&self, line: &str) {
        self.on_event(at::parse(line, self.encoding));
    }

    fn on_event(&self, event: Event) {
        match event {
            Event::Received {
                address,
                data,
                rssi,
                snr,
            } => {
                debug!(address, rssi, snr, len = data.len(), "LoRa packet received");
                let peer = Peer::Radio(Bytes::copy_from_slice(&address.to_be_bytes()));
                self.inbound.deliver(peer, data);
            }
            Event::Ready => info!("REYAX module restarted"),
            Event::Error(code) => warn!(code, error = at::error_name(code), "REYAX error"),
            other => debug!(?other, "REYAX line"),
        }
    }

    /// `AT+SEND`; returns the pause the duty cycle asks for after it.
    async fn transmit(&mut self, datagram: &Datagram, lora: &LoraSettings) -> io::Result<Duration> {
        let address = match &datagram.peer {
            Peer::Radio(octets) if octets.len() == 2 => u16::from_be_bytes([octets[0], octets[1]]),
            other => {
                debug!(peer = %other, "not a REYAX address; datagram dropped");
                return Ok(Duration::ZERO);
            }
        };
        let Some(command) = at::send(address, &datagram.payload, self.encoding) else {
            warn!(
                peer = address,
                len = datagram.payload.len(),
                "datagram too large for one AT+SEND; dropped"
            );
            return Ok(Duration::ZERO);
        };
        // The text after the second comma travels over the air as written.
        let on_air = command.splitn(3, ',').nth(2).map_or(0, str::len);
        let airtime = modem::airtime(lora, on_air);
        match self.command(&command).await? {
            Reply::Ok => debug!(peer = address, len = on_air, ?airtime, "LoRa packet sent"),
            Reply::Error(error) => warn!(peer = address, %error, "REYAX refused a packet"),
            Reply::Timeout => warn!(peer = address, "REYAX did not answer AT+SEND"),
        }
        Ok(modem::duty_cycle_pause(airtime, lora.duty_cycle))
    }
}

impl modem::LoraPort for Port<'_> {
    fn modem(&mut self) -> &mut Modem {
        &mut self.modem
    }

    fn on_line(&mut self, line: &str) {
        Port::on_line(self, line);
    }

    async fn transmit(&mut self, datagram: &Datagram, lora: &LoraSettings) -> io::Result<Duration> {
        Port::transmit(self, datagram, lora).await
    }
}
