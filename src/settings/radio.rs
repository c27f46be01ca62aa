//! `[[radio]]`: serial radio links for the MQTT-SN gateway, any number of them.
//!
//! An array of tables cannot take its defaults from the embedded file (it has
//! no entry to take them from), so optional keys carry their defaults here and
//! kind-specific keys are `Option`s: a key given for a kind it does not apply
//! to is an error rather than silently ignored.

use serde::Deserialize;

use super::Violation;
use crate::protocol::radio::reyax::Encoding;

/// What speaks on the serial port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum RadioKind {
    /// A Digi XBee (Zigbee) module in API mode 1 or 2.
    Xbee,
    /// A RAK3172 with RUI3 firmware, in LoRa P2P mode.
    Rak3172,
    /// A REYAX RYLR896/406/998/498 LoRa module.
    Reyax,
    /// A bridge (an Arduino with any radio) speaking SLIP + CRC-16 with the
    /// MQTT-SN forwarder header.
    Slip,
}

impl RadioKind {
    /// The name used in `kind = "…"` and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Xbee => "xbee",
            Self::Rak3172 => "rak3172",
            Self::Reyax => "reyax",
            Self::Slip => "slip",
        }
    }

    fn default_baud(self) -> u32 {
        match self {
            Self::Xbee => 9600,
            Self::Rak3172 | Self::Reyax | Self::Slip => 115_200,
        }
    }

    fn is_lora(self) -> bool {
        matches!(self, Self::Rak3172 | Self::Reyax)
    }
}

/// How REYAX payloads are written as text on the serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum TextEncoding {
    Base64,
    Hex,
}

// The `config` crate words an unknown enum variant as "does not have variant
// constructor"; parsing the text ourselves lists the choices instead.
impl TryFrom<String> for RadioKind {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        [Self::Xbee, Self::Rak3172, Self::Reyax, Self::Slip]
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                format!("{text:?} is not a radio kind (expected xbee, rak3172, reyax or slip)")
            })
    }
}

impl TryFrom<String> for TextEncoding {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "base64" => Ok(Self::Base64),
            "hex" => Ok(Self::Hex),
            _ => Err(format!(
                "{text:?} is not an encoding (expected base64 or hex)"
            )),
        }
    }
}

/// One `[[radio]]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioSettings {
    /// Names the link in logs and client addresses; unique.
    pub name: String,
    pub kind: RadioKind,
    /// The serial device; a `/dev/serial/by-id/…` path survives re-plugging.
    pub port: String,
    /// Line speed; the kind's usual default when absent.
    #[serde(default)]
    pub baud: Option<u32>,
    /// Hardware flow control. Off by default: boards without CTS wired would hang.
    #[serde(default)]
    pub rtscts: bool,
    /// Assert DTR after opening. Off by default, so wren never drives DTR
    /// (an Arduino resets on a DTR edge).
    #[serde(default)]
    pub dtr_on_open: bool,
    /// XBee: the module's `AP` setting, 1 or 2 (default 2).
    #[serde(default)]
    pub api_mode: Option<u8>,
    /// REYAX: `base64` (default) or `hex`.
    #[serde(default)]
    pub encoding: Option<TextEncoding>,
    /// REYAX: the gateway module's own address (written at start when set).
    #[serde(default)]
    pub address: Option<u16>,
    /// REYAX: the network id, 0–16 (written at start when set).
    #[serde(default)]
    pub network_id: Option<u8>,
    /// LoRa: carrier frequency in Hz. When set, the radio settings below are
    /// written to the module at start; otherwise the module keeps its own.
    #[serde(default)]
    pub frequency: Option<u32>,
    /// LoRa: spreading factor, 5–12 (default 7).
    #[serde(default)]
    pub sf: Option<u8>,
    /// LoRa: bandwidth in kHz, 125, 250 or 500 (default 125).
    #[serde(default)]
    pub bw: Option<u32>,
    /// LoRa: coding rate 4/(4+cr), cr 1–4 (default 1).
    #[serde(default)]
    pub cr: Option<u8>,
    /// LoRa: preamble length in symbols, 6–65535 (default 8).
    #[serde(default)]
    pub preamble: Option<u16>,
    /// RAK3172: transmit power in dBm, 5–22 (default 14).
    #[serde(default)]
    pub tx_power: Option<u8>,
    /// LoRa: the share of time the gateway may transmit, in percent, 0.1–100
    /// (default 1, the EU 868 MHz g1 sub-band rule).
    #[serde(default)]
    pub duty_cycle: Option<f64>,
}

/// Values a LoRa link uses, with defaults applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoraSettings {
    pub frequency: Option<u32>,
    pub sf: u8,
    pub bw: u32,
    pub cr: u8,
    pub preamble: u16,
    pub tx_power: u8,
    pub duty_cycle: f64,
}

impl RadioSettings {
    /// The line speed, with the kind's default.
    pub fn baud(&self) -> u32 {
        self.baud.unwrap_or(self.kind.default_baud())
    }

    /// XBee API mode (1 or 2).
    pub fn api_mode(&self) -> u8 {
        self.api_mode.unwrap_or(2)
    }

    /// REYAX payload encoding.
    pub fn encoding(&self) -> Encoding {
        match self.encoding {
            Some(TextEncoding::Hex) => Encoding::Hex,
            Some(TextEncoding::Base64) | None => Encoding::Base64,
        }
    }

    /// LoRa radio values, with defaults.
    pub fn lora(&self) -> LoraSettings {
        LoraSettings {
            frequency: self.frequency,
            sf: self.sf.unwrap_or(7),
            bw: self.bw.unwrap_or(125),
            cr: self.cr.unwrap_or(1),
            preamble: self.preamble.unwrap_or(8),
            tx_power: self.tx_power.unwrap_or(14),
            duty_cycle: self.duty_cycle.unwrap_or(1.0),
        }
    }

    fn check(&self, i: usize) -> Result<(), Violation> {
        let key = |name: &str| format!("radio[{i}].{name}");
        if self.name.is_empty() || self.name.contains(char::is_whitespace) {
            let reason = "must be a non-empty name without spaces";
            return Err(Violation::new(
                key("name"),
                format!("{:?}", self.name),
                reason,
            ));
        }
        if self.port.trim().is_empty() {
            return Err(Violation::new(
                key("port"),
                "\"\"",
                "must name a serial device",
            ));
        }
        if self.baud == Some(0) {
            return Err(Violation::new(key("baud"), 0, "must be at least 1"));
        }
        self.check_applies(i)?;
        if let Some(mode) = self.api_mode.filter(|mode| !matches!(mode, 1 | 2)) {
            return Err(Violation::new(
                key("api_mode"),
                mode,
                "must be 1 or 2 (AP=0, transparent mode, cannot carry addresses)",
            ));
        }
        if let Some(id) = self.network_id.filter(|id| *id > 16) {
            return Err(Violation::new(
                key("network_id"),
                id,
                "must be between 0 and 16",
            ));
        }
        self.check_lora(i)
    }

    /// Refuses keys that belong to another kind.
    fn check_applies(&self, i: usize) -> Result<(), Violation> {
        let lora = self.kind.is_lora();
        let keys: [(&str, bool, bool, &str); 11] = [
            (
                "api_mode",
                self.api_mode.is_some(),
                self.kind == RadioKind::Xbee,
                "xbee",
            ),
            (
                "encoding",
                self.encoding.is_some(),
                self.kind == RadioKind::Reyax,
                "reyax",
            ),
            (
                "address",
                self.address.is_some(),
                self.kind == RadioKind::Reyax,
                "reyax",
            ),
            (
                "network_id",
                self.network_id.is_some(),
                self.kind == RadioKind::Reyax,
                "reyax",
            ),
            (
                "tx_power",
                self.tx_power.is_some(),
                self.kind == RadioKind::Rak3172,
                "rak3172",
            ),
            (
                "frequency",
                self.frequency.is_some(),
                lora,
                "rak3172 or reyax",
            ),
            ("sf", self.sf.is_some(), lora, "rak3172 or reyax"),
            ("bw", self.bw.is_some(), lora, "rak3172 or reyax"),
            ("cr", self.cr.is_some(), lora, "rak3172 or reyax"),
            (
                "preamble",
                self.preamble.is_some(),
                lora,
                "rak3172 or reyax",
            ),
            (
                "duty_cycle",
                self.duty_cycle.is_some(),
                lora,
                "rak3172 or reyax",
            ),
        ];
        for (name, given, applies, kinds) in keys {
            if given && !applies {
                return Err(Violation::new(
                    format!("radio[{i}].{name}"),
                    format!("(kind = {:?})", self.kind.as_str()),
                    format!("applies only to kind = {kinds}"),
                ));
            }
        }
        Ok(())
    }

    fn check_lora(&self, i: usize) -> Result<(), Violation> {
        let key = |name: &str| format!("radio[{i}].{name}");
        let lora = self.lora();
        if !(5..=12).contains(&lora.sf) {
            return Err(Violation::new(
                key("sf"),
                lora.sf,
                "must be between 5 and 12",
            ));
        }
        if !matches!(lora.bw, 125 | 250 | 500) {
            return Err(Violation::new(
                key("bw"),
                lora.bw,
                "must be 125, 250 or 500 (kHz)",
            ));
        }
        if !(1..=4).contains(&lora.cr) {
            return Err(Violation::new(
                key("cr"),
                lora.cr,
                "must be between 1 (4/5) and 4 (4/8)",
            ));
        }
        if lora.preamble < 6 {
            return Err(Violation::new(
                key("preamble"),
                lora.preamble,
                "must be at least 6",
            ));
        }
        if !(5..=22).contains(&lora.tx_power) {
            return Err(Violation::new(
                key("tx_power"),
                lora.tx_power,
                "must be between 5 and 22 (dBm)",
            ));
        }
        if !(0.1..=100.0).contains(&lora.duty_cycle) {
            return Err(Violation::new(
                key("duty_cycle"),
                lora.duty_cycle,
                "must be between 0.1 and 100 (percent)",
            ));
        }
        if let Some(hz) = lora
            .frequency
            .filter(|hz| !(150_000_000..=960_000_000).contains(hz))
        {
            return Err(Violation::new(
                key("frequency"),
                hz,
                "must be in Hz, between 150000000 and 960000000",
            ));
        }
        Ok(())
    }
}

/// Checks every radio, then that names and ports are unique.
pub(super) fn check(radios: &[RadioSettings]) -> Result<(), Violation> {
    for (i, radio) in radios.iter().enumerate() {
        radio.check(i)?;
        let earlier = &radios[..i];
        if earlier.iter().any(|other| other.name == radio.name) {
            let value = format!("{:?}", radio.name);
            return Err(Violation::new(
                format!("radio[{i}].name"),
                value,
                "used by an earlier radio",
            ));
        }
        if earlier.iter().any(|other| other.port == radio.port) {
            let value = format!("{:?}", radio.port);
            return Err(Violation::new(
                format!("radio[{i}].port"),
                value,
                "used by an earlier radio",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::*;

    fn error_of(toml: &str) -> String {
        match Settings::from_toml(toml) {
            Ok(settings) => panic!("{toml:?} was accepted: {settings:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn radios_are_read_with_kind_defaults() {
        let settings = Settings::from_toml(
            "[[radio]]\nname = \"zigbee\"\nkind = \"xbee\"\nport = \"/dev/ttyUSB0\"\napi_mode = 1\n\
             [[radio]]\nname = \"lora\"\nkind = \"reyax\"\nport = \"/dev/ttyUSB1\"\nencoding = \"hex\"\nsf = 9\n",
        )
        .unwrap();
        let [xbee, reyax] = &settings.radio[..] else {
            panic!("{:?}", settings.radio)
        };
        assert_eq!(
            (xbee.kind, xbee.baud(), xbee.api_mode()),
            (RadioKind::Xbee, 9600, 1)
        );
        assert!(!xbee.rtscts && !xbee.dtr_on_open);
        assert_eq!(
            (reyax.baud(), reyax.encoding(), reyax.lora().sf),
            (115_200, Encoding::Hex, 9)
        );
        assert_eq!(reyax.lora().duty_cycle, 1.0);
        assert!(Settings::from_toml("").unwrap().radio.is_empty());
    }

    #[test]
    fn the_example_files_load() {
        let examples = [
            include_str!("../../config/examples/pi-xbee.toml"),
            include_str!("../../config/examples/pi-lora.toml"),
            include_str!("../../config/examples/pi-slip-bridge.toml"),
        ];
        let kinds: Vec<Vec<RadioKind>> = examples
            .iter()
            .map(|text| {
                Settings::from_toml(text)
                    .unwrap()
                    .radio
                    .iter()
                    .map(|r| r.kind)
                    .collect()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                vec![RadioKind::Xbee],
                vec![RadioKind::Rak3172, RadioKind::Reyax],
                vec![RadioKind::Slip]
            ]
        );
    }

    #[test]
    fn errors_name_the_radio_and_key() {
        let base = "[[radio]]\nname = \"r\"\nport = \"/dev/ttyS0\"\n";
        let cases = [
            (
                "kind = \"zigbee\"",
                "radio[0].kind: \"zigbee\" is not a radio kind (expected xbee, rak3172, reyax or slip)",
            ),
            (
                "kind = \"reyax\"\nencoding = \"b64\"",
                "radio[0].encoding: \"b64\" is not an encoding",
            ),
            (
                "kind = \"xbee\"\napi_mode = 0",
                "radio[0].api_mode: invalid value 0: must be 1 or 2",
            ),
            (
                "kind = \"slip\"\napi_mode = 2",
                "radio[0].api_mode: invalid value (kind = \"slip\"): applies only to kind = xbee",
            ),
            (
                "kind = \"xbee\"\nsf = 7",
                "radio[0].sf: invalid value (kind = \"xbee\"): applies only to kind = rak3172 or reyax",
            ),
            (
                "kind = \"rak3172\"\nsf = 13",
                "radio[0].sf: invalid value 13: must be between 5 and 12",
            ),
            (
                "kind = \"rak3172\"\nbw = 200",
                "radio[0].bw: invalid value 200",
            ),
            (
                "kind = \"reyax\"\nduty_cycle = 0.0",
                "radio[0].duty_cycle: invalid value 0",
            ),
            (
                "kind = \"reyax\"\nfrequency = 868",
                "radio[0].frequency: invalid value 868",
            ),
            (
                "kind = \"slip\"\nbaudrate = 9600",
                "radio[0].baudrate: unknown key",
            ),
        ];
        for (extra, expected) in cases {
            let message = error_of(&format!("{base}{extra}\n"));
            assert!(message.starts_with(expected), "{extra:?}: {message}");
        }
        let twice = format!("{base}kind = \"slip\"\n{base}kind = \"xbee\"\n");
        assert!(
            error_of(&twice)
                .starts_with("radio[1].name: invalid value \"r\": used by an earlier radio")
        );
        let missing = "[[radio]]\nname = \"r\"\nkind = \"slip\"\n";
        assert!(error_of(missing).contains("port"), "{}", error_of(missing));
    }
}
