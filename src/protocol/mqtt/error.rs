//! Why a packet could not be read or written.

use super::packet::ReasonCode;

/// Why bytes from a peer are not a valid packet. Every variant closes the
/// connection; `reason_code` says which v5 DISCONNECT (or CONNACK) reason to send first.
///
/// Variants carry only small `Copy` values (an identifier, a level) so the session
/// can match on them and tests can compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The packet is larger than the configured maximum (checked from the fixed header alone).
    /// `len` is the whole packet: fixed header plus remaining length.
    #[error("packet of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: u32 },
    /// A variable byte integer (remaining length, property length, subscription
    /// identifier) runs past its 4-byte maximum (MQTT 3.1.1 §2.2.3, 5.0 §1.5.5).
    #[error("variable byte integer longer than 4 bytes")]
    VarIntTooLong,
    /// The packet type nibble is reserved: 0 always, 15 (AUTH) before 5.0.
    #[error("reserved packet type {0}")]
    InvalidPacketType(u8),
    /// The low nibble of the first byte is not the one this packet type requires
    /// (MQTT 3.1.1 §2.2.2, 5.0 §2.1.3).
    #[error("invalid fixed header flags {flags:#06b} for packet type {packet_type}")]
    InvalidHeaderFlags { packet_type: u8, flags: u8 },
    /// A QoS field (PUBLISH header, will QoS, subscription options) holds 3.
    #[error("QoS 3 is not a QoS")]
    InvalidQoS,
    /// PUBLISH with DUP set at QoS 0 (3.1.1 §3.3.1.1, 5.0 [MQTT-3.3.1-2]).
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupWithQoS0,
    /// A packet identifier of 0 (3.1.1 §2.3.1, 5.0 §2.2.1).
    #[error("packet identifier 0")]
    ZeroPacketId,
    /// The content announced inside the packet runs past its remaining length.
    #[error("packet content runs past its remaining length")]
    Truncated,
    /// Bytes are left inside the packet after everything its type contains.
    #[error("unexpected bytes at the end of the packet")]
    TrailingBytes,
    /// A UTF-8 string field is not valid UTF-8 ([MQTT-1.5.4-1] / [MQTT-1.5.3-1]).
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A UTF-8 string field contains U+0000 ([MQTT-1.5.4-2] / [MQTT-1.5.3-2]).
    #[error("string contains U+0000")]
    NullCharacter,
    /// CONNECT names neither `MQTT` nor `MQIsdp`: the peer may not speak MQTT at all,
    /// so the session closes without a CONNACK (3.1.1 [MQTT-3.1.2-1]).
    #[error("unknown protocol name")]
    InvalidProtocolName,
    /// CONNECT names a known protocol with a level this broker does not speak.
    /// The session answers CONNACK return code 0x01 in the 3.1.1 layout
    /// (`20 02 00 01`, 3.1.1 [MQTT-3.1.2-2]); as a v5 reason this is 0x84.
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolVersion(u8),
    /// The reserved bit 0 of the CONNECT flags is set ([MQTT-3.1.2-3]).
    #[error("reserved CONNECT flag set")]
    ReservedConnectFlag,
    /// Will QoS or will retain set while the will flag is 0 ([MQTT-3.1.2-11], [MQTT-3.1.2-13]).
    #[error("will QoS or retain set without a will")]
    InvalidWillFlags,
    /// Password flag without user name flag: forbidden before 5.0 ([MQTT-3.1.2-22]).
    #[error("password without user name")]
    PasswordWithoutUsername,
    /// CONNACK acknowledge flags bits 1–7 are reserved and must be 0 (3.1.1 §3.2.2.1).
    #[error("reserved CONNACK flags set")]
    ReservedConnAckFlags,
    /// A 3.1/3.1.1 CONNACK or SUBACK return code outside the defined set.
    #[error("unknown return code {0:#04x}")]
    InvalidReturnCode(u8),
    /// Reserved bits of a subscription options byte are set
    /// (bits 2–7 in 3.1.1 [MQTT-3-8.3-4], bits 6–7 in 5.0 [MQTT-3.8.3-5]).
    #[error("reserved subscription option bits set")]
    ReservedSubscriptionOptions,
    /// Retain handling 3 in 5.0 subscription options (§3.8.3.1).
    #[error("retain handling 3 is reserved")]
    InvalidRetainHandling,
    /// SUBSCRIBE or UNSUBSCRIBE without a single topic filter
    /// (3.1.1 [MQTT-3.8.3-3], [MQTT-3.10.3-2]; a protocol error in 5.0).
    #[error("no topic filter")]
    NoTopicFilters,
    /// A property identifier that 5.0 §2.2.2.2 does not define.
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u8),
    /// A property that is defined but not allowed on this packet (or outside a will).
    #[error("property {0:#04x} not allowed here")]
    PropertyNotAllowed(u8),
    /// A single-valued property appears twice (5.0 §2.2.2.2).
    #[error("property {0:#04x} appears more than once")]
    DuplicateProperty(u8),
    /// A property holds a value the protocol forbids: 0 for receive maximum,
    /// maximum packet size or subscription identifier; a flag other than 0 or 1.
    #[error("invalid value for property {0:#04x}")]
    InvalidPropertyValue(u8),
}

impl DecodeError {
    /// The MQTT 5.0 reason code for the DISCONNECT (or CONNACK) this error causes.
    pub fn reason_code(self) -> ReasonCode {
        match self {
            Self::TooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
            Self::UnsupportedProtocolVersion(_) => ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            // 5.0 names these "Protocol Error" rather than "Malformed Packet".
            Self::NoTopicFilters | Self::DuplicateProperty(_) | Self::InvalidPropertyValue(_) => {
                ReasonCode::PROTOCOL_ERROR
            }
            Self::VarIntTooLong
            | Self::InvalidPacketType(_)
            | Self::InvalidHeaderFlags { .. }
            | Self::InvalidQoS
            | Self::DupWithQoS0
            | Self::ZeroPacketId
            | Self::Truncated
            | Self::TrailingBytes
            | Self::InvalidUtf8
            | Self::NullCharacter
            | Self::InvalidProtocolName
            | Self::ReservedConnectFlag
            | Self::InvalidWillFlags
            | Self::PasswordWithoutUsername
            | Self::ReservedConnAckFlags
            | Self::InvalidReturnCode(_)
            | Self::ReservedSubscriptionOptions
            | Self::InvalidRetainHandling
            | Self::UnknownProperty(_)
            | Self::PropertyNotAllowed(_) => ReasonCode::MALFORMED_PACKET,
        }
    }
}

/// Why a packet could not be written: a value that does not fit its wire field,
/// or a combination the protocol forbids. Nothing is left in the buffer then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The whole packet would exceed the 268,435,455-byte remaining-length limit.
    #[error("packet too large to encode")]
    TooLarge,
    /// A string or binary field is longer than its 2-byte length prefix allows (65,535 bytes).
    #[error("string or binary field longer than 65,535 bytes")]
    FieldTooLong,
    /// A subscription identifier outside 1 ..= 268,435,455.
    #[error("subscription identifier out of range")]
    SubscriptionIdOutOfRange,
    /// A PUBLISH whose packet identifier does not match its QoS: present exactly when QoS > 0.
    #[error("packet identifier present iff QoS > 0")]
    PacketIdMismatch,
    /// A PUBLISH with DUP set at QoS 0, which every peer rejects.
    #[error("DUP flag on a QoS 0 PUBLISH")]
    DupWithQoS0,
    /// A CONNECT with a password but no user name, which 3.1 and 3.1.1 forbid.
    #[error("password without user name before MQTT 5.0")]
    PasswordWithoutUsername,
    /// A property set on a packet that may not carry it; the peer would reject it.
    #[error("property {0:#04x} not allowed on this packet")]
    PropertyNotAllowed(u8),
    /// AUTH exists only in MQTT 5.0.
    #[error("AUTH cannot be sent before MQTT 5.0")]
    AuthBeforeV5,
}
