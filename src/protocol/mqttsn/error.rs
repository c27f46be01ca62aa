//! Why a datagram could not be read, or a message written.

use super::header::MsgType;

/// Why a datagram is not one valid MQTT-SN message. MQTT-SN has no message
/// that reports a malformed one, so the link drops the datagram and counts it;
/// `UnsupportedProtocolId` is the exception a gateway may answer (CONNACK 0x03).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The datagram is too short to hold its Length field and MsgType: under 2
    /// octets, or under 4 when the first octet announces the 3-octet form.
    #[error("datagram too short for a message header")]
    Truncated,
    /// The Length field does not equal the datagram's size. Length counts every
    /// octet of the message (§5.2.1) and a datagram carries exactly one message,
    /// so bytes past the announced length are refused, not ignored.
    #[error("length field says {declared} octets, datagram has {actual}")]
    LengthMismatch { declared: usize, actual: usize },
    /// A reserved MsgType: 0x03, 0x11, 0x19, 0x1E–0xFD or 0xFF (§5.3.2).
    #[error("reserved message type {0:#04x}")]
    UnknownType(u8),
    /// The message ends before the fields its type requires (or, for
    /// DISCONNECT, in the middle of its optional Duration).
    #[error("{0:?} message too short")]
    TooShort(MsgType),
    /// The message has octets after every field its type can hold.
    #[error("{0:?} message too long")]
    TooLong(MsgType),
    /// TopicIdType 0b11, reserved, in a PUBLISH, SUBSCRIBE or UNSUBSCRIBE (§5.3.4).
    #[error("reserved topic id type 0b11")]
    InvalidTopicIdType,
    /// A topic name, will topic or client id is not UTF-8.
    #[error("text field is not valid UTF-8")]
    InvalidUtf8,
    /// CONNECT with a ProtocolId other than 0x01 (§5.3.8): an MQTT-SN 2.0
    /// client, say, whose CONNECT has another layout.
    #[error("unsupported protocol id {0:#04x}")]
    UnsupportedProtocolId(u8),
    /// Message id 0 where an acknowledgement must be matched to it: QoS 1/2
    /// PUBLISH, REGISTER, REGACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK,
    /// UNSUBSCRIBE, UNSUBACK (§5.3.9, MsgId as in MQTT, where 0 is invalid).
    #[error("{0:?} with message id 0")]
    ZeroMsgId(MsgType),
    /// The forwarder encapsulation header is malformed (§5.5): its Length
    /// octet is under 3 or runs past the datagram, or 0xFE follows a 3-octet
    /// length, which the encapsulation header does not have.
    #[error("malformed forwarder encapsulation header")]
    BadForwarder,
    /// An encapsulated message inside another (§5.5 describes one forwarder
    /// between node and gateway).
    #[error("encapsulated message inside an encapsulated message")]
    NestedEncapsulation,
}

/// Why a message could not be written. Nothing is left in the buffer then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The message would be longer than 65,535 octets, the 3-octet form's limit.
    #[error("message longer than 65,535 octets")]
    TooLarge,
    /// A forwarder node id longer than 252 octets: the encapsulation header's
    /// 1-octet Length counts 3 octets besides it.
    #[error("forwarder node id longer than 252 octets")]
    NodeIdTooLong,
    /// An encapsulated message inside another, which the decoder refuses.
    #[error("encapsulated message inside an encapsulated message")]
    NestedEncapsulation,
    /// PINGREQ with `Some("")` as client id: it would read back as `None`.
    #[error("PINGREQ with an empty client id")]
    EmptyClientId,
    /// Message id 0 on a message the decoder refuses it on.
    #[error("{0:?} with message id 0")]
    ZeroMsgId(MsgType),
}
