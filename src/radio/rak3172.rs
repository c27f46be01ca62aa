//! RAK3172 (RUI3 firmware) in LoRa P2P mode.
//!
//! At start: stop receiving, select P2P (`AT+NWM=0`), write the radio
//! settings when `frequency` is set, then receive continuously. A transmit
//! is the dance RUI3 requires, since `AT+PSEND` while receiving answers
//! `AT_BUSY_ERROR`: `AT+PRECV=0` → `AT+PSEND=<hex>` → `+EVT:TXP2P DONE` →
//! `AT+PRECV=65534`. Transmits are paced by airtime and duty cycle. Every
//! node's MQTT-SN rides in a forwarder header, so the link tells nodes apart.

use std::io;
use std::time::Duration;

use tokio::time::{Instant, timeout_at};
use tokio_serial::SerialStream;
use tracing::{debug, info, warn};

use super::modem::{self, Modem, Reply};
use super::{Inbound, RadioIo, forwarder_payload, forwarder_peer};
use crate::gateway::datagram::Datagram;
use crate::protocol::radio::rak3172::{self as at, Event, P2pConfig, Parser};
use crate::settings::{LoraSettings, RadioSettings};
use crate::transport::serial::Session;

/// Time for an answer to a configuration command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// The RAK3172 driver; lives as long as the link.
pub struct Rak3172 {
    io: RadioIo,
    lora: LoraSettings,
    /// Not before this instant may the next packet go (duty cycle).
    next_tx: Instant,
}

/// One port session.
struct Port<'a> {
    modem: Modem,
    parser: Parser,
    inbound: &'a Inbound,
}

impl Rak3172 {
    pub fn new(io: RadioIo, settings: &RadioSettings) -> Self {
        Self {
            io,
            lora: settings.lora(),
            next_tx: Instant::now(),
        }
    }

    fn setup_commands(&self) -> Vec<String> {
        let mut commands = vec![at::precv(0), at::P2P_MODE.to_owned()];
        if let Some(frequency_hz) = self.lora.frequency {
            commands.push(at::p2p(&P2pConfig {
                frequency_hz,
                sf: self.lora.sf,
                bw_khz: self.lora.bw,
                // RUI3 numbers coding rates 0 (4/5) to 3 (4/8).
                cr: self.lora.cr.saturating_sub(1),
                preamble: self.lora.preamble,
                tx_power_dbm: self.lora.tx_power,
            }));
        }
        commands.push(at::precv(at::RECEIVE_CONTINUOUS));
        commands
    }
}

impl Session for Rak3172 {
    async fn run(&mut self, port: SerialStream) -> io::Error {
        let mut port = Port {
            modem: Modem::new(port),
            parser: Parser::default(),
            inbound: &self.io.inbound,
        };
        let mut answered = false;
        for command in self.setup_commands() {
            match port
                .command(&command, Instant::now() + COMMAND_TIMEOUT)
                .await
            {
                Ok(Reply::Ok) => answered = true,
                Ok(Reply::Error(error)) => {
                    answered = true;
                    warn!(%command, %error, "RAK3172 refused a set-up command");
                }
                Ok(Reply::Timeout) => {
                    warn!(%command, "no answer from the RAK3172 (port, baud rate?)")
                }
                Err(error) => return error,
            }
        }
        if answered {
            info!("RAK3172 in LoRa P2P mode, receiving");
        }
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
    /// Sends `command`, handling other lines, until OK, an error or `deadline`.
    async fn command(&mut self, command: &str, deadline: Instant) -> io::Result<Reply> {
        self.modem.write_line(command).await?;
        self.wait_for(deadline, |event| match event {
            Event::Ok => Some(Reply::Ok),
            Event::Error(error) => Some(Reply::Error(error.clone())),
            _ => None,
        })
        .await
    }

    /// Reads lines until `done` picks one, or `deadline`; receive reports
    /// that arrive meanwhile are delivered.
    async fn wait_for(
        &mut self,
        deadline: Instant,
        done: impl Fn(&Event) -> Option<Reply>,
    ) -> io::Result<Reply> {
        loop {
            let Ok(line) = timeout_at(deadline, self.modem.read_line()).await else {
                return Ok(Reply::Timeout);
            };
            let event = self.parser.line(&line?);
            if let Some(reply) = done(&event) {
                return Ok(reply);
            }
            self.on_event(event);
        }
    }

    fn on_line(&mut self, line: &str) {
        let event = self.parser.line(line);
        self.on_event(event);
    }

    fn on_event(&self, event: Event) {
        match event {
            Event::Received { rssi, snr, data } => {
                debug!(rssi, snr, len = data.len(), "LoRa packet received");
                self.inbound.deliver(forwarder_peer(), data);
            }
            other => debug!(?other, "RAK3172 line"),
        }
    }

    /// The transmit dance; returns the pause the duty cycle asks for after it.
    async fn transmit(&mut self, datagram: &Datagram, lora: &LoraSettings) -> io::Result<Duration> {
        let payload = forwarder_payload(datagram);
        let airtime = modem::airtime(lora, payload.len());
        let short = Instant::now() + COMMAND_TIMEOUT;
        if let reply @ (Reply::Error(_) | Reply::Timeout) = self.stop_receiving(short).await? {
            warn!(peer = %datagram.peer, ?reply, "RAK3172 would not stop receiving; packet dropped");
            return Ok(Duration::ZERO);
        }
        let psend = at::psend(&payload);
        let mut sent = self.command(&psend, short).await?;
        if matches!(&sent, Reply::Error(error) if error.contains("BUSY")) {
            // Still receiving (a packet was arriving): stop again, retry once.
            self.stop_receiving(Instant::now() + COMMAND_TIMEOUT)
                .await?;
            sent = self
                .command(&psend, Instant::now() + COMMAND_TIMEOUT)
                .await?;
        }
        let outcome = match sent {
            Reply::Ok => {
                let deadline = Instant::now() + modem::tx_timeout(airtime);
                self.wait_for(deadline, |event| {
                    (*event == Event::TxDone).then_some(Reply::Ok)
                })
                .await?
            }
            other => other,
        };
        match outcome {
            Reply::Ok => debug!(len = payload.len(), ?airtime, "LoRa packet sent"),
            Reply::Error(error) => warn!(%error, "RAK3172 refused a packet"),
            Reply::Timeout => warn!("RAK3172 did not report the packet sent"),
        }
        let resume = at::precv(at::RECEIVE_CONTINUOUS);
        if self
            .command(&resume, Instant::now() + COMMAND_TIMEOUT)
            .await?
            != Reply::Ok
        {
            warn!("RAK3172 did not resume receiving");
        }
        Ok(modem::duty_cycle_pause(airtime, lora.duty_cycle))
    }

    async fn stop_receiving(&mut self, deadline: Instant) -> io::Result<Reply> {
        self.command(&at::precv(0), deadline).await
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
