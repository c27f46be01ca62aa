//! Serde helpers for setting values TOML has no native type for.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Listen addresses: one `"ip:port"` string or a list of them.
///
/// A single string is accepted because one listener is the common case and
/// `tcp = "0.0.0.0:1883"` is what people write first.
pub(super) fn listen_addrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    d.deserialize_any(ListenAddrs)
}

struct ListenAddrs;

impl<'de> Visitor<'de> for ListenAddrs {
    type Value = Vec<SocketAddr>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a socket address such as \"0.0.0.0:1883\", or a list of them")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        socket_addr(text).map(|addr| vec![addr])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut addrs = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some(text) = seq.next_element::<String>()? {
            addrs.push(socket_addr(&text)?);
        }
        Ok(addrs)
    }
}

/// Parses one address; surrounding spaces are allowed because a comma-separated
/// environment value is naturally written `a, b`.
fn socket_addr<E: de::Error>(text: &str) -> Result<SocketAddr, E> {
    text.trim().parse().map_err(|_| {
        E::custom(format_args!(
            "{text:?} is not a socket address (expected IP:port, e.g. \"0.0.0.0:1883\" or \"[::1]:1883\")"
        ))
    })
}

/// A duration written as whole seconds, the unit every timeout in the file uses.
pub(super) fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_secs)
}

/// An optional socket address: an empty string means none, since TOML has no null.
pub(super) fn optional_socket_addr<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    socket_addr(&text).map(Some)
}

/// A table of topic id → topic name; TOML keys are strings, so ids are parsed here.
pub(super) fn predefined_topics<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<u16, String>, D::Error> {
    topic_ids(BTreeMap::<String, String>::deserialize(d)?).map_err(de::Error::custom)
}

/// Tables of topic id → topic name, one per client id.
pub(super) fn client_predefined_topics<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, BTreeMap<u16, String>>, D::Error> {
    BTreeMap::<String, BTreeMap<String, String>>::deserialize(d)?
        .into_iter()
        .map(|(client_id, table)| match topic_ids(table) {
            Ok(table) => Ok((client_id, table)),
            Err(error) => Err(de::Error::custom(format_args!("{client_id:?}: {error}"))),
        })
        .collect()
}

fn topic_ids(table: BTreeMap<String, String>) -> Result<BTreeMap<u16, String>, String> {
    table
        .into_iter()
        .map(|(id, topic)| match id.trim().parse::<u16>() {
            Ok(id) => Ok((id, topic)),
            Err(_) => Err(format!(
                "{id:?} is not a topic id (expected a number from 1 to 65534)"
            )),
        })
        .collect()
}
