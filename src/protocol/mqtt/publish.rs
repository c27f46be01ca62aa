//! PUBLISH body (3.1.1 §3.3, 5.0 §3.3).

use bytes::{BufMut, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::fixed_header::PublishFlags;
use super::packet::{ProtocolVersion, Publish, QoS};
use super::primitives::{Reader, field_len, put_field};
use super::properties::{Properties, Scope};

/// Reads a PUBLISH body; `flags` come from the fixed header. The payload is the
/// rest of the frame, shared, not copied. Topic validity (wildcards, an empty
/// topic without an alias) is the broker's check, not the codec's.
pub(super) fn read_publish(
    r: &mut Reader,
    flags: PublishFlags,
    version: ProtocolVersion,
) -> Result<Publish, DecodeError> {
    let topic = r.string()?;
    // The packet identifier is there exactly when QoS > 0 (§2.3.1).
    let packet_id = if flags.qos == QoS::AtMostOnce {
        None
    } else {
        Some(r.packet_id()?)
    };
    let properties = if version.is_v5() {
        Properties::read(r, Scope::Publish)?
    } else {
        Properties::default()
    };
    Ok(Publish {
        dup: flags.dup,
        qos: flags.qos,
        retain: flags.retain,
        topic,
        packet_id,
        properties,
        payload: r.rest(),
    })
}

/// The first byte of a PUBLISH: type 3 and its flags.
pub(super) fn publish_first_byte(publish: &Publish) -> u8 {
    let flags = PublishFlags {
        dup: publish.dup,
        qos: publish.qos,
        retain: publish.retain,
    };
    0x30 | flags.nibble()
}

/// The size of a PUBLISH body, after refusing flag combinations every peer rejects.
pub(super) fn publish_len(
    publish: &Publish,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    let at_most_once = publish.qos == QoS::AtMostOnce;
    if at_most_once != publish.packet_id.is_none() {
        return Err(EncodeError::PacketIdMismatch);
    }
    if at_most_once && publish.dup {
        return Err(EncodeError::DupWithQoS0);
    }
    let mut len = field_len(publish.topic.len());
    if publish.packet_id.is_some() {
        len += 2;
    }
    if version.is_v5() {
        len = len.saturating_add(publish.properties.encoded_len(Scope::Publish)?);
    }
    Ok(len.saturating_add(publish.payload.len()))
}

/// Writes a PUBLISH body; `publish_len` has checked it.
pub(super) fn write_publish(
    publish: &Publish,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    put_field(buf, publish.topic.as_bytes())?;
    if let Some(packet_id) = publish.packet_id {
        buf.put_u16(packet_id.get());
    }
    if version.is_v5() {
        publish.properties.write(buf)?;
    }
    buf.put_slice(&publish.payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::EncodeError;
    use super::super::packet::Packet;
    use super::super::testing::{both_ways, pid, s};
    use super::*;

    fn publish(qos: QoS, packet_id: Option<u16>) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: s("a/b"),
            packet_id: packet_id.map(pid),
            properties: Properties::default(),
            payload: Bytes::from_static(b"hi"),
        }
    }

    #[test]
    fn qos0_v3_and_v5() {
        let packet = Packet::Publish(publish(QoS::AtMostOnce, None));
        both_ways(
            "30 07 00 03 61 2F 62 68 69",
            ProtocolVersion::V311,
            packet.clone(),
        );
        both_ways(
            "30 07 00 03 61 2F 62 68 69",
            ProtocolVersion::V31,
            packet.clone(),
        );
        both_ways("30 08 00 03 61 2F 62 00 68 69", ProtocolVersion::V5, packet);
    }

    #[test]
    fn qos1_retained() {
        let packet = Publish {
            retain: true,
            ..publish(QoS::AtLeastOnce, Some(10))
        };
        both_ways(
            "33 09 00 03 61 2F 62 00 0A 68 69",
            ProtocolVersion::V311,
            Packet::Publish(packet),
        );
    }

    #[test]
    fn qos2_duplicate() {
        let packet = Publish {
            dup: true,
            ..publish(QoS::ExactlyOnce, Some(0x1234))
        };
        both_ways(
            "3C 09 00 03 61 2F 62 12 34 68 69",
            ProtocolVersion::V311,
            Packet::Publish(packet.clone()),
        );
        both_ways(
            "3C 0A 00 03 61 2F 62 12 34 00 68 69",
            ProtocolVersion::V5,
            Packet::Publish(packet),
        );
    }

    #[test]
    fn qos1_v5_with_properties() {
        let packet = Publish {
            properties: Properties {
                payload_format_indicator: Some(1),
                message_expiry_interval: Some(60),
                content_type: Some(s("j")),
                subscription_identifiers: vec![7],
                topic_alias: Some(5),
                ..Properties::default()
            },
            ..publish(QoS::AtLeastOnce, Some(10))
        };
        both_ways(
            "32 1A 00 03 61 2F 62 00 0A 10 01 01 02 00 00 00 3C 03 00 01 6A 0B 07 23 00 05 68 69",
            ProtocolVersion::V5,
            Packet::Publish(packet),
        );
    }

    #[test]
    fn empty_payload_and_several_subscription_identifiers() {
        let packet = Publish {
            payload: Bytes::new(),
            properties: Properties {
                subscription_identifiers: vec![1, 268_435_455],
                ..Properties::default()
            },
            ..publish(QoS::AtMostOnce, None)
        };
        both_ways(
            "30 0D 00 03 61 2F 62 07 0B 01 0B FF FF FF 7F",
            ProtocolVersion::V5,
            Packet::Publish(packet),
        );
    }

    #[test]
    fn refuses_to_encode_inconsistent_flags() {
        let mut buf = BytesMut::new();
        let missing_id = Packet::Publish(publish(QoS::AtLeastOnce, None));
        assert_eq!(
            super::super::encode(&missing_id, ProtocolVersion::V311, &mut buf),
            Err(EncodeError::PacketIdMismatch)
        );
        let extra_id = Packet::Publish(publish(QoS::AtMostOnce, Some(1)));
        assert_eq!(
            super::super::encode(&extra_id, ProtocolVersion::V311, &mut buf),
            Err(EncodeError::PacketIdMismatch)
        );
        let dup = Packet::Publish(Publish {
            dup: true,
            ..publish(QoS::AtMostOnce, None)
        });
        assert_eq!(
            super::super::encode(&dup, ProtocolVersion::V311, &mut buf),
            Err(EncodeError::DupWithQoS0)
        );
        let sub_id = Packet::Publish(Publish {
            properties: Properties {
                subscription_identifiers: vec![0],
                ..Properties::default()
            },
            ..publish(QoS::AtMostOnce, None)
        });
        assert_eq!(
            super::super::encode(&sub_id, ProtocolVersion::V5, &mut buf),
            Err(EncodeError::SubscriptionIdOutOfRange)
        );
        let not_allowed = Packet::Publish(Publish {
            properties: Properties {
                receive_maximum: Some(1),
                ..Properties::default()
            },
            ..publish(QoS::AtMostOnce, None)
        });
        assert_eq!(
            super::super::encode(&not_allowed, ProtocolVersion::V5, &mut buf),
            Err(EncodeError::PropertyNotAllowed(0x21))
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn topic_longer_than_u16_is_refused_and_nothing_is_left() {
        let long = "a".repeat(65_536);
        let packet = Packet::Publish(Publish {
            topic: s(&long),
            ..publish(QoS::AtMostOnce, None)
        });
        let mut buf = BytesMut::from(&b"kept"[..]);
        assert_eq!(
            super::super::encode(&packet, ProtocolVersion::V311, &mut buf),
            Err(EncodeError::FieldTooLong)
        );
        assert_eq!(&buf[..], b"kept");
    }

    #[test]
    fn packet_over_the_remaining_length_limit_is_refused() {
        let packet = Packet::Publish(Publish {
            payload: Bytes::from(vec![0u8; 268_435_455]),
            ..publish(QoS::AtMostOnce, None)
        });
        let mut buf = BytesMut::new();
        assert_eq!(
            super::super::encode(&packet, ProtocolVersion::V311, &mut buf),
            Err(EncodeError::TooLarge)
        );
        assert!(buf.is_empty());
    }
}
