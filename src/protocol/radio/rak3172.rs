//! RAK3172 modules with RUI3 firmware, in LoRa P2P mode: AT command lines
//! out, response and event lines in.
//!
//! Payloads travel as hex on the UART and as raw bytes on air (`AT+PSEND`,
//! `+EVT:RXP2P`). P2P has no addresses, so MQTT-SN rides inside a forwarder
//! encapsulation (MQTT-SN 1.2 §5.5) whose node id names the sender; that is
//! the gateway's business, not this module's.

use bytes::Bytes;
use data_encoding::HEXUPPER_PERMISSIVE;

/// The largest payload `AT+PSEND` takes: 500 hex digits.
pub const MAX_PAYLOAD: usize = 250;
/// `AT+PRECV` value for continuous receive until `AT+PRECV=0`.
pub const RECEIVE_CONTINUOUS: u32 = 65534;

/// One line from the modem, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `OK`: the last command was accepted.
    Ok,
    /// `AT_ERROR`, `AT_BUSY_ERROR`, `AT_PARAM_ERROR` …: the last command failed.
    Error(String),
    /// `+EVT:TXP2P DONE`: the packet left the antenna; receive may resume.
    TxDone,
    /// `+EVT:RXP2P RECEIVE TIMEOUT`: a timed receive window ended.
    RxTimeout,
    /// A packet arrived, with its signal report.
    Received { rssi: i16, snr: i16, data: Bytes },
    /// Anything else (echoes, banners, version strings).
    Other(String),
}

/// Turns lines into events. Holds the signal report of firmware up to 1.0.4,
/// which puts it on a line of its own before the data line.
#[derive(Debug, Default)]
pub struct Parser {
    pending: Option<(i16, i16)>,
}

impl Parser {
    /// Reads one line (without CR LF).
    pub fn line(&mut self, line: &str) -> Event {
        let pending = self.pending.take();
        let line = line.trim();
        if line == "OK" {
            return Event::Ok;
        }
        if line.starts_with("AT_") && line.ends_with("ERROR") {
            return Event::Error(line.to_owned());
        }
        let Some(event) = line.strip_prefix("+EVT:") else {
            return Event::Other(line.to_owned());
        };
        match event {
            "TXP2P DONE" => return Event::TxDone,
            "RXP2P RECEIVE TIMEOUT" => return Event::RxTimeout,
            _ => {}
        }
        // Current form: +EVT:RXP2P:<rssi>:<snr>:<hex>
        if let Some(report) = event.strip_prefix("RXP2P:") {
            let mut fields = report.splitn(3, ':');
            let (Some(rssi), Some(snr), Some(hex)) = (fields.next(), fields.next(), fields.next())
            else {
                return Event::Other(line.to_owned());
            };
            return match (rssi.trim().parse(), snr.trim().parse(), decode_hex(hex)) {
                (Ok(rssi), Ok(snr), Some(data)) => Event::Received { rssi, snr, data },
                _ => Event::Other(line.to_owned()),
            };
        }
        // Old form: "+EVT:RXP2P, RSSI -60, SNR 11", then "+EVT:<hex>".
        if let Some(report) = event.strip_prefix("RXP2P,") {
            if let Some(signal) = old_signal(report) {
                self.pending = Some(signal);
            }
            return Event::Other(line.to_owned());
        }
        match (pending, decode_hex(event)) {
            (Some((rssi, snr)), Some(data)) => Event::Received { rssi, snr, data },
            _ => Event::Other(line.to_owned()),
        }
    }
}

/// ` RSSI -60, SNR 11` → (-60, 11).
fn old_signal(report: &str) -> Option<(i16, i16)> {
    let mut rssi = None;
    let mut snr = None;
    for part in report.split(',') {
        let mut words = part.split_whitespace();
        match (words.next(), words.next().map(str::parse::<i16>)) {
            (Some("RSSI"), Some(Ok(value))) => rssi = Some(value),
            (Some("SNR"), Some(Ok(value))) => snr = Some(value),
            _ => {}
        }
    }
    Some((rssi?, snr?))
}

/// Hex digits (either case) to bytes; `None` for an empty or odd string.
fn decode_hex(text: &str) -> Option<Bytes> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    HEXUPPER_PERMISSIVE
        .decode(text.as_bytes())
        .ok()
        .map(Bytes::from)
}

/// `AT+PSEND=<hex>`.
pub fn psend(data: &[u8]) -> String {
    format!("AT+PSEND={}", HEXUPPER_PERMISSIVE.encode(data))
}

/// `AT+PRECV=<ms>`: 0 stops receiving, [`RECEIVE_CONTINUOUS`] receives until stopped.
pub fn precv(ms: u32) -> String {
    format!("AT+PRECV={ms}")
}

/// `AT+NWM=0`: LoRa P2P (1 is LoRaWAN).
pub const P2P_MODE: &str = "AT+NWM=0";

/// The P2P radio settings, as `AT+P2P` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P2pConfig {
    pub frequency_hz: u32,
    pub sf: u8,
    pub bw_khz: u32,
    /// 0 = 4/5 … 3 = 4/8, as RUI3 numbers them.
    pub cr: u8,
    pub preamble: u16,
    pub tx_power_dbm: u8,
}

/// `AT+P2P=<freq>:<sf>:<bw>:<cr>:<preamble>:<txp>`.
pub fn p2p(config: &P2pConfig) -> String {
    format!(
        "AT+P2P={}:{}:{}:{}:{}:{}",
        config.frequency_hz,
        config.sf,
        config.bw_khz,
        config.cr,
        config.preamble,
        config.tx_power_dbm
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::radio::testing::hex;

    #[test]
    fn receive_reports_in_both_forms() {
        let publish = Bytes::from(hex("0B0C000001000032312E35"));
        let mut parser = Parser::default();
        assert_eq!(
            parser.line("+EVT:RXP2P:-45:8:0B0C000001000032312E35"),
            Event::Received {
                rssi: -45,
                snr: 8,
                data: publish.clone()
            }
        );
        assert_eq!(
            parser.line("+EVT:RXP2P, RSSI -60, SNR 11"),
            Event::Other("+EVT:RXP2P, RSSI -60, SNR 11".into())
        );
        assert_eq!(
            parser.line("+EVT:0b0c000001000032312e35"),
            Event::Received {
                rssi: -60,
                snr: 11,
                data: publish
            }
        );
        // A hex-looking event line with no report before it is not data.
        assert_eq!(parser.line("+EVT:ABCD"), Event::Other("+EVT:ABCD".into()));
    }

    #[test]
    fn responses_and_events() {
        let mut parser = Parser::default();
        assert_eq!(parser.line("OK"), Event::Ok);
        assert_eq!(
            parser.line("AT_BUSY_ERROR"),
            Event::Error("AT_BUSY_ERROR".into())
        );
        assert_eq!(parser.line("+EVT:TXP2P DONE"), Event::TxDone);
        assert_eq!(parser.line("+EVT:RXP2P RECEIVE TIMEOUT"), Event::RxTimeout);
        assert_eq!(
            parser.line("+EVT:RXP2P:-45:x:00"),
            Event::Other("+EVT:RXP2P:-45:x:00".into())
        );
        assert_eq!(
            parser.line("+EVT:RXP2P:-45:8:0"),
            Event::Other("+EVT:RXP2P:-45:8:0".into())
        );
    }

    #[test]
    fn commands() {
        assert_eq!(
            psend(&hex("0B0C000001000032312E35")),
            "AT+PSEND=0B0C000001000032312E35"
        );
        assert_eq!(precv(RECEIVE_CONTINUOUS), "AT+PRECV=65534");
        let config = P2pConfig {
            frequency_hz: 868_000_000,
            sf: 7,
            bw_khz: 125,
            cr: 0,
            preamble: 8,
            tx_power_dbm: 14,
        };
        assert_eq!(p2p(&config), "AT+P2P=868000000:7:125:0:8:14");
    }

    proptest! {
        #[test]
        fn psend_payload_comes_back_as_a_receive_report(data in proptest::collection::vec(any::<u8>(), 1..=MAX_PAYLOAD)) {
            let hex = psend(&data).trim_start_matches("AT+PSEND=").to_owned();
            let event = Parser::default().line(&format!("+EVT:RXP2P:-1:2:{hex}"));
            prop_assert_eq!(event, Event::Received { rssi: -1, snr: 2, data: Bytes::from(data) });
        }

        #[test]
        fn arbitrary_lines_never_panic(lines in proptest::collection::vec(".{0,80}", 0..8)) {
            let mut parser = Parser::default();
            for line in &lines {
                let _ = parser.line(line);
            }
        }
    }
}
