//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK bodies (3.1.1 §3.8–3.11, 5.0 §3.8–3.11).

use bytes::{BufMut, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::packet::{
    ProtocolVersion, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscriptionOptions,
    UnsubAck, Unsubscribe,
};
use super::primitives::{Reader, field_len, put_field};
use super::properties::{Properties, Scope, properties_len, read_properties};

const NO_LOCAL: u8 = 0b0000_0100;
const RETAIN_AS_PUBLISHED: u8 = 0b0000_1000;
const RETAIN_HANDLING_SHIFT: u8 = 4;

/// Reads one subscription options byte (3.1.1 §3.8.3.1, 5.0 §3.8.3.1).
fn read_options(byte: u8, version: ProtocolVersion) -> Result<SubscriptionOptions, DecodeError> {
    // 3.1.1 [MQTT-3-8.3-4]: only the QoS bits; 5.0 [MQTT-3.8.3-5]: bits 6–7 reserved.
    let reserved = if version.is_v5() {
        0b1100_0000
    } else {
        0b1111_1100
    };
    if byte & reserved != 0 {
        return Err(DecodeError::ReservedSubscriptionOptions);
    }
    let qos = QoS::from_u8(byte & 0b11).ok_or(DecodeError::InvalidQoS)?;
    let retain_handling = match (byte >> RETAIN_HANDLING_SHIFT) & 0b11 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(DecodeError::InvalidRetainHandling),
    };
    Ok(SubscriptionOptions {
        qos,
        no_local: byte & NO_LOCAL != 0,
        retain_as_published: byte & RETAIN_AS_PUBLISHED != 0,
        retain_handling,
    })
}

/// The options byte; before 5.0 only the QoS exists and the rest is left out.
fn options_byte(options: SubscriptionOptions, version: ProtocolVersion) -> u8 {
    let mut byte = options.qos as u8;
    if version.is_v5() {
        if options.no_local {
            byte |= NO_LOCAL;
        }
        if options.retain_as_published {
            byte |= RETAIN_AS_PUBLISHED;
        }
        byte |= (options.retain_handling as u8) << RETAIN_HANDLING_SHIFT;
    }
    byte
}

/// Reads a SUBSCRIBE body; at least one filter is required. Filter syntax is the
/// broker's check (`protocol::topic`).
pub(super) fn read_subscribe(
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<Subscribe, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = read_properties(r, version, Scope::Subscribe)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        let filter = r.string()?;
        let options = read_options(r.u8()?, version)?;
        filters.push((filter, options));
    }
    if filters.is_empty() {
        return Err(DecodeError::NoTopicFilters);
    }
    Ok(Subscribe {
        packet_id,
        filters,
        properties,
    })
}

/// The size of a SUBSCRIBE body.
pub(super) fn subscribe_len(
    subscribe: &Subscribe,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    let properties = properties_len(&subscribe.properties, version, Scope::Subscribe)?;
    Ok(subscribe
        .filters
        .iter()
        .fold(2usize.saturating_add(properties), |len, (filter, _)| {
            len.saturating_add(field_len(filter.len()) + 1)
        }))
}

/// Writes a SUBSCRIBE body.
pub(super) fn write_subscribe(
    subscribe: &Subscribe,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    buf.put_u16(subscribe.packet_id.get());
    if version.is_v5() {
        subscribe.properties.write(buf)?;
    }
    for (filter, options) in &subscribe.filters {
        put_field(buf, filter.as_bytes())?;
        buf.put_u8(options_byte(*options, version));
    }
    Ok(())
}

/// The v5 reason code of a 3.1/3.1.1 SUBACK return code (3.1.1 §3.9.3).
fn suback_reason(code: u8) -> Result<ReasonCode, DecodeError> {
    match code {
        0x00..=0x02 | 0x80 => Ok(ReasonCode(code)),
        _ => Err(DecodeError::InvalidReturnCode(code)),
    }
}

/// Reads a SUBACK body: one reason code per byte left after the header.
/// Reason codes are not checked in 5.0: the session acts on `is_error`.
pub(super) fn read_suback(r: &mut Reader, version: ProtocolVersion) -> Result<SubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = read_properties(r, version, Scope::SubAck)?;
    let codes = r.rest();
    let reasons = if version.is_v5() {
        codes.iter().map(|&code| ReasonCode(code)).collect()
    } else {
        codes
            .iter()
            .map(|&code| suback_reason(code))
            .collect::<Result<_, _>>()?
    };
    Ok(SubAck {
        packet_id,
        reasons,
        properties,
    })
}

/// The size of a SUBACK body.
pub(super) fn suback_len(suback: &SubAck, version: ProtocolVersion) -> Result<usize, EncodeError> {
    let properties = properties_len(&suback.properties, version, Scope::SubAck)?;
    Ok(2usize
        .saturating_add(properties)
        .saturating_add(suback.reasons.len()))
}

/// Writes a SUBACK body; before 5.0 a granted QoS is written as it is and any
/// other code as the one failure code 0x80.
pub(super) fn write_suback(
    suback: &SubAck,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    buf.put_u16(suback.packet_id.get());
    if version.is_v5() {
        suback.properties.write(buf)?;
    }
    for &reason in &suback.reasons {
        let code = match reason.0 {
            code @ 0x00..=0x02 => code,
            code if version.is_v5() => code,
            _ => 0x80,
        };
        buf.put_u8(code);
    }
    Ok(())
}

/// Reads an UNSUBSCRIBE body; at least one filter is required.
pub(super) fn read_unsubscribe(
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<Unsubscribe, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = read_properties(r, version, Scope::Unsubscribe)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        filters.push(r.string()?);
    }
    if filters.is_empty() {
        return Err(DecodeError::NoTopicFilters);
    }
    Ok(Unsubscribe {
        packet_id,
        filters,
        properties,
    })
}

/// The size of an UNSUBSCRIBE body.
pub(super) fn unsubscribe_len(
    unsubscribe: &Unsubscribe,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    let properties = properties_len(&unsubscribe.properties, version, Scope::Unsubscribe)?;
    Ok(unsubscribe
        .filters
        .iter()
        .fold(2usize.saturating_add(properties), |len, filter| {
            len.saturating_add(field_len(filter.len()))
        }))
}

/// Writes an UNSUBSCRIBE body.
pub(super) fn write_unsubscribe(
    unsubscribe: &Unsubscribe,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    buf.put_u16(unsubscribe.packet_id.get());
    if version.is_v5() {
        unsubscribe.properties.write(buf)?;
    }
    for filter in &unsubscribe.filters {
        put_field(buf, filter.as_bytes())?;
    }
    Ok(())
}

/// Reads an UNSUBACK body: just the packet identifier before 5.0, then properties
/// and one reason code per filter.
pub(super) fn read_unsuback(
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<UnsubAck, DecodeError> {
    let packet_id = r.packet_id()?;
    if !version.is_v5() {
        return Ok(UnsubAck {
            packet_id,
            reasons: Vec::new(),
            properties: Properties::default(),
        });
    }
    let properties = Properties::read(r, Scope::UnsubAck)?;
    let reasons = r.rest().iter().map(|&code| ReasonCode(code)).collect();
    Ok(UnsubAck {
        packet_id,
        reasons,
        properties,
    })
}

/// The size of an UNSUBACK body.
pub(super) fn unsuback_len(
    unsuback: &UnsubAck,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    if !version.is_v5() {
        return Ok(2);
    }
    let properties = unsuback.properties.encoded_len(Scope::UnsubAck)?;
    Ok(2usize
        .saturating_add(properties)
        .saturating_add(unsuback.reasons.len()))
}

/// Writes an UNSUBACK body; the reasons exist only in 5.0.
pub(super) fn write_unsuback(
    unsuback: &UnsubAck,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    buf.put_u16(unsuback.packet_id.get());
    if version.is_v5() {
        unsuback.properties.write(buf)?;
        for reason in &unsuback.reasons {
            buf.put_u8(reason.0);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::packet::Packet;
    use super::super::testing::{both_ways, encoded, pid, s, wire};
    use super::*;

    fn qos(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        }
    }

    #[test]
    fn subscribe_v3() {
        let packet = Subscribe {
            packet_id: pid(2),
            filters: vec![
                (s("a/#"), qos(QoS::AtLeastOnce)),
                (s("b"), qos(QoS::AtMostOnce)),
            ],
            properties: Properties::default(),
        };
        both_ways(
            "82 0C 00 02 00 03 61 2F 23 01 00 01 62 00",
            ProtocolVersion::V311,
            Packet::Subscribe(packet),
        );
    }

    #[test]
    fn subscribe_v5_options_and_identifier() {
        let options = SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::DoNotSend,
        };
        let packet = Subscribe {
            packet_id: pid(3),
            filters: vec![(s("t"), options)],
            properties: Properties {
                subscription_identifiers: vec![9],
                ..Properties::default()
            },
        };
        both_ways(
            "82 09 00 03 02 0B 09 00 01 74 2E",
            ProtocolVersion::V5,
            Packet::Subscribe(packet.clone()),
        );
        // 3.1.1 carries only the QoS.
        assert_eq!(
            encoded(&Packet::Subscribe(packet), ProtocolVersion::V311),
            wire("82 06 00 03 00 01 74 02")
        );
    }

    #[test]
    fn suback_v3() {
        let packet = SubAck {
            packet_id: pid(2),
            reasons: vec![ReasonCode::GRANTED_QOS_1, ReasonCode::UNSPECIFIED_ERROR],
            properties: Properties::default(),
        };
        both_ways(
            "90 04 00 02 01 80",
            ProtocolVersion::V311,
            Packet::SubAck(packet),
        );
        let refused = SubAck {
            packet_id: pid(2),
            reasons: vec![ReasonCode::GRANTED_QOS_2, ReasonCode::NOT_AUTHORIZED],
            properties: Properties::default(),
        };
        assert_eq!(
            encoded(&Packet::SubAck(refused), ProtocolVersion::V311),
            wire("90 04 00 02 02 80")
        );
    }

    #[test]
    fn suback_v5() {
        let packet = SubAck {
            packet_id: pid(3),
            reasons: vec![ReasonCode::GRANTED_QOS_2, ReasonCode::QUOTA_EXCEEDED],
            properties: Properties {
                reason_string: Some(s("ok")),
                ..Properties::default()
            },
        };
        both_ways(
            "90 0A 00 03 05 1F 00 02 6F 6B 02 97",
            ProtocolVersion::V5,
            Packet::SubAck(packet),
        );
    }

    #[test]
    fn unsubscribe_v3_and_v5() {
        let packet = Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(4),
            filters: vec![s("a/b")],
            properties: Properties::default(),
        });
        both_ways(
            "A2 07 00 04 00 03 61 2F 62",
            ProtocolVersion::V311,
            packet.clone(),
        );
        both_ways("A2 08 00 04 00 00 03 61 2F 62", ProtocolVersion::V5, packet);
    }

    #[test]
    fn unsuback_v3_and_v5() {
        both_ways(
            "B0 02 00 04",
            ProtocolVersion::V311,
            Packet::UnsubAck(UnsubAck {
                packet_id: pid(4),
                reasons: Vec::new(),
                properties: Properties::default(),
            }),
        );
        both_ways(
            "B0 05 00 04 00 00 11",
            ProtocolVersion::V5,
            Packet::UnsubAck(UnsubAck {
                packet_id: pid(4),
                reasons: vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED],
                properties: Properties::default(),
            }),
        );
    }
}
