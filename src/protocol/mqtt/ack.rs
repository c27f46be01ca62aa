//! PUBACK, PUBREC, PUBREL and PUBCOMP bodies (3.1.1 §3.4–3.7, 5.0 §3.4–3.7): one shape.

use bytes::{BufMut, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::packet::{Ack, ProtocolVersion, ReasonCode};
use super::primitives::Reader;
use super::properties::{Properties, Scope};

/// Reads an acknowledgement. In 5.0 the reason code and the properties may be left
/// out (remaining length 2: SUCCESS; 3: reason only), 5.0 §3.4.2.1.
pub(super) fn read_ack(r: &mut Reader, version: ProtocolVersion) -> Result<Ack, DecodeError> {
    let packet_id = r.packet_id()?;
    if !version.is_v5() || r.is_empty() {
        return Ok(Ack::new(packet_id));
    }
    let reason = ReasonCode(r.u8()?);
    let properties = if r.is_empty() {
        Properties::default()
    } else {
        Properties::read(r, Scope::Ack)?
    };
    Ok(Ack {
        packet_id,
        reason,
        properties,
    })
}

/// The size of an acknowledgement body, using the 5.0 short forms where they fit.
/// Before 5.0 the reason and properties cannot be sent and are left out.
pub(super) fn ack_len(ack: &Ack, version: ProtocolVersion) -> Result<usize, EncodeError> {
    if !version.is_v5() {
        return Ok(2);
    }
    if ack.properties.is_empty() {
        return Ok(if ack.reason == ReasonCode::SUCCESS {
            2
        } else {
            3
        });
    }
    Ok(3 + ack.properties.encoded_len(Scope::Ack)?)
}

/// Writes an acknowledgement body in the form `ack_len` measured.
pub(super) fn write_ack(
    ack: &Ack,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    buf.put_u16(ack.packet_id.get());
    if !version.is_v5() || (ack.properties.is_empty() && ack.reason == ReasonCode::SUCCESS) {
        return Ok(());
    }
    buf.put_u8(ack.reason.0);
    if !ack.properties.is_empty() {
        ack.properties.write(buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::packet::Packet;
    use super::super::testing::{both_ways, decoded, pid, s};
    use super::*;

    type Wrap = fn(Ack) -> Packet;
    const KINDS: [(Wrap, &str); 4] = [
        (Packet::PubAck, "40"),
        (Packet::PubRec, "50"),
        (Packet::PubRel, "62"),
        (Packet::PubComp, "70"),
    ];

    #[test]
    fn v3_and_v5_short_form() {
        for (wrap, first) in KINDS {
            let packet = wrap(Ack::new(pid(1)));
            for version in [
                ProtocolVersion::V31,
                ProtocolVersion::V311,
                ProtocolVersion::V5,
            ] {
                both_ways(&format!("{first} 02 00 01"), version, packet.clone());
            }
        }
    }

    #[test]
    fn v5_reason_only_form() {
        for (wrap, first) in KINDS {
            let packet = wrap(Ack {
                reason: ReasonCode::NO_MATCHING_SUBSCRIBERS,
                ..Ack::new(pid(1))
            });
            both_ways(&format!("{first} 03 00 01 10"), ProtocolVersion::V5, packet);
        }
    }

    #[test]
    fn v5_long_form() {
        for (wrap, first) in KINDS {
            let packet = wrap(Ack {
                reason: ReasonCode::UNSPECIFIED_ERROR,
                properties: Properties {
                    reason_string: Some(s("no")),
                    ..Properties::default()
                },
                ..Ack::new(pid(1))
            });
            both_ways(
                &format!("{first} 09 00 01 80 05 1F 00 02 6E 6F"),
                ProtocolVersion::V5,
                packet,
            );
        }
    }

    #[test]
    fn v5_long_forms_with_empty_properties_decode() {
        let expected = Packet::PubAck(Ack::new(pid(1)));
        assert_eq!(
            decoded("40 04 00 01 00 00", ProtocolVersion::V5),
            Ok(expected)
        );
    }

    #[test]
    fn v3_writes_no_reason() {
        let packet = Packet::PubAck(Ack {
            reason: ReasonCode::UNSPECIFIED_ERROR,
            ..Ack::new(pid(7))
        });
        let bytes = super::super::testing::encoded(&packet, ProtocolVersion::V311);
        assert_eq!(bytes, vec![0x40, 2, 0, 7]);
    }
}
