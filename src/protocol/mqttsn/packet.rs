//! MQTT-SN v1.2 messages as values: what `decode` produces and `encode` consumes.
//!
//! Fields hold what the message means, not its flags octet: a PUBLISH has a
//! `Topic` rather than a TopicIdType and a TopicId. Payloads, topic names and
//! client ids are slices of the datagram they were read from, never copies.

use std::fmt;

use bytes::Bytes;
use bytestring::ByteString;

use super::flags::QoS;
use super::header::MsgType;

/// A message id (§5.3.9). 0 is carried only where the spec allows it: a QoS 0
/// or −1 PUBLISH ("coded 0x0000") and the PUBACK that answers one.
pub type MsgId = u16;

/// A topic id (§5.3.11). 0x0000 and 0xFFFF are reserved as ids, but 0x0000 is
/// also what a client's REGISTER and a wildcard SUBACK carry, so the codec
/// passes every value through.
pub type TopicId = u16;

/// A return code (§5.3.10). A newtype rather than an enum: 0x04–0xFF are
/// reserved, but peers use some of them (EMQX sends 0x80–0x84), and a client's
/// REGACK or PUBACK must not be dropped for it; anything but `ACCEPTED` is a rejection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReturnCode(pub u8);

impl ReturnCode {
    /// 0x00: accepted.
    pub const ACCEPTED: Self = Self(0x00);
    /// 0x01: rejected, congestion; the client retries after T_WAIT.
    pub const CONGESTION: Self = Self(0x01);
    /// 0x02: rejected, invalid topic id.
    pub const INVALID_TOPIC_ID: Self = Self(0x02);
    /// 0x03: rejected, not supported.
    pub const NOT_SUPPORTED: Self = Self(0x03);

    /// True for 0x00 only.
    pub fn is_accepted(self) -> bool {
        self == Self::ACCEPTED
    }
}

impl fmt::Debug for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            Self::ACCEPTED => "Accepted",
            Self::CONGESTION => "Congestion",
            Self::INVALID_TOPIC_ID => "InvalidTopicId",
            Self::NOT_SUPPORTED => "NotSupported",
            Self(other) => return write!(f, "ReturnCode(0x{other:02X})"),
        };
        f.write_str(name)
    }
}

/// A short topic name (§3, §5.3.11): a topic name of exactly two octets, sent
/// in place of a topic id. Kept as raw octets; whether they are a valid topic
/// is the gateway's question (it answers PUBACK 0x02), not the codec's.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShortName(pub [u8; 2]);

impl ShortName {
    /// The name as text, if the two octets are UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The two octets read as the TopicId field they travel in, as PUBACK echoes them.
    pub fn as_topic_id(self) -> TopicId {
        u16::from_be_bytes(self.0)
    }
}

impl fmt::Debug for ShortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_str() {
            Some(name) => write!(f, "ShortName({name:?})"),
            None => write!(f, "ShortName({:02X?})", self.0),
        }
    }
}

/// The topic of a PUBLISH: its TopicIdType and TopicId field together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// TopicIdType 0b00: an id from REGISTER/REGACK or SUBACK.
    Normal(TopicId),
    /// TopicIdType 0b01: an id both sides know in advance.
    Predefined(TopicId),
    /// TopicIdType 0b10: a two-octet topic name.
    Short(ShortName),
}

impl Topic {
    /// The TopicId field as it is on the wire, for PUBACK's echo of it.
    pub fn wire_id(self) -> TopicId {
        match self {
            Self::Normal(id) | Self::Predefined(id) => id,
            Self::Short(name) => name.as_topic_id(),
        }
    }
}

/// The topic of a SUBSCRIBE or UNSUBSCRIBE (§5.4.15, §5.4.17).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubscribeTopic {
    /// TopicIdType 0b00: a topic name or filter (wildcards allowed), the rest of the message.
    Name(ByteString),
    /// TopicIdType 0b01: a predefined topic id.
    Predefined(TopicId),
    /// TopicIdType 0b10: a two-octet topic name.
    Short(ShortName),
}

/// Every MQTT-SN v1.2 message (§5.4), and the forwarder encapsulation around one (§5.5).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// 0x00, gateway → all.
    Advertise(Advertise),
    /// 0x01, client → all.
    SearchGw(SearchGw),
    /// 0x02, answer to SEARCHGW.
    GwInfo(GwInfo),
    /// 0x04.
    Connect(Connect),
    /// 0x05.
    ConnAck(ReturnCode),
    /// 0x06, gateway asks for the will topic.
    WillTopicReq,
    /// 0x07. `None` is the empty WILLTOPIC (2 octets) that deletes the will (§5.4.7).
    WillTopic(Option<WillTopic>),
    /// 0x08, gateway asks for the will message.
    WillMsgReq,
    /// 0x09.
    WillMsg(WillMsg),
    /// 0x0A, both directions.
    Register(Register),
    /// 0x0B.
    RegAck(RegAck),
    /// 0x0C, both directions.
    Publish(Publish),
    /// 0x0D.
    PubAck(PubAck),
    /// 0x0E.
    PubComp(MsgId),
    /// 0x0F.
    PubRec(MsgId),
    /// 0x10.
    PubRel(MsgId),
    /// 0x12.
    Subscribe(Subscribe),
    /// 0x13.
    SubAck(SubAck),
    /// 0x14.
    Unsubscribe(Unsubscribe),
    /// 0x15.
    UnsubAck(MsgId),
    /// 0x16.
    PingReq(PingReq),
    /// 0x17.
    PingResp,
    /// 0x18.
    Disconnect(Disconnect),
    /// 0x1A. `None` is the empty WILLTOPICUPD that deletes the will (§6.4).
    WillTopicUpd(Option<WillTopic>),
    /// 0x1B.
    WillTopicResp(ReturnCode),
    /// 0x1C.
    WillMsgUpd(WillMsg),
    /// 0x1D.
    WillMsgResp(ReturnCode),
    /// 0xFE: a message relayed by a forwarder. Never nested: the codec refuses
    /// an encapsulated message inside another, both ways.
    Encapsulated(Box<Encapsulated>),
}

impl Message {
    /// The MsgType this message is sent as.
    pub fn msg_type(&self) -> MsgType {
        use MsgType as T;
        match self {
            Self::Advertise(_) => T::Advertise,
            Self::SearchGw(_) => T::SearchGw,
            Self::GwInfo(_) => T::GwInfo,
            Self::Connect(_) => T::Connect,
            Self::ConnAck(_) => T::ConnAck,
            Self::WillTopicReq => T::WillTopicReq,
            Self::WillTopic(_) => T::WillTopic,
            Self::WillMsgReq => T::WillMsgReq,
            Self::WillMsg(_) => T::WillMsg,
            Self::Register(_) => T::Register,
            Self::RegAck(_) => T::RegAck,
            Self::Publish(_) => T::Publish,
            Self::PubAck(_) => T::PubAck,
            Self::PubComp(_) => T::PubComp,
            Self::PubRec(_) => T::PubRec,
            Self::PubRel(_) => T::PubRel,
            Self::Subscribe(_) => T::Subscribe,
            Self::SubAck(_) => T::SubAck,
            Self::Unsubscribe(_) => T::Unsubscribe,
            Self::UnsubAck(_) => T::UnsubAck,
            Self::PingReq(_) => T::PingReq,
            Self::PingResp => T::PingResp,
            Self::Disconnect(_) => T::Disconnect,
            Self::WillTopicUpd(_) => T::WillTopicUpd,
            Self::WillTopicResp(_) => T::WillTopicResp,
            Self::WillMsgUpd(_) => T::WillMsgUpd,
            Self::WillMsgResp(_) => T::WillMsgResp,
            Self::Encapsulated(_) => T::Encapsulated,
        }
    }
}

/// ADVERTISE (§5.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertise {
    pub gw_id: u8,
    /// Seconds until the next ADVERTISE.
    pub duration: u16,
}

/// SEARCHGW (§5.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchGw {
    /// Broadcast radius (hops) the SEARCHGW was sent with.
    pub radius: u8,
}

/// GWINFO (§5.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GwInfo {
    pub gw_id: u8,
    /// The gateway's address; present only when a client answers for the
    /// gateway, empty when the gateway answers itself.
    pub gw_add: Bytes,
}

/// CONNECT (§5.4.4). ProtocolId is always 0x01; the decoder refuses others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The client will send WILLTOPIC and WILLMSG when asked for them.
    pub will: bool,
    pub clean_session: bool,
    /// Keep-alive in seconds.
    pub duration: u16,
    /// 1–23 characters by the spec; the length is the gateway's check.
    pub client_id: ByteString,
}

/// The body of WILLTOPIC and WILLTOPICUPD (§5.4.7, §5.4.22).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WillTopic {
    pub qos: QoS,
    pub retain: bool,
    pub topic: ByteString,
}

/// The body of WILLMSG and WILLMSGUPD (§5.4.9, §5.4.24). `Debug` shows only its size.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct WillMsg {
    pub payload: Bytes,
}

impl fmt::Debug for WillMsg {
    // Will messages are payloads: they stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WillMsg")
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// REGISTER (§5.4.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// 0x0000 from a client; the assigned id from the gateway.
    pub topic_id: TopicId,
    pub msg_id: MsgId,
    pub topic_name: ByteString,
}

/// REGACK (§5.4.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegAck {
    pub topic_id: TopicId,
    pub msg_id: MsgId,
    pub return_code: ReturnCode,
}

/// PUBLISH (§5.4.12). `Debug` shows the payload's size, not its content.
#[derive(Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: Topic,
    /// Not 0 at QoS 1 and 2. At QoS 0 and −1 the spec says 0x0000; another
    /// value is carried as it came, for the gateway to ignore.
    pub msg_id: MsgId,
    pub payload: Bytes,
}

impl fmt::Debug for Publish {
    // Payloads stay out of logs: they may be large or private.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("topic", &self.topic)
            .field("msg_id", &self.msg_id)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// PUBACK (§5.4.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubAck {
    /// The TopicId field of the PUBLISH it answers (a short name's two octets included).
    pub topic_id: TopicId,
    /// 0 when it rejects a QoS 0 PUBLISH (return code 0x02 for an unknown topic id).
    pub msg_id: MsgId,
    pub return_code: ReturnCode,
}

/// SUBSCRIBE (§5.4.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    pub dup: bool,
    /// The requested QoS.
    pub qos: QoS,
    pub msg_id: MsgId,
    pub topic: SubscribeTopic,
}

/// SUBACK (§5.4.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubAck {
    /// The granted QoS.
    pub qos: QoS,
    /// The id to publish on; 0x0000 for a wildcard filter or a predefined or short topic.
    pub topic_id: TopicId,
    pub msg_id: MsgId,
    pub return_code: ReturnCode,
}

/// UNSUBSCRIBE (§5.4.17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub msg_id: MsgId,
    pub topic: SubscribeTopic,
}

/// PINGREQ (§5.4.19).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PingReq {
    /// Present when a sleeping client wakes up to collect its messages (§6.14).
    /// Never `Some("")`: an empty client id is no client id on the wire.
    pub client_id: Option<ByteString>,
}

/// DISCONNECT (§5.4.21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// Present when the client goes to sleep for this many seconds (§6.14).
    pub duration: Option<u16>,
}

/// The forwarder encapsulation (§5.5): a message relayed between a wireless
/// node and the gateway by a forwarder. Replies to the node go back wrapped
/// the same way, with the same `node_id`, through the same forwarder.
#[derive(Debug, Clone, PartialEq)]
pub struct Encapsulated {
    pub ctrl: Ctrl,
    /// The forwarder's name for the wireless node, opaque to the gateway:
    /// 0–252 octets, since the header's 1-octet Length counts it.
    pub node_id: Bytes,
    /// The relayed message; never itself `Encapsulated`.
    pub message: Message,
}

/// The Ctrl octet of the forwarder encapsulation (§5.5). Bits 1–0 are the
/// broadcast radius (meaningful from gateway to forwarder); the other bits are
/// reserved, carried as they came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ctrl(pub u8);

impl Ctrl {
    /// A Ctrl octet with this broadcast radius (only its low two bits count).
    pub fn with_radius(radius: u8) -> Self {
        Self(radius & 0b11)
    }

    /// The broadcast radius.
    pub fn radius(self) -> u8 {
        self.0 & 0b11
    }
}
