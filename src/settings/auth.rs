//! `[auth]`, `[tls]` and `[mqttsn.clients]`: who may connect, and the certificates.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::Violation;

/// `[auth]`: password file, ACL file and the anonymous policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `user:$argon2id$…` lines (see `wren passwd`); `None` ("" in TOML) for none.
    #[serde(deserialize_with = "optional_path")]
    pub password_file: Option<PathBuf>,
    /// Mosquitto-style ACL file; `None` allows every topic to everyone connected.
    #[serde(deserialize_with = "optional_path")]
    pub acl_file: Option<PathBuf>,
    /// `None` ("auto"): anonymous clients only over loopback and only without a
    /// password file; `Some` forces the answer for every connection.
    #[serde(deserialize_with = "tri_state")]
    pub allow_anonymous: Option<bool>,
}

/// `[tls]`: the certificate the TLS listeners (`mqtt.tls`, `http.tls_listen`) present.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    #[serde(deserialize_with = "optional_path")]
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(deserialize_with = "optional_path")]
    pub key: Option<PathBuf>,
    /// PEM CA certificates; when set, clients must present a certificate it signed.
    #[serde(deserialize_with = "optional_path")]
    pub client_ca: Option<PathBuf>,
    /// Take the client certificate's common name as the user name (needs `client_ca`).
    pub use_identity_as_username: bool,
}

impl TlsSettings {
    /// Cert and key are needed as soon as a TLS listener is configured.
    pub(super) fn check(&self, listeners: usize) -> Result<(), Violation> {
        if listeners > 0 {
            if self.cert.is_none() {
                return Err(Violation::new(
                    "tls.cert",
                    "\"\"",
                    "required by mqtt.tls / http.tls_listen",
                ));
            }
            if self.key.is_none() {
                return Err(Violation::new(
                    "tls.key",
                    "\"\"",
                    "required by mqtt.tls / http.tls_listen",
                ));
            }
        }
        if self.use_identity_as_username && self.client_ca.is_none() {
            return Err(Violation::new(
                "tls.use_identity_as_username",
                true,
                "needs tls.client_ca: only certificates it verified can name a user",
            ));
        }
        Ok(())
    }
}

/// Where an allow-listed MQTT-SN client may connect from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedAddr {
    /// Any port of this host.
    Host(IpAddr),
    /// Exactly this address and port.
    Socket(SocketAddr),
    /// A radio link's node address (an XBee 64-bit address, a LoRa node
    /// id), written `"radio:0013a20041b2c3d4"`; up to 8 octets.
    Radio { len: u8, octets: [u8; 8] },
}

impl ExpectedAddr {
    /// Whether a UDP source address fits.
    pub fn admits(&self, source: SocketAddr) -> bool {
        let ip = canonical(source.ip());
        match *self {
            Self::Host(host) => canonical(host) == ip,
            Self::Socket(addr) => canonical(addr.ip()) == ip && addr.port() == source.port(),
            Self::Radio { .. } => false,
        }
    }

    /// Whether a radio node address fits.
    pub fn admits_radio(&self, address: &[u8]) -> bool {
        match self {
            Self::Radio { len, octets } => octets.get(..usize::from(*len)) == Some(address),
            _ => false,
        }
    }

    /// Parses `"ip"`, `"ip:port"` or `"radio:HEX"`.
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(hex) = text.strip_prefix("radio:") {
            let bytes = hex.as_bytes();
            if bytes.is_empty() || bytes.len() % 2 != 0 || bytes.len() > 16 {
                return None;
            }
            let mut octets = [0u8; 8];
            for (i, pair) in bytes.chunks(2).enumerate() {
                let pair = std::str::from_utf8(pair).ok()?;
                octets[i] = u8::from_str_radix(pair, 16).ok()?;
            }
            let len = u8::try_from(bytes.len() / 2).ok()?;
            return Some(Self::Radio { len, octets });
        }
        text.parse::<SocketAddr>()
            .map(Self::Socket)
            .or_else(|_| text.parse::<IpAddr>().map(Self::Host))
            .ok()
    }
}

/// IPv4 seen through an IPv6 socket compares as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `[mqttsn.clients]`: client id → `"ip"` or `"ip:port"`; `None` when the
/// table is empty (no allow-list: every client id is admitted).
pub(super) fn sn_clients<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, ExpectedAddr>, D::Error> {
    let table = BTreeMap::<String, String>::deserialize(d)?;
    table
        .into_iter()
        .map(|(id, addr)| {
            match ExpectedAddr::parse(&addr) {
                Some(expected) => Ok((id, expected)),
                None => Err(de::Error::custom(format_args!(
                    "client {id:?}: {addr:?} is not an address (expected \"ip\", \"ip:port\" or \"radio:HEX\")"
                ))),
            }
        })
        .collect()
}

fn optional_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let text = String::deserialize(d)?;
    Ok((!text.trim().is_empty()).then(|| PathBuf::from(text)))
}

/// `true`, `false` or `"auto"` (unset).
fn tri_state<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    struct TriState;
    impl Visitor<'_> for TriState {
        type Value = Option<bool>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true, false or \"auto\"")
        }
        fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
            Ok(Some(value))
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            match text.trim() {
                "auto" => Ok(None),
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(E::custom(format_args!(
                    "{text:?}: expected true, false or \"auto\""
                ))),
            }
        }
    }
    d.deserialize_any(TriState)
}

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::*;

    #[test]
    fn defaults_are_auto_and_no_files() {
        let s = Settings::from_toml("").unwrap();
        assert_eq!(s.auth, AuthSettings::default());
        assert_eq!(s.tls, TlsSettings::default());
        assert!(s.mqttsn.clients.is_empty());
    }

    #[test]
    fn keys_parse_and_errors_name_them() {
        let s = Settings::from_toml(
            "[auth]\npassword_file = \"/etc/wren/passwd\"\nallow_anonymous = true\n\
             [mqttsn.clients]\nkitchen = \"192.168.1.7\"\nhall = \"10.0.0.2:5000\"\n\
             xbee = \"radio:0013A20041b2c3d4\"\n",
        )
        .unwrap();
        assert_eq!(
            s.auth.password_file,
            Some(PathBuf::from("/etc/wren/passwd"))
        );
        assert_eq!(s.auth.allow_anonymous, Some(true));
        let kitchen = s.mqttsn.clients["kitchen"];
        assert!(kitchen.admits("192.168.1.7:1234".parse().unwrap()));
        assert!(kitchen.admits("[::ffff:192.168.1.7]:9".parse().unwrap()));
        assert!(!kitchen.admits("192.168.1.8:1234".parse().unwrap()));
        let xbee = s.mqttsn.clients["xbee"];
        assert!(xbee.admits_radio(&[0x00, 0x13, 0xa2, 0x00, 0x41, 0xb2, 0xc3, 0xd4]));
        assert!(!xbee.admits_radio(&[0x00, 0x13]));
        assert!(!xbee.admits("10.0.0.2:5000".parse().unwrap()));
        let hall = s.mqttsn.clients["hall"];
        assert!(hall.admits("10.0.0.2:5000".parse().unwrap()));
        assert!(!hall.admits("10.0.0.2:5001".parse().unwrap()));

        let bad = Settings::from_toml("[auth]\nallow_anonymous = \"maybe\"\n").unwrap_err();
        assert!(bad.to_string().contains("auth.allow_anonymous"), "{bad}");
        let bad = Settings::from_toml("[mqttsn.clients]\nx = \"nowhere\"\n").unwrap_err();
        assert!(bad.to_string().contains("mqttsn.clients"), "{bad}");
        let bad = Settings::from_toml("[mqtt]\ntls = \"127.0.0.1:0\"\n").unwrap_err();
        assert!(bad.to_string().contains("tls.cert"), "{bad}");
        let bad = Settings::from_toml("[tls]\nuse_identity_as_username = true\n").unwrap_err();
        assert!(
            bad.to_string().contains("tls.use_identity_as_username"),
            "{bad}"
        );
    }
}
