//! Typed settings: embedded defaults < user file < `WREN__SECTION__KEY` environment.
//!
//! # Layout
//!
//! ```text
//! mod.rs     the settings types, their validation ranges, `load` and `from_toml`
//! layers.rs  the three layers as `config` sources, and which layer a key came from
//! de.rs      serde helpers for values TOML has no type for (socket addresses, seconds)
//! error.rs   SettingsError: every message names the key, the problem and the source
//! ```
//!
//! # Where defaults live
//!
//! `config/wren.toml` is embedded in the binary and is always the lowest layer, so it
//! supplies every key a user file or the environment leaves out. The structs below
//! deliberately carry no `#[serde(default)]`: a key missing from the embedded file is
//! then a "missing field" error in the test that parses the file alone, instead of a
//! silent second default. The hand-written `Default` impls exist so that code and
//! tests elsewhere get settings without a fallible call; a test keeps them equal to
//! the embedded file.
//!
//! # Adding a section
//!
//! One struct (derives as on [`Limits`], a `Default` impl and a `check` method), one
//! field on [`Settings`], one line in `Settings::check`, and the section's keys,
//! documented, in `config/wren.toml`. Unknown keys are rejected at every level, so a
//! section is not accepted before it exists.

pub mod auth;
mod de;
mod error;
mod layers;
mod radio;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

pub use auth::{AuthSettings, ExpectedAddr, TlsSettings};
pub use error::{Origin, SettingsError};
pub use radio::{LoraSettings, RadioKind, RadioSettings, TextEncoding};

/// The embedded default configuration, documented key by key.
///
/// The lowest layer of every load; also what a `print-default-config`-style command
/// would show users as a starting point for their own file.
pub const EMBEDDED_DEFAULTS: &str = include_str!("../../config/wren.toml");

/// The whole configuration of a wren process, validated.
///
/// Built once at start-up and handed to the parts that need it; nothing re-reads
/// configuration later.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The MQTT listeners and the MQTT features offered to clients.
    pub mqtt: MqttSettings,
    /// The HTTP listener: MQTT over WebSocket and a small information page.
    pub http: HttpSettings,
    /// Resource bounds that keep a small device alive under load or abuse.
    pub limits: Limits,
    /// The MQTT-SN gateway for sensor nodes.
    pub mqttsn: MqttSnSettings,
    /// Logging.
    pub log: LogSettings,
    /// Serial radio links (`[[radio]]` tables); none by default. The one
    /// `#[serde(default)]` here: an array of tables has no entry in the
    /// embedded file to take defaults from.
    #[serde(default)]
    pub radio: Vec<RadioSettings>,
    /// Passwords, ACLs and the anonymous policy (`settings/auth.rs`).
    pub auth: AuthSettings,
    /// The certificate of the TLS listeners (`settings/auth.rs`).
    pub tls: TlsSettings,
}

/// The MQTT listeners and the protocol features offered to clients.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSettings {
    /// Listen addresses for MQTT over TCP. Accepts a single string or a list of
    /// strings in TOML, a comma-separated list in the environment. Never empty.
    #[serde(deserialize_with = "de::listen_addrs")]
    pub tcp: Vec<SocketAddr>,
    /// Listen addresses for MQTT over TLS; empty (the default) for none.
    #[serde(deserialize_with = "de::listen_addrs")]
    pub tls: Vec<SocketAddr>,
    /// Topic aliases (MQTT 5) a client may use towards us, and the most we assign
    /// towards it; 0 turns aliases off. Bounds the per-session alias tables.
    pub max_topic_alias: u16,
    /// Whether retained messages are stored and delivered; MQTT 5 clients are told
    /// in CONNACK, so they need not find out by failing.
    pub retain_available: bool,
    /// Longest time, in seconds, a session outlives its connection: a client asking
    /// for more gets this (MQTT 3.1.1 persistent sessions count as asking for
    /// "never"); `u32::MAX` means never expire. Bounds the memory abandoned sessions
    /// and their queues can hold.
    pub max_session_expiry: u32,
}

impl Default for MqttSettings {
    fn default() -> Self {
        Self {
            tcp: vec![SocketAddr::from(([0, 0, 0, 0], 1883))],
            tls: Vec::new(),
            max_topic_alias: 10,
            retain_available: true,
            max_session_expiry: 7 * 24 * 60 * 60,
        }
    }
}

/// The HTTP listener: MQTT over WebSocket for browsers, and a page at `/`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Listen addresses, as for `mqtt.tcp`; an empty list turns the listener off.
    #[serde(deserialize_with = "de::listen_addrs")]
    pub listen: Vec<SocketAddr>,
    /// Listen addresses for HTTPS and MQTT over secure WebSocket (`wss://`); empty for none.
    #[serde(deserialize_with = "de::listen_addrs")]
    pub tls_listen: Vec<SocketAddr>,
    /// The path WebSocket clients connect to (`ws://host:8080/mqtt`). Starts with `/`.
    pub ws_path: String,
    /// Browser origins (`http://host:port`) allowed to open a WebSocket; empty allows
    /// any. Requests without an `Origin` header (non-browser clients) are not checked.
    pub allowed_origins: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([0, 0, 0, 0], 8080))],
            tls_listen: Vec::new(),
            ws_path: "/mqtt".to_owned(),
            allowed_origins: Vec::new(),
        }
    }
}

/// Resource bounds: every queue and table a client can grow has a limit here.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest MQTT packet accepted, in bytes, counting the whole packet; also the
    /// MQTT 5 Maximum Packet Size we advertise. Stops one client exhausting memory.
    pub max_packet_size: u32,
    /// Most client connections open at once; 0 means unlimited. Protects file
    /// descriptors and memory on a small device.
    pub max_connections: usize,
    /// New connections accepted per second from one remote IP address (a burst
    /// of twice as many is allowed); 0 means unlimited. Loopback is exempt.
    pub max_connection_rate: u32,
    /// Outgoing QoS 1/2 messages awaiting acknowledgement per client, and the MQTT 5
    /// Receive Maximum we advertise. At least 1.
    pub max_inflight: u16,
    /// Messages queued per client beyond the in-flight window, including while the
    /// client is offline; the bound behind the slow-consumer policy.
    pub max_queued: usize,
    /// Time a new connection has to send CONNECT before it is closed, so idle sockets
    /// cannot pile up. Whole seconds in TOML; at least 1 second.
    #[serde(deserialize_with = "de::seconds")]
    pub connect_timeout: Duration,
    /// Longest keep-alive, in seconds, a client may use; an MQTT 5 client asking for
    /// more, or for 0, is told this value as Server Keep Alive. At least 1.
    pub max_keepalive: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_packet_size: 1024 * 1024,
            max_connections: 10_000,
            max_connection_rate: 10,
            max_inflight: 32,
            max_queued: 1000,
            connect_timeout: Duration::from_secs(10),
            max_keepalive: u16::MAX,
        }
    }
}

/// The MQTT-SN v1.2 gateway: its UDP sockets, discovery, and the bounds on its clients.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSnSettings {
    /// UDP addresses to receive MQTT-SN datagrams on; an empty list turns the
    /// gateway off. IPv6 sockets are IPv6-only, so `0.0.0.0:P` and `[::]:P` can both be listed.
    #[serde(deserialize_with = "de::listen_addrs")]
    pub udp: Vec<SocketAddr>,
    /// The gateway id sent in ADVERTISE and GWINFO.
    pub gateway_id: u8,
    /// Seconds between ADVERTISE messages; 0 sends none.
    pub advertise_interval: u16,
    /// Where ADVERTISE goes, and the multicast group whose SEARCHGW we hear;
    /// `None` (an empty string in TOML) means none.
    #[serde(deserialize_with = "de::optional_socket_addr")]
    pub multicast: Option<SocketAddr>,
    /// Topic ids every client may use without REGISTER (id → topic name).
    #[serde(deserialize_with = "de::predefined_topics")]
    pub predefined_topics: BTreeMap<u16, String>,
    /// Per-client predefined ids (client id → id → topic name); for that
    /// client they win over `predefined_topics`.
    #[serde(deserialize_with = "de::client_predefined_topics")]
    pub client_predefined_topics: BTreeMap<String, BTreeMap<u16, String>>,
    /// Messages held for one MQTT-SN client (its session queue), asleep or not;
    /// when full, QoS 0 messages make room first.
    pub max_sleep_buffer: usize,
    /// Time to wait for a client's acknowledgement before resending. Whole seconds; at least 1.
    #[serde(deserialize_with = "de::seconds")]
    pub t_retry: Duration,
    /// Time to wait before sending again to a client that answered "rejected:
    /// congestion" (the spec's T_WAIT). Whole seconds; at least 1.
    #[serde(deserialize_with = "de::seconds")]
    pub t_wait: Duration,
    /// Resends before a client that does not answer is taken for lost.
    pub n_retry: u8,
    /// MQTT-SN clients at once, over every link; 0 means unlimited.
    pub max_clients: usize,
    /// Whether QoS −1 PUBLISH (no connection; predefined or short topics) is accepted.
    pub allow_qos_minus_one: bool,
    /// Allow-list: client id → the address it must come from; empty admits every client.
    #[serde(deserialize_with = "auth::sn_clients")]
    pub clients: BTreeMap<String, ExpectedAddr>,
}

impl Default for MqttSnSettings {
    fn default() -> Self {
        Self {
            udp: vec![SocketAddr::from(([0, 0, 0, 0], 1884))],
            gateway_id: 1,
            advertise_interval: 0,
            multicast: None,
            predefined_topics: BTreeMap::new(),
            client_predefined_topics: BTreeMap::new(),
            max_sleep_buffer: 100,
            t_retry: Duration::from_secs(10),
            t_wait: Duration::from_secs(300),
            n_retry: 3,
            max_clients: 1000,
            allow_qos_minus_one: true,
            clients: BTreeMap::new(),
        }
    }
}

impl MqttSnSettings {
    fn check(&self) -> Result<(), Violation> {
        const KEY: &str = "mqttsn.udp";
        for (i, addr) in self.udp.iter().enumerate() {
            if self.udp[..i].contains(addr) {
                return Err(Violation::new(KEY, addr, "listed more than once"));
            }
        }
        at_least("mqttsn.t_retry", self.t_retry.as_secs(), 1)?;
        at_least("mqttsn.t_wait", self.t_wait.as_secs(), 1)?;
        at_least("mqttsn.max_sleep_buffer", self.max_sleep_buffer, 1)?;
        check_topic_ids("mqttsn.predefined_topics", "", &self.predefined_topics)?;
        for (client_id, table) in &self.client_predefined_topics {
            let client = format!("{client_id:?}: ");
            check_topic_ids("mqttsn.client_predefined_topics", &client, table)?;
        }
        Ok(())
    }
}

/// Ids 1 to 65534 naming valid topic names; `prefix` goes before each value
/// in an error (the client id of a per-client table).
fn check_topic_ids(
    key: &'static str,
    prefix: &str,
    table: &BTreeMap<u16, String>,
) -> Result<(), Violation> {
    for (id, topic) in table {
        let value = format!("{prefix}{id} = {topic:?}");
        if *id == 0 || *id == u16::MAX {
            return Err(Violation::new(
                key,
                value,
                "topic ids 0 and 65535 are reserved",
            ));
        }
        if let Err(error) = crate::protocol::topic::validate_topic_name(topic) {
            return Err(Violation::new(
                key,
                value,
                format!("not a topic name: {error}"),
            ));
        }
    }
    Ok(())
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Log filter in `tracing_subscriber::EnvFilter` syntax, checked here so a typo
    /// is a start-up error rather than silence. `RUST_LOG` overrides it (in `main`).
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
        }
    }
}

impl Settings {
    /// Embedded defaults < optional user file < environment (`WREN__SECTION__KEY`).
    ///
    /// The one call `main` makes at start-up. A missing file is an error: a path was
    /// given on purpose, so running on defaults instead would hide the mistake.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let user = file.map(layers::TomlLayer::read).transpose()?;
        Self::resolve(user, Some(layers::environment(None)))
    }

    /// Embedded defaults < the given TOML text, no environment.
    ///
    /// For tests and for checking a file's contents without the process environment
    /// mixing in.
    pub fn from_toml(text: &str) -> Result<Settings, SettingsError> {
        let user = layers::TomlLayer::parse(Origin::Text, text)?;
        Self::resolve(Some(user), None)
    }

    /// Merges the layers, deserializes, then checks ranges; every error is traced
    /// back to the layer that supplied the offending value.
    fn resolve(
        user: Option<layers::TomlLayer>,
        env: Option<config::Environment>,
    ) -> Result<Settings, SettingsError> {
        let merged = layers::Merged::build(user, env)?;
        let settings: Settings = merged.deserialize()?;
        settings
            .check()
            .map_err(|violation| violation.into_error(&merged))?;
        Ok(settings)
    }

    /// Range checks that types alone cannot express; the first failure wins.
    fn check(&self) -> Result<(), Violation> {
        self.mqtt.check()?;
        self.http.check()?;
        self.limits.check()?;
        self.mqttsn.check()?;
        radio::check(&self.radio)?;
        self.tls
            .check(self.mqtt.tls.len() + self.http.tls_listen.len())?;
        self.log.check()
    }
}

impl MqttSettings {
    fn check(&self) -> Result<(), Violation> {
        const KEY: &str = "mqtt.tcp";
        if self.tcp.is_empty() {
            return Err(Violation::new(
                KEY,
                "[]",
                "at least one listen address is required",
            ));
        }
        no_duplicates(KEY, &self.tcp)?;
        no_duplicates("mqtt.tls", &self.tls)
    }
}

impl HttpSettings {
    fn check(&self) -> Result<(), Violation> {
        no_duplicates("http.listen", &self.listen)?;
        no_duplicates("http.tls_listen", &self.tls_listen)?;
        let path = &self.ws_path;
        if !path.starts_with('/') || path.contains(['?', '#']) || path.contains(char::is_whitespace)
        {
            return Err(Violation::new(
                "http.ws_path",
                format!("{path:?}"),
                "must be a path starting with \"/\", without spaces, query or fragment",
            ));
        }
        for origin in &self.allowed_origins {
            if !is_origin(origin) {
                return Err(Violation::new(
                    "http.allowed_origins",
                    format!("{origin:?}"),
                    "not an origin: expected scheme://host[:port] without a path, or \"null\"",
                ));
            }
        }
        Ok(())
    }
}

/// An origin as browsers send it (RFC 6454 §6.1): `scheme://host[:port]`, or `null`
/// for pages from `file://` and sandboxed frames.
fn is_origin(text: &str) -> bool {
    if text == "null" {
        return true;
    }
    match text.split_once("://") {
        Some((scheme, host)) => {
            !scheme.is_empty()
                && !host.is_empty()
                && !host.contains('/')
                && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Fails when an address is listed twice: the second bind would fail anyway, with a
/// less helpful message.
fn no_duplicates(key: &'static str, addrs: &[SocketAddr]) -> Result<(), Violation> {
    for (i, addr) in addrs.iter().enumerate() {
        if addrs[..i].contains(addr) {
            return Err(Violation::new(key, addr, "listed more than once"));
        }
    }
    Ok(())
}

/// The Maximum Packet Size range we accept: below 128 bytes not even an ordinary
/// CONNECT fits; the top is the largest packet MQTT can express (1-byte fixed header,
/// 4-byte Remaining Length of at most 268,435,455; MQTT 5 §2.1.4).
const PACKET_SIZE_RANGE: RangeInclusive<u32> = 128..=268_435_460;

impl Limits {
    fn check(&self) -> Result<(), Violation> {
        between(
            "limits.max_packet_size",
            self.max_packet_size,
            PACKET_SIZE_RANGE,
        )?;
        // MQTT 5 §3.2.2.3.3: a Receive Maximum of 0 is a protocol error.
        at_least("limits.max_inflight", self.max_inflight, 1)?;
        at_least("limits.connect_timeout", self.connect_timeout.as_secs(), 1)?;
        at_least("limits.max_keepalive", self.max_keepalive, 1)
    }
}

impl LogSettings {
    fn check(&self) -> Result<(), Violation> {
        const KEY: &str = "log.level";
        let value = format!("{:?}", self.level);
        if self.level.trim().is_empty() {
            return Err(Violation::new(
                KEY,
                value,
                "must not be empty (use \"off\" to turn logging off)",
            ));
        }
        tracing_subscriber::EnvFilter::builder()
            .parse(&self.level)
            .map(drop)
            .map_err(|e| Violation::new(KEY, value, format!("not a log filter: {e}")))
    }
}

/// A deserialized value outside its allowed range, before we know which layer it
/// came from.
#[derive(Debug)]
struct Violation {
    key: String,
    value: String,
    reason: String,
}

impl Violation {
    fn new(key: impl Into<String>, value: impl Display, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    fn into_error(self, merged: &layers::Merged) -> SettingsError {
        SettingsError::Invalid {
            origin: merged.origin_of(&self.key),
            key: self.key,
            value: self.value,
            reason: self.reason,
        }
    }
}

/// Fails unless `value >= min`.
fn at_least<T: PartialOrd + Display>(key: &'static str, value: T, min: T) -> Result<(), Violation> {
    if value >= min {
        return Ok(());
    }
    Err(Violation::new(
        key,
        value,
        format!("must be at least {min}"),
    ))
}

/// Fails unless `value` lies in `range`.
fn between<T: PartialOrd + Display>(
    key: &'static str,
    value: T,
    range: RangeInclusive<T>,
) -> Result<(), Violation> {
    if range.contains(&value) {
        return Ok(());
    }
    let (min, max) = range.into_inner();
    let reason = format!("must be between {min} and {max}");
    Err(Violation::new(key, value, reason))
}
