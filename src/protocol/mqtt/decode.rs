//! Reading packets from the front of a buffer.

use bytes::BytesMut;

use super::ack::read_ack;
use super::connect::{read_connack, read_connect};
use super::disconnect::{read_auth, read_disconnect};
use super::error::DecodeError;
use super::fixed_header::{FixedHeader, PacketType, PublishFlags};
use super::packet::{Packet, ProtocolVersion};
use super::primitives::Reader;
use super::publish::read_publish;
use super::subscribe::{read_suback, read_subscribe, read_unsuback, read_unsubscribe};

/// Decodes one packet from the front of `buf`, read as `version` (CONNECT carries
/// its own version and ignores it). Returns `Ok(None)` while `buf` holds less than
/// a whole packet; nothing is consumed then. A packet whose announced size exceeds
/// `max_packet_size` is refused as soon as its fixed header is readable, and a bad
/// first byte as soon as it arrives.
///
/// On success exactly one packet is consumed. On any other error the connection is
/// beyond saving, so what was consumed does not matter: the frame of a malformed
/// packet is consumed, an oversized or unreadable header is not.
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Result<Option<Packet>, DecodeError> {
    let Some(header) = FixedHeader::peek(buf, version)? else {
        return Ok(None);
    };
    let len = header.frame_len();
    if u64::try_from(len).unwrap_or(u64::MAX) > u64::from(max_packet_size) {
        return Err(DecodeError::TooLarge {
            len,
            max: max_packet_size,
        });
    }
    if buf.len() < len {
        return Ok(None);
    }
    let mut frame = buf.split_to(len).freeze();
    let body = frame.split_off(header.header_len);
    let mut reader = Reader::new(body);
    let packet = read_body(&header, &mut reader, version)?;
    reader.finish()?;
    Ok(Some(packet))
}

/// Reads the body of one complete frame, dispatching on the packet type.
fn read_body(
    header: &FixedHeader,
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<Packet, DecodeError> {
    Ok(match header.packet_type {
        PacketType::Connect => Packet::Connect(Box::new(read_connect(r)?)),
        PacketType::ConnAck => Packet::ConnAck(read_connack(r, version)?),
        PacketType::Publish => {
            let flags = PublishFlags::from_nibble(header.flags)?;
            Packet::Publish(read_publish(r, flags, version)?)
        }
        PacketType::PubAck => Packet::PubAck(read_ack(r, version)?),
        PacketType::PubRec => Packet::PubRec(read_ack(r, version)?),
        PacketType::PubRel => Packet::PubRel(read_ack(r, version)?),
        PacketType::PubComp => Packet::PubComp(read_ack(r, version)?),
        PacketType::Subscribe => Packet::Subscribe(read_subscribe(r, version)?),
        PacketType::SubAck => Packet::SubAck(read_suback(r, version)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(read_unsubscribe(r, version)?),
        PacketType::UnsubAck => Packet::UnsubAck(read_unsuback(r, version)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(read_disconnect(r, version)?),
        PacketType::Auth => Packet::Auth(read_auth(r)?),
    })
}

#[cfg(test)]
mod tests {
    use super::super::packet::ReasonCode;
    use super::super::testing::wire;
    use super::*;

    const V31: ProtocolVersion = ProtocolVersion::V31;
    const V311: ProtocolVersion = ProtocolVersion::V311;
    const V5: ProtocolVersion = ProtocolVersion::V5;

    /// Decoding `hex` fails with `error`, whose v5 reason is `reason`.
    fn fails(hex: &str, version: ProtocolVersion, error: DecodeError, reason: ReasonCode) {
        let mut buf = BytesMut::from(&wire(hex)[..]);
        assert_eq!(decode(&mut buf, version, u32::MAX), Err(error), "{hex}");
        assert_eq!(error.reason_code(), reason, "{error:?}");
    }

    /// Names the test of each variant; a new variant fails to compile here until
    /// it has a test of its own.
    #[allow(dead_code)]
    fn test_of(error: DecodeError) -> &'static str {
        match error {
            DecodeError::TooLarge { .. } => "too_large_is_refused_from_the_header_alone",
            DecodeError::VarIntTooLong => "var_int_too_long",
            DecodeError::InvalidPacketType(_) => "invalid_packet_type",
            DecodeError::InvalidHeaderFlags { .. } => "invalid_header_flags",
            DecodeError::InvalidQoS => "invalid_qos",
            DecodeError::DupWithQoS0 => "dup_with_qos0",
            DecodeError::ZeroPacketId => "zero_packet_id",
            DecodeError::Truncated => "truncated",
            DecodeError::TrailingBytes => "trailing_bytes",
            DecodeError::InvalidUtf8 => "invalid_utf8",
            DecodeError::NullCharacter => "null_character",
            DecodeError::InvalidProtocolName => "invalid_protocol_name",
            DecodeError::UnsupportedProtocolVersion(_) => "unsupported_protocol_version",
            DecodeError::ReservedConnectFlag => "reserved_connect_flag",
            DecodeError::InvalidWillFlags => "invalid_will_flags",
            DecodeError::PasswordWithoutUsername => "password_without_username",
            DecodeError::ReservedConnAckFlags => "reserved_connack_flags",
            DecodeError::InvalidReturnCode(_) => "invalid_return_code",
            DecodeError::ReservedSubscriptionOptions => "reserved_subscription_options",
            DecodeError::InvalidRetainHandling => "invalid_retain_handling",
            DecodeError::NoTopicFilters => "no_topic_filters",
            DecodeError::UnknownProperty(_) => "unknown_property",
            DecodeError::PropertyNotAllowed(_) => "property_not_allowed",
            DecodeError::DuplicateProperty(_) => "duplicate_property",
            DecodeError::InvalidPropertyValue(_) => "invalid_property_value",
        }
    }

    const MALFORMED: ReasonCode = ReasonCode::MALFORMED_PACKET;
    const PROTOCOL: ReasonCode = ReasonCode::PROTOCOL_ERROR;

    #[test]
    fn too_large_is_refused_from_the_header_alone() {
        let mut buf = BytesMut::from(&wire("30 FF FF FF 7F")[..]);
        let error = decode(&mut buf, V311, 1_000);
        assert_eq!(
            error,
            Err(DecodeError::TooLarge {
                len: 268_435_460,
                max: 1_000
            })
        );
        assert_eq!(buf.len(), 5, "nothing is consumed");
        assert_eq!(
            DecodeError::TooLarge { len: 0, max: 0 }.reason_code(),
            ReasonCode::PACKET_TOO_LARGE
        );
        // The limit counts the fixed header: C0 00 is 2 bytes.
        let mut buf = BytesMut::from(&wire("C0 00")[..]);
        assert_eq!(decode(&mut buf.clone(), V311, 2), Ok(Some(Packet::PingReq)));
        assert_eq!(
            decode(&mut buf, V311, 1),
            Err(DecodeError::TooLarge { len: 2, max: 1 })
        );
    }

    #[test]
    fn var_int_too_long() {
        fails(
            "30 80 80 80 80",
            V311,
            DecodeError::VarIntTooLong,
            MALFORMED,
        );
        // Inside a packet too: a property length of five bytes.
        fails(
            "E0 06 00 80 80 80 80 01",
            V5,
            DecodeError::VarIntTooLong,
            MALFORMED,
        );
    }

    #[test]
    fn invalid_packet_type() {
        fails("00 00", V5, DecodeError::InvalidPacketType(0), MALFORMED);
        fails("F0 00", V311, DecodeError::InvalidPacketType(15), MALFORMED);
        fails("F0 00", V31, DecodeError::InvalidPacketType(15), MALFORMED);
    }

    #[test]
    fn invalid_header_flags() {
        let flags = |packet_type, flags| DecodeError::InvalidHeaderFlags { packet_type, flags };
        fails("60 02 00 01", V311, flags(6, 0), MALFORMED);
        fails("80 06 00 01 00 01 61 00", V311, flags(8, 0), MALFORMED);
        fails("A0 05 00 01 00 01 61", V311, flags(10, 0), MALFORMED);
        fails("C1 00", V5, flags(12, 1), MALFORMED);
        fails("42 02 00 01", V5, flags(4, 2), MALFORMED);
        fails("E8 00", V311, flags(14, 8), MALFORMED);
    }

    #[test]
    fn invalid_qos() {
        fails(
            "36 05 00 01 61 00 01",
            V311,
            DecodeError::InvalidQoS,
            MALFORMED,
        );
        // Will QoS 3 with the will flag set.
        fails(
            "10 10 00 04 4D 51 54 54 04 1C 00 00 00 00 00 01 74 00 00",
            V311,
            DecodeError::InvalidQoS,
            MALFORMED,
        );
        fails(
            "82 06 00 01 00 01 61 03",
            V311,
            DecodeError::InvalidQoS,
            MALFORMED,
        );
        fails(
            "82 07 00 01 00 00 01 61 03",
            V5,
            DecodeError::InvalidQoS,
            MALFORMED,
        );
    }

    #[test]
    fn dup_with_qos0() {
        fails(
            "38 05 00 03 61 2F 62",
            V311,
            DecodeError::DupWithQoS0,
            MALFORMED,
        );
    }

    #[test]
    fn zero_packet_id() {
        fails("40 02 00 00", V311, DecodeError::ZeroPacketId, MALFORMED);
        fails(
            "32 07 00 03 61 2F 62 00 00",
            V311,
            DecodeError::ZeroPacketId,
            MALFORMED,
        );
        fails(
            "82 06 00 00 00 01 61 00",
            V311,
            DecodeError::ZeroPacketId,
            MALFORMED,
        );
    }

    #[test]
    fn truncated() {
        fails("30 02 00 03", V311, DecodeError::Truncated, MALFORMED);
        fails("40 01 00", V311, DecodeError::Truncated, MALFORMED);
        // A property length that runs past the packet.
        fails("40 04 00 01 00 05", V5, DecodeError::Truncated, MALFORMED);
        // A CONNECT that stops after the flags.
        fails(
            "10 08 00 04 4D 51 54 54 04 02",
            V311,
            DecodeError::Truncated,
            MALFORMED,
        );
    }

    #[test]
    fn trailing_bytes() {
        fails("C0 01 00", V311, DecodeError::TrailingBytes, MALFORMED);
        fails(
            "40 03 00 01 00",
            V311,
            DecodeError::TrailingBytes,
            MALFORMED,
        );
        fails("E0 01 00", V311, DecodeError::TrailingBytes, MALFORMED);
        fails(
            "B0 03 00 01 00",
            V311,
            DecodeError::TrailingBytes,
            MALFORMED,
        );
        fails(
            "20 03 00 00 00",
            V311,
            DecodeError::TrailingBytes,
            MALFORMED,
        );
    }

    #[test]
    fn invalid_utf8() {
        fails(
            "30 04 00 02 C3 28",
            V311,
            DecodeError::InvalidUtf8,
            MALFORMED,
        );
    }

    #[test]
    fn null_character() {
        fails(
            "30 03 00 01 00",
            V311,
            DecodeError::NullCharacter,
            MALFORMED,
        );
    }

    #[test]
    fn invalid_protocol_name() {
        fails(
            "10 0C 00 04 4D 51 54 58 04 02 00 00 00 00",
            V311,
            DecodeError::InvalidProtocolName,
            MALFORMED,
        );
    }

    #[test]
    fn unsupported_protocol_version() {
        let unsupported = ReasonCode::UNSUPPORTED_PROTOCOL_VERSION;
        fails(
            "10 0C 00 04 4D 51 54 54 03 02 00 00 00 00",
            V311,
            DecodeError::UnsupportedProtocolVersion(3),
            unsupported,
        );
        fails(
            "10 0C 00 04 4D 51 54 54 06 02 00 00 00 00",
            V5,
            DecodeError::UnsupportedProtocolVersion(6),
            unsupported,
        );
        fails(
            "10 0E 00 06 4D 51 49 73 64 70 04 02 00 00 00 00",
            V311,
            DecodeError::UnsupportedProtocolVersion(4),
            unsupported,
        );
    }

    #[test]
    fn reserved_connect_flag() {
        fails(
            "10 0C 00 04 4D 51 54 54 04 03 00 00 00 00",
            V311,
            DecodeError::ReservedConnectFlag,
            MALFORMED,
        );
    }

    #[test]
    fn invalid_will_flags() {
        for flags in ["22", "0A", "12"] {
            fails(
                &format!("10 0C 00 04 4D 51 54 54 04 {flags} 00 00 00 00"),
                V311,
                DecodeError::InvalidWillFlags,
                MALFORMED,
            );
        }
    }

    #[test]
    fn password_without_username() {
        for version in [V31, V311] {
            let name = if version == V31 {
                "00 06 4D 51 49 73 64 70 03"
            } else {
                "00 04 4D 51 54 54 04"
            };
            let len = if version == V31 { "11" } else { "0F" };
            fails(
                &format!("10 {len} {name} 42 00 00 00 00 00 01 70"),
                version,
                DecodeError::PasswordWithoutUsername,
                MALFORMED,
            );
        }
    }

    #[test]
    fn reserved_connack_flags() {
        fails(
            "20 02 02 00",
            V311,
            DecodeError::ReservedConnAckFlags,
            MALFORMED,
        );
        fails(
            "20 03 80 00 00",
            V5,
            DecodeError::ReservedConnAckFlags,
            MALFORMED,
        );
    }

    #[test]
    fn invalid_return_code() {
        fails(
            "20 02 00 06",
            V311,
            DecodeError::InvalidReturnCode(6),
            MALFORMED,
        );
        fails(
            "90 03 00 01 03",
            V311,
            DecodeError::InvalidReturnCode(3),
            MALFORMED,
        );
        fails(
            "90 03 00 01 87",
            V311,
            DecodeError::InvalidReturnCode(0x87),
            MALFORMED,
        );
    }

    #[test]
    fn reserved_subscription_options() {
        let error = DecodeError::ReservedSubscriptionOptions;
        fails("82 06 00 01 00 01 61 04", V311, error, MALFORMED);
        fails("82 06 00 01 00 01 61 80", V31, error, MALFORMED);
        fails("82 07 00 01 00 00 01 61 40", V5, error, MALFORMED);
        fails("82 07 00 01 00 00 01 61 C0", V5, error, MALFORMED);
    }

    #[test]
    fn invalid_retain_handling() {
        fails(
            "82 07 00 01 00 00 01 61 30",
            V5,
            DecodeError::InvalidRetainHandling,
            MALFORMED,
        );
    }

    #[test]
    fn no_topic_filters() {
        fails("82 02 00 01", V311, DecodeError::NoTopicFilters, PROTOCOL);
        fails("82 03 00 01 00", V5, DecodeError::NoTopicFilters, PROTOCOL);
        fails("A2 02 00 01", V311, DecodeError::NoTopicFilters, PROTOCOL);
        fails("A2 03 00 01 00", V5, DecodeError::NoTopicFilters, PROTOCOL);
    }

    #[test]
    fn unknown_property() {
        fails(
            "E0 03 00 01 7F",
            V5,
            DecodeError::UnknownProperty(0x7F),
            MALFORMED,
        );
        fails(
            "E0 03 00 01 00",
            V5,
            DecodeError::UnknownProperty(0x00),
            MALFORMED,
        );
        fails(
            "E0 03 00 01 80",
            V5,
            DecodeError::UnknownProperty(0x80),
            MALFORMED,
        );
    }

    #[test]
    fn property_not_allowed() {
        fails(
            "E0 05 00 03 23 00 01",
            V5,
            DecodeError::PropertyNotAllowed(0x23),
            MALFORMED,
        );
        // Will delay belongs to the will, not to CONNECT itself.
        fails(
            "10 12 00 04 4D 51 54 54 05 02 00 00 05 18 00 00 00 01 00 00",
            V5,
            DecodeError::PropertyNotAllowed(0x18),
            MALFORMED,
        );
        // UNSUBSCRIBE carries only user properties.
        fails(
            "A2 09 00 01 03 1F 00 00 00 01 61",
            V5,
            DecodeError::PropertyNotAllowed(0x1F),
            MALFORMED,
        );
    }

    #[test]
    fn duplicate_property() {
        fails(
            "E0 0C 00 0A 11 00 00 00 01 11 00 00 00 02",
            V5,
            DecodeError::DuplicateProperty(0x11),
            PROTOCOL,
        );
        // SUBSCRIBE takes one subscription identifier; PUBLISH takes several.
        fails(
            "82 0A 00 01 04 0B 01 0B 02 00 01 61 00",
            V5,
            DecodeError::DuplicateProperty(0x0B),
            PROTOCOL,
        );
        let mut buf = BytesMut::from(&wire("30 08 00 01 61 04 0B 01 0B 02")[..]);
        assert!(matches!(
            decode(&mut buf, V5, u32::MAX),
            Ok(Some(Packet::Publish(_)))
        ));
    }

    #[test]
    fn invalid_property_value() {
        let invalid = DecodeError::InvalidPropertyValue;
        fails("30 06 00 01 61 02 01 02", V5, invalid(0x01), PROTOCOL);
        fails("30 06 00 01 61 02 0B 00", V5, invalid(0x0B), PROTOCOL);
        fails("20 06 00 00 03 21 00 00", V5, invalid(0x21), PROTOCOL);
        fails("20 08 00 00 05 27 00 00 00 00", V5, invalid(0x27), PROTOCOL);
        fails("20 05 00 00 02 24 02", V5, invalid(0x24), PROTOCOL);
        fails(
            "10 0F 00 04 4D 51 54 54 05 02 00 00 02 17 02 00 00",
            V5,
            invalid(0x17),
            PROTOCOL,
        );
    }

    #[test]
    fn topic_alias_zero_is_left_to_the_broker() {
        let mut buf = BytesMut::from(&wire("30 07 00 01 61 03 23 00 00")[..]);
        assert!(matches!(
            decode(&mut buf, V5, u32::MAX),
            Ok(Some(Packet::Publish(_)))
        ));
    }

    /// Valid packets of every kind, for the prefix and back-to-back checks.
    const VALID: [(&str, ProtocolVersion); 12] = [
        (
            "10 21 00 04 4D 51 54 54 04 EE 00 3C 00 04 77 72 65 6E 00 03 77 2F 74 00 03 62 79 65 00 01 75 00 02 70 77",
            V311,
        ),
        ("10 0F 00 06 4D 51 49 73 64 70 03 02 00 0A 00 01 63", V31),
        ("20 10 00 00 0D 12 00 02 69 64 13 00 1E 22 00 0A 24 01", V5),
        (
            "32 1A 00 03 61 2F 62 00 0A 10 01 01 02 00 00 00 3C 03 00 01 6A 0B 07 23 00 05 68 69",
            V5,
        ),
        ("50 09 00 01 80 05 1F 00 02 6E 6F", V5),
        ("62 02 00 01", V311),
        ("82 09 00 03 02 0B 09 00 01 74 2E", V5),
        ("90 04 00 02 01 80", V311),
        ("A2 07 00 04 00 03 61 2F 62", V311),
        ("B0 05 00 04 00 00 11", V5),
        ("E0 07 04 05 11 00 00 00 00", V5),
        ("F0 0A 18 08 15 00 01 6D 16 00 01 64", V5),
    ];

    #[test]
    fn every_proper_prefix_is_none_and_consumes_nothing() {
        for (hex, version) in VALID {
            let bytes = wire(hex);
            for cut in 0..bytes.len() {
                let mut buf = BytesMut::from(&bytes[..cut]);
                assert_eq!(
                    decode(&mut buf, version, u32::MAX),
                    Ok(None),
                    "{hex} cut at {cut}"
                );
                assert_eq!(&buf[..], &bytes[..cut]);
            }
            let mut buf = BytesMut::from(&bytes[..]);
            assert!(
                matches!(decode(&mut buf, version, u32::MAX), Ok(Some(_))),
                "{hex}"
            );
        }
    }

    #[test]
    fn back_to_back_packets_decode_one_at_a_time() {
        for (hex, version) in VALID {
            let first = wire(hex);
            let mut both = first.clone();
            both.extend(wire("C0 00"));
            let mut buf = BytesMut::from(&both[..]);
            let packet = decode(&mut buf, version, u32::MAX);
            assert!(matches!(packet, Ok(Some(_))), "{hex}");
            assert_eq!(&buf[..], &wire("C0 00")[..], "exactly one packet consumed");
            assert_eq!(
                decode(&mut buf, version, u32::MAX),
                Ok(Some(Packet::PingReq))
            );
            assert!(buf.is_empty());
            assert_eq!(decode(&mut buf, version, u32::MAX), Ok(None));
        }
    }

    #[test]
    fn payload_shares_the_read_buffer() {
        let mut buf = BytesMut::from(&wire("30 07 00 03 61 2F 62 68 69")[..]);
        let start = buf.as_ptr() as usize;
        let Ok(Some(Packet::Publish(publish))) = decode(&mut buf, V311, u32::MAX) else {
            panic!("not a publish");
        };
        assert_eq!(
            publish.payload.as_ptr() as usize,
            start + 7,
            "payload was copied"
        );
        assert_eq!(
            publish.topic.as_bytes().as_ptr() as usize,
            start + 4,
            "topic was copied"
        );
    }
}
