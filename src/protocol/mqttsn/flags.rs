//! The flags octet (MQTT-SN 1.2 §5.3.4) and the two fields in it that are more
//! than a bit: QoS and TopicIdType.
//!
//! Every octet is a valid `Flags` and every `Flags` is one octet, so the
//! conversion is lossless both ways. Each message reads only the fields the
//! spec gives it and ignores the rest ("not used", §5.4); the one value a
//! field can hold that means nothing is TopicIdType 0b11, and the messages that
//! read TopicIdType refuse it.

/// Quality of service of a PUBLISH, a subscription or a will (§5.3.4, §6.8).
///
/// The MQTT-SN wire value of QoS −1 is 0b11; it means "publish without a
/// connection" and occurs in PUBLISH only, but the codec carries it wherever a
/// QoS field exists, so the gateway can answer a SUBSCRIBE asking for it with
/// "not supported" instead of the datagram being dropped unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    /// QoS 0, wire 0b00: at most once.
    #[default]
    AtMostOnce,
    /// QoS 1, wire 0b01: at least once, acknowledged with PUBACK.
    AtLeastOnce,
    /// QoS 2, wire 0b10: exactly once, PUBREC/PUBREL/PUBCOMP.
    ExactlyOnce,
    /// QoS −1, wire 0b11: a PUBLISH from a client that never connected, to a
    /// predefined topic id or a short topic name (§6.8).
    MinusOne,
}

impl QoS {
    /// The two-bit wire value (bits 6–5 of the flags octet, shifted down).
    pub fn bits(self) -> u8 {
        match self {
            Self::AtMostOnce => 0b00,
            Self::AtLeastOnce => 0b01,
            Self::ExactlyOnce => 0b10,
            Self::MinusOne => 0b11,
        }
    }

    /// Reads the two-bit wire value; only the low two bits of `bits` count.
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0b00 => Self::AtMostOnce,
            0b01 => Self::AtLeastOnce,
            0b10 => Self::ExactlyOnce,
            _ => Self::MinusOne,
        }
    }

    /// True for QoS 1 and 2, the levels whose messages carry a message id
    /// that must not be 0 (§5.3.9).
    pub fn is_acknowledged(self) -> bool {
        matches!(self, Self::AtLeastOnce | Self::ExactlyOnce)
    }
}

/// What the TopicId field of a PUBLISH, or the topic field of a SUBSCRIBE or
/// UNSUBSCRIBE, holds (bits 1–0 of the flags octet, §5.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TopicIdType {
    /// 0b00: a normal (registered) topic id; a topic name in SUBSCRIBE/UNSUBSCRIBE.
    #[default]
    Normal,
    /// 0b01: a predefined topic id.
    Predefined,
    /// 0b10: a short topic name of two octets.
    Short,
    /// 0b11: reserved. Representable so that every octet is a `Flags`; the
    /// messages that read the field answer it with `DecodeError::InvalidTopicIdType`.
    Reserved,
}

impl TopicIdType {
    /// The two-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            Self::Normal => 0b00,
            Self::Predefined => 0b01,
            Self::Short => 0b10,
            Self::Reserved => 0b11,
        }
    }

    /// Reads the two-bit wire value; only the low two bits of `bits` count.
    pub fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0b00 => Self::Normal,
            0b01 => Self::Predefined,
            0b10 => Self::Short,
            _ => Self::Reserved,
        }
    }
}

/// The flags octet, field by field (§5.3.4):
/// `DUP b7 · QoS b6–5 · Retain b4 · Will b3 · CleanSession b2 · TopicIdType b1–0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags {
    /// The message is a retransmission (PUBLISH, SUBSCRIBE).
    pub dup: bool,
    /// PUBLISH, SUBSCRIBE, SUBACK, WILLTOPIC, WILLTOPICUPD.
    pub qos: QoS,
    /// PUBLISH, WILLTOPIC, WILLTOPICUPD.
    pub retain: bool,
    /// CONNECT: the client will send WILLTOPIC and WILLMSG when asked.
    pub will: bool,
    /// CONNECT.
    pub clean_session: bool,
    /// PUBLISH, SUBSCRIBE, UNSUBSCRIBE.
    pub topic_id_type: TopicIdType,
}

const DUP: u8 = 0b1000_0000;
const QOS_SHIFT: u8 = 5;
const RETAIN: u8 = 0b0001_0000;
const WILL: u8 = 0b0000_1000;
const CLEAN_SESSION: u8 = 0b0000_0100;

impl From<u8> for Flags {
    fn from(octet: u8) -> Self {
        Self {
            dup: octet & DUP != 0,
            qos: QoS::from_bits(octet >> QOS_SHIFT),
            retain: octet & RETAIN != 0,
            will: octet & WILL != 0,
            clean_session: octet & CLEAN_SESSION != 0,
            topic_id_type: TopicIdType::from_bits(octet),
        }
    }
}

impl From<Flags> for u8 {
    fn from(flags: Flags) -> Self {
        let bit = |set: bool, mask: u8| if set { mask } else { 0 };
        bit(flags.dup, DUP)
            | (flags.qos.bits() << QOS_SHIFT)
            | bit(flags.retain, RETAIN)
            | bit(flags.will, WILL)
            | bit(flags.clean_session, CLEAN_SESSION)
            | flags.topic_id_type.bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_octet_round_trips() {
        for octet in 0..=u8::MAX {
            assert_eq!(u8::from(Flags::from(octet)), octet, "{octet:#010b}");
        }
    }

    #[test]
    fn fields_sit_where_the_spec_puts_them() {
        // The byte vectors' flags: QoS 1 + short name, QoS −1 + predefined, clean session.
        let flags = Flags::from(0x22);
        assert_eq!(flags.qos, QoS::AtLeastOnce);
        assert_eq!(flags.topic_id_type, TopicIdType::Short);
        let flags = Flags::from(0x61);
        assert_eq!(flags.qos, QoS::MinusOne);
        assert_eq!(flags.topic_id_type, TopicIdType::Predefined);
        assert_eq!(
            Flags::from(0x04),
            Flags {
                clean_session: true,
                ..Flags::default()
            }
        );
        let all = Flags {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            will: true,
            clean_session: true,
            topic_id_type: TopicIdType::Reserved,
        };
        assert_eq!(u8::from(all), 0b1101_1111);
    }
}
