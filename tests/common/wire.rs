//! MQTT bytes written and read by hand, straight from the specification,
//! independent of wren's own codec (a codec is never tested only against itself).
//!
//! Builders return whole packets as `Vec<u8>`; parsers take a [`Frame`] (one
//! packet as read from the socket) and panic with a readable message when the
//! bytes are not what the test expects.

use std::fmt;

/// Packet type nibbles (MQTT 3.1.1 §2.2.1, 5.0 §2.1.2).
pub mod kind {
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBACK: u8 = 9;
    pub const UNSUBACK: u8 = 11;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

/// MQTT 5 property identifiers used by the tests (§2.2.2.2).
pub mod prop {
    pub const PAYLOAD_FORMAT: u8 = 0x01;
    pub const MESSAGE_EXPIRY: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_ID: u8 = 0x0B;
    pub const SESSION_EXPIRY: u8 = 0x11;
    pub const ASSIGNED_CLIENT_ID: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const REQUEST_RESPONSE_INFO: u8 = 0x19;
    pub const WILL_DELAY: u8 = 0x18;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
}

/// Decodes a hex string with optional spaces: `"20 02 00 00"`.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(
        digits.len() % 2 == 0,
        "odd number of hex digits in {text:?}"
    );
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).unwrap();
            u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("bad hex {pair:?} in {text:?}"))
        })
        .collect()
}

/// Variable byte integer (MQTT 3.1.1 §2.2.3, 5.0 §1.5.5).
pub fn put_varint(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            return;
        }
    }
}

/// Two-byte length followed by the bytes (UTF-8 string or binary data).
pub fn put_str(out: &mut Vec<u8>, bytes: impl AsRef<[u8]>) {
    let bytes = bytes.as_ref();
    out.extend_from_slice(&u16::try_from(bytes.len()).unwrap().to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A whole packet: first byte, remaining length, body.
pub fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    put_varint(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// MQTT 5 properties, built in order; `encode` prefixes the length.
#[derive(Debug, Clone, Default)]
pub struct Props(Vec<u8>);

impl Props {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn byte(mut self, id: u8, value: u8) -> Self {
        self.0.extend_from_slice(&[id, value]);
        self
    }
    pub fn two(mut self, id: u8, value: u16) -> Self {
        self.0.push(id);
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    pub fn four(mut self, id: u8, value: u32) -> Self {
        self.0.push(id);
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    pub fn var(mut self, id: u8, value: usize) -> Self {
        self.0.push(id);
        put_varint(&mut self.0, value);
        self
    }
    pub fn string(mut self, id: u8, value: impl AsRef<[u8]>) -> Self {
        self.0.push(id);
        put_str(&mut self.0, value);
        self
    }
    pub fn pair(mut self, id: u8, key: &str, value: &str) -> Self {
        self.0.push(id);
        put_str(&mut self.0, key);
        put_str(&mut self.0, value);
        self
    }
    /// Property length, then the properties.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.0.len());
        out.extend_from_slice(&self.0);
    }
}

/// A will message for [`Connect`].
#[derive(Debug, Clone)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// Will properties (v5 only).
    pub props: Props,
}

impl Will {
    pub fn new(topic: &str, payload: &[u8], qos: u8) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into(),
            qos,
            retain: false,
            props: Props::new(),
        }
    }
}

/// A CONNECT packet.
#[derive(Debug, Clone)]
pub struct Connect {
    /// Protocol level: 3 (`MQIsdp`), 4 (3.1.1), 5, or anything for error tests.
    pub level: u8,
    /// Protocol name; by default `MQIsdp` for level 3 and `MQTT` otherwise.
    pub name: Option<&'static str>,
    pub client_id: String,
    pub clean: bool,
    pub keep_alive: u16,
    pub will: Option<Will>,
    /// CONNECT properties; written when `level == 5`.
    pub props: Props,
    /// User name and password, when set (`login`).
    pub login: Option<(String, Vec<u8>)>,
}

impl Connect {
    pub fn v31(client_id: &str) -> Self {
        Self::level(3, client_id)
    }
    pub fn v311(client_id: &str) -> Self {
        Self::level(4, client_id)
    }
    pub fn v5(client_id: &str) -> Self {
        Self::level(5, client_id)
    }
    pub fn level(level: u8, client_id: &str) -> Self {
        Self {
            level,
            name: None,
            client_id: client_id.into(),
            clean: true,
            keep_alive: 30,
            will: None,
            props: Props::new(),
            login: None,
        }
    }
    pub fn login(mut self, user: &str, password: &[u8]) -> Self {
        self.login = Some((user.into(), password.to_vec()));
        self
    }
    pub fn clean(mut self, clean: bool) -> Self {
        self.clean = clean;
        self
    }
    pub fn keep_alive(mut self, seconds: u16) -> Self {
        self.keep_alive = seconds;
        self
    }
    pub fn will(mut self, will: Will) -> Self {
        self.will = Some(will);
        self
    }
    pub fn props(mut self, props: Props) -> Self {
        self.props = props;
        self
    }
    pub fn is_v5(&self) -> bool {
        self.level == 5
    }
    pub fn bytes(&self) -> Vec<u8> {
        let name = self
            .name
            .unwrap_or(if self.level == 3 { "MQIsdp" } else { "MQTT" });
        let mut body = Vec::new();
        put_str(&mut body, name);
        body.push(self.level);
        let mut flags = 0u8;
        if self.clean {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | (will.qos << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.login.is_some() {
            flags |= 0xC0;
        }
        body.push(flags);
        body.extend_from_slice(&self.keep_alive.to_be_bytes());
        if self.is_v5() {
            self.props.encode(&mut body);
        }
        put_str(&mut body, &self.client_id);
        if let Some(will) = &self.will {
            if self.is_v5() {
                will.props.encode(&mut body);
            }
            put_str(&mut body, &will.topic);
            put_str(&mut body, &will.payload);
        }
        if let Some((user, password)) = &self.login {
            put_str(&mut body, user);
            put_str(&mut body, password);
        }
        frame(0x10, &body)
    }
}

/// A PUBLISH packet.
#[derive(Debug, Clone)]
pub struct Publish {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub packet_id: u16,
    pub retain: bool,
    pub dup: bool,
    /// `Some` writes v5 properties (possibly none); `None` is the 3.1.1 layout.
    pub props: Option<Props>,
}

impl Publish {
    pub fn new(topic: &str, payload: &[u8]) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into(),
            qos: 0,
            packet_id: 0,
            retain: false,
            dup: false,
            props: None,
        }
    }
    pub fn qos(mut self, qos: u8, packet_id: u16) -> Self {
        self.qos = qos;
        self.packet_id = packet_id;
        self
    }
    pub fn retain(mut self) -> Self {
        self.retain = true;
        self
    }
    pub fn dup(mut self) -> Self {
        self.dup = true;
        self
    }
    /// Makes it a v5 PUBLISH with these properties.
    pub fn v5(mut self, props: Props) -> Self {
        self.props = Some(props);
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        let mut first = 0x30 | (self.qos << 1);
        if self.dup {
            first |= 0x08;
        }
        if self.retain {
            first |= 0x01;
        }
        let mut body = Vec::new();
        put_str(&mut body, &self.topic);
        if self.qos > 0 {
            body.extend_from_slice(&self.packet_id.to_be_bytes());
        }
        if let Some(props) = &self.props {
            props.encode(&mut body);
        }
        body.extend_from_slice(&self.payload);
        frame(first, &body)
    }
}

/// SUBSCRIBE in the 3.1.1 layout: `(filter, requested QoS)`.
pub fn subscribe(packet_id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    for (filter, qos) in filters {
        put_str(&mut body, filter);
        body.push(*qos);
    }
    frame(0x82, &body)
}

/// SUBSCRIBE in the 5.0 layout: `(filter, options byte)`; options are
/// QoS | no local 0x04 | retain as published 0x08 | retain handling << 4.
pub fn subscribe_v5(packet_id: u16, props: Props, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    props.encode(&mut body);
    for (filter, options) in filters {
        put_str(&mut body, filter);
        body.push(*options);
    }
    frame(0x82, &body)
}

/// UNSUBSCRIBE; `v5` adds an empty property length.
pub fn unsubscribe(packet_id: u16, v5: bool, filters: &[&str]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    if v5 {
        body.push(0);
    }
    for filter in filters {
        put_str(&mut body, filter);
    }
    frame(0xA2, &body)
}

/// PUBACK / PUBREC / PUBREL / PUBCOMP with success (the same bytes in 3.1.1 and 5.0).
pub fn puback(packet_id: u16) -> Vec<u8> {
    frame(0x40, &packet_id.to_be_bytes())
}
pub fn pubrec(packet_id: u16) -> Vec<u8> {
    frame(0x50, &packet_id.to_be_bytes())
}
pub fn pubrel(packet_id: u16) -> Vec<u8> {
    frame(0x62, &packet_id.to_be_bytes())
}
pub fn pubcomp(packet_id: u16) -> Vec<u8> {
    frame(0x70, &packet_id.to_be_bytes())
}
pub const PINGREQ: [u8; 2] = [0xC0, 0x00];
pub const PINGRESP: [u8; 2] = [0xD0, 0x00];
/// DISCONNECT, normal (valid in every version).
pub const DISCONNECT: [u8; 2] = [0xE0, 0x00];

/// One packet as received: first byte and body.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pub first: u8,
    pub body: Vec<u8>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frame({:02x} |", self.first)?;
        for b in self.body.iter().take(64) {
            write!(f, " {b:02x}")?;
        }
        if self.body.len() > 64 {
            write!(f, " … ({} bytes)", self.body.len())?;
        }
        write!(f, ")")
    }
}

impl Frame {
    pub fn kind(&self) -> u8 {
        self.first >> 4
    }
    /// The packet as it was on the wire.
    pub fn bytes(&self) -> Vec<u8> {
        frame(self.first, &self.body)
    }
    fn expect_kind(&self, kind: u8) {
        assert_eq!(
            self.kind(),
            kind,
            "expected packet type {kind}, got {self:?}"
        );
    }
    /// The packet id of an acknowledgement or SUBACK/UNSUBACK.
    pub fn packet_id(&self) -> u16 {
        u16::from_be_bytes([self.body[0], self.body[1]])
    }
    /// The reason code of a v5 PUBACK/PUBREC/PUBREL/PUBCOMP (0 when omitted).
    pub fn ack_reason(&self) -> u8 {
        self.body.get(2).copied().unwrap_or(0)
    }
    pub fn publish(&self, v5: bool) -> PublishIn {
        self.expect_kind(kind::PUBLISH);
        let qos = (self.first >> 1) & 3;
        let mut r = Reader::new(&self.body);
        let topic = r.string();
        let packet_id = (qos > 0).then(|| r.u16());
        let props = if v5 { r.props() } else { PropList::default() };
        PublishIn {
            dup: self.first & 0x08 != 0,
            qos,
            retain: self.first & 0x01 != 0,
            topic,
            packet_id,
            props,
            payload: r.rest().to_vec(),
        }
    }
    pub fn connack(&self, v5: bool) -> ConnAckIn {
        self.expect_kind(kind::CONNACK);
        let mut r = Reader::new(&self.body);
        let flags = r.u8();
        let code = r.u8();
        let props = if v5 { r.props() } else { PropList::default() };
        ConnAckIn {
            session_present: flags & 1 != 0,
            code,
            props,
        }
    }
    /// Reason codes of a SUBACK or UNSUBACK (v5 skips the properties).
    pub fn sub_reasons(&self, v5: bool) -> Vec<u8> {
        assert!(
            matches!(self.kind(), kind::SUBACK | kind::UNSUBACK),
            "expected SUBACK or UNSUBACK, got {self:?}"
        );
        let mut r = Reader::new(&self.body);
        r.u16();
        if v5 {
            r.props();
        }
        r.rest().to_vec()
    }
    /// The reason code of a v5 DISCONNECT (0 when omitted).
    pub fn disconnect_reason(&self) -> u8 {
        self.expect_kind(kind::DISCONNECT);
        self.body.first().copied().unwrap_or(0)
    }
}

/// A PUBLISH as received.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishIn {
    pub dup: bool,
    pub qos: u8,
    pub retain: bool,
    pub topic: String,
    pub packet_id: Option<u16>,
    pub props: PropList,
    pub payload: Vec<u8>,
}

/// A CONNACK as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnAckIn {
    pub session_present: bool,
    pub code: u8,
    pub props: PropList,
}

/// A property value, typed as §2.2.2.2 defines per identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropValue {
    Byte(u8),
    Two(u16),
    Four(u32),
    Var(u32),
    Str(String),
    Bin(Vec<u8>),
    Pair(String, String),
}

/// Properties in the order they were received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropList(pub Vec<(u8, PropValue)>);

impl PropList {
    pub fn get(&self, id: u8) -> Option<&PropValue> {
        self.0.iter().find(|(i, _)| *i == id).map(|(_, v)| v)
    }
    pub fn all(&self, id: u8) -> Vec<&PropValue> {
        self.0
            .iter()
            .filter(|(i, _)| *i == id)
            .map(|(_, v)| v)
            .collect()
    }
    /// A numeric property (byte, two, four or variable byte integer).
    pub fn num(&self, id: u8) -> Option<u32> {
        self.get(id).map(|v| match v {
            PropValue::Byte(b) => u32::from(*b),
            PropValue::Two(n) => u32::from(*n),
            PropValue::Four(n) | PropValue::Var(n) => *n,
            other => panic!("property {id:#04x} is not a number: {other:?}"),
        })
    }
    pub fn str(&self, id: u8) -> Option<&str> {
        self.get(id).map(|v| match v {
            PropValue::Str(s) => s.as_str(),
            other => panic!("property {id:#04x} is not a string: {other:?}"),
        })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let end = self.pos + n;
        assert!(end <= self.buf.len(), "packet too short: {:02x?}", self.buf);
        let slice = &self.buf[self.pos..end];
        self.pos = end;
        slice
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u16(&mut self) -> u16 {
        let b = self.take(2);
        u16::from_be_bytes([b[0], b[1]])
    }
    fn u32(&mut self) -> u32 {
        let b = self.take(4);
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    fn varint(&mut self) -> u32 {
        let mut value = 0u32;
        for shift in 0..4 {
            let byte = self.u8();
            value |= u32::from(byte & 0x7F) << (7 * shift);
            if byte & 0x80 == 0 {
                return value;
            }
        }
        panic!("variable byte integer longer than 4 bytes");
    }
    fn binary(&mut self) -> Vec<u8> {
        let len = usize::from(self.u16());
        self.take(len).to_vec()
    }
    fn string(&mut self) -> String {
        String::from_utf8(self.binary()).expect("UTF-8 string")
    }
    fn rest(&mut self) -> &'a [u8] {
        let rest = &self.buf[self.pos..];
        self.pos = self.buf.len();
        rest
    }
    fn props(&mut self) -> PropList {
        let len = self.varint() as usize;
        let end = self.pos + len;
        let mut list = Vec::new();
        while self.pos < end {
            let id = self.u8();
            let value = match id {
                0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => PropValue::Byte(self.u8()),
                0x13 | 0x21 | 0x22 | 0x23 => PropValue::Two(self.u16()),
                0x02 | 0x11 | 0x18 | 0x27 => PropValue::Four(self.u32()),
                0x0B => PropValue::Var(self.varint()),
                0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F => PropValue::Str(self.string()),
                0x09 | 0x16 => PropValue::Bin(self.binary()),
                0x26 => PropValue::Pair(self.string(), self.string()),
                other => panic!("unknown property identifier {other:#04x}"),
            };
            list.push((id, value));
        }
        assert_eq!(self.pos, end, "property length does not match its content");
        PropList(list)
    }
}
