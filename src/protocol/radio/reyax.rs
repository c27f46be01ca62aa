//! REYAX RYLR896/406/998/498 LoRa modules: `AT+SEND` out, `+RCV` in.
//!
//! The module parses lines, so binary MQTT-SN travels as text: base64 (RFC
//! 4648, standard alphabet, no line breaks: it holds no `,`, CR or LF) or hex.
//! The module address (0–65535) names the sender; 0 sends to every address.

use bytes::Bytes;
use data_encoding::{BASE64, HEXUPPER_PERMISSIVE};

/// The most characters `AT+SEND` carries.
pub const MAX_TEXT: usize = 240;
/// Address 0: every module hears it.
pub const BROADCAST: u16 = 0;

/// How payload bytes are written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 4 characters per 3 bytes: 180 bytes fit.
    Base64,
    /// 2 characters per byte: 120 bytes fit.
    Hex,
}

impl Encoding {
    /// The largest payload that fits in one `AT+SEND`.
    pub fn max_payload(self) -> usize {
        match self {
            Self::Base64 => MAX_TEXT / 4 * 3,
            Self::Hex => MAX_TEXT / 2,
        }
    }

    fn encode(self, data: &[u8]) -> String {
        match self {
            Self::Base64 => BASE64.encode(data),
            Self::Hex => HEXUPPER_PERMISSIVE.encode(data),
        }
    }

    fn decode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Self::Base64 => BASE64.decode(text.as_bytes()).ok(),
            Self::Hex => HEXUPPER_PERMISSIVE.decode(text.as_bytes()).ok(),
        }
    }
}

/// One line from the module, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `+OK`.
    Ok,
    /// `+READY`: the module (re)started.
    Ready,
    /// `+ERR=<code>`.
    Error(u8),
    /// `+RCV=<addr>,<len>,<data>,<rssi>,<snr>` with data that decoded.
    Received {
        address: u16,
        data: Bytes,
        rssi: i16,
        snr: i16,
    },
    /// A `+RCV` whose data is not in the link's encoding, or any other line.
    Other(String),
}

/// The name of a `+ERR=` code (REYAX AT command guide).
pub fn error_name(code: u8) -> &'static str {
    match code {
        1 => "no CR LF at the end of the command",
        2 => "command does not start with AT",
        3 => "no = in the command",
        4 => "unknown command",
        10 => "TX over times",
        11 => "RX over times",
        12 => "CRC error",
        13 => "TX data over 240 bytes",
        15 => "unknown error",
        _ => "undocumented error",
    }
}

/// Reads one line (without CR LF).
pub fn parse(line: &str, encoding: Encoding) -> Event {
    let line = line.trim();
    match line {
        "+OK" => return Event::Ok,
        "+READY" => return Event::Ready,
        _ => {}
    }
    if let Some(code) = line.strip_prefix("+ERR=") {
        return match code.trim().parse() {
            Ok(code) => Event::Error(code),
            Err(_) => Event::Other(line.to_owned()),
        };
    }
    line.strip_prefix("+RCV=")
        .and_then(|report| received(report, encoding))
        .unwrap_or_else(|| Event::Other(line.to_owned()))
}

/// `<addr>,<len>,<data>,<rssi>,<snr>`; `<len>` counts the data characters,
/// which are taken by count, not by comma.
fn received(report: &str, encoding: Encoding) -> Option<Event> {
    let (address, rest) = report.split_once(',')?;
    let (len, rest) = rest.split_once(',')?;
    let len: usize = len.trim().parse().ok()?;
    let text = rest.get(..len)?;
    let (rssi, snr) = rest.get(len..)?.strip_prefix(',')?.split_once(',')?;
    Some(Event::Received {
        address: address.trim().parse().ok()?,
        data: Bytes::from(encoding.decode(text)?),
        rssi: rssi.trim().parse().ok()?,
        snr: snr.trim().parse().ok()?,
    })
}

/// `AT+SEND=<addr>,<len>,<data>`; `None` when the payload does not fit.
pub fn send(address: u16, data: &[u8], encoding: Encoding) -> Option<String> {
    let text = encoding.encode(data);
    (text.len() <= MAX_TEXT).then(|| format!("AT+SEND={address},{},{text}", text.len()))
}

/// The radio settings a gateway writes at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// The gateway module's own address.
    pub address: u16,
    /// Modules talk only within one network id (0–16).
    pub network_id: u8,
    pub frequency_hz: u32,
    /// Spreading factor 7–12.
    pub sf: u8,
    /// Bandwidth in kHz.
    pub bw_khz: u32,
    /// Coding rate 1 (4/5) – 4 (4/8).
    pub cr: u8,
    pub preamble: u16,
}

/// The set-up commands for `config`, in order.
pub fn setup(config: &Config) -> Vec<String> {
    vec![
        format!("AT+ADDRESS={}", config.address),
        format!("AT+NETWORKID={}", config.network_id),
        format!("AT+BAND={}", config.frequency_hz),
        format!(
            "AT+PARAMETER={},{},{},{}",
            config.sf,
            bandwidth_code(config.bw_khz),
            config.cr,
            config.preamble
        ),
    ]
}

/// `AT+PARAMETER`'s bandwidth code: 7 = 125 kHz, 8 = 250 kHz, 9 = 500 kHz.
fn bandwidth_code(bw_khz: u32) -> u8 {
    match bw_khz {
        500 => 9,
        250 => 8,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::radio::testing::hex;

    #[test]
    fn notes_vectors() {
        let publish = hex("0B0C000001000032312E35");
        assert_eq!(
            send(1, &publish, Encoding::Base64).as_deref(),
            Some("AT+SEND=1,16,CwwAAAEAADIxLjU=")
        );
        assert_eq!(
            parse("+RCV=5,16,CwwAAAEAADIxLjU=,-45,8", Encoding::Base64),
            Event::Received {
                address: 5,
                data: Bytes::from(publish.clone()),
                rssi: -45,
                snr: 8
            }
        );
        assert_eq!(
            send(5, &publish, Encoding::Hex).as_deref(),
            Some("AT+SEND=5,22,0B0C000001000032312E35")
        );
        assert_eq!(
            parse("+RCV=5,22,0b0c000001000032312e35,-45,8", Encoding::Hex),
            Event::Received {
                address: 5,
                data: Bytes::from(publish),
                rssi: -45,
                snr: 8
            }
        );
    }

    #[test]
    fn responses() {
        assert_eq!(parse("+OK", Encoding::Base64), Event::Ok);
        assert_eq!(parse("+READY", Encoding::Base64), Event::Ready);
        assert_eq!(parse("+ERR=12", Encoding::Base64), Event::Error(12));
        assert_eq!(error_name(12), "CRC error");
        // Data in another encoding, or a wrong length, is not a payload.
        let line = "+RCV=5,5,HELLO,-45,8";
        assert_eq!(parse(line, Encoding::Base64), Event::Other(line.into()));
        let line = "+RCV=5,9,CwwAAAEA,-45,8";
        assert_eq!(parse(line, Encoding::Base64), Event::Other(line.into()));
    }

    #[test]
    fn oversize_payloads_are_refused() {
        let data = vec![0u8; Encoding::Base64.max_payload()];
        assert!(send(1, &data, Encoding::Base64).is_some());
        assert!(send(1, &[data, vec![0]].concat(), Encoding::Base64).is_none());
        assert!(send(1, &[0u8; 121], Encoding::Hex).is_none());
    }

    #[test]
    fn setup_commands() {
        let config = Config {
            address: 1,
            network_id: 18,
            frequency_hz: 868_500_000,
            sf: 9,
            bw_khz: 125,
            cr: 1,
            preamble: 12,
        };
        assert_eq!(
            setup(&config),
            [
                "AT+ADDRESS=1",
                "AT+NETWORKID=18",
                "AT+BAND=868500000",
                "AT+PARAMETER=9,7,1,12"
            ]
        );
    }

    proptest! {
        #[test]
        fn send_comes_back_as_a_receive_report(
            address in any::<u16>(),
            data in proptest::collection::vec(any::<u8>(), 1..=120),
            hex_encoding in any::<bool>(),
        ) {
            let encoding = if hex_encoding { Encoding::Hex } else { Encoding::Base64 };
            let command = send(address, &data, encoding).unwrap();
            let report = command.replacen("AT+SEND=", "+RCV=", 1) + ",-40,9";
            prop_assert_eq!(
                parse(&report, encoding),
                Event::Received { address, data: Bytes::from(data), rssi: -40, snr: 9 }
            );
        }

        #[test]
        fn arbitrary_lines_never_panic(line in ".{0,300}") {
            let _ = parse(&line, Encoding::Base64);
            let _ = parse(&line, Encoding::Hex);
        }
    }
}
