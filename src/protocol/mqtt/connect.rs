//! CONNECT and CONNACK bodies (3.1.1 §3.1–3.2, 5.0 §3.1–3.2).

use bytes::{BufMut, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::packet::{ConnAck, Connect, LastWill, ProtocolVersion, QoS, ReasonCode};
use super::primitives::{Reader, field_len, put_field};
use super::properties::{Properties, Scope, properties_len, read_properties};

const CLEAN_START: u8 = 0b0000_0010;
const WILL: u8 = 0b0000_0100;
const WILL_RETAIN: u8 = 0b0010_0000;
const PASSWORD: u8 = 0b0100_0000;
const USERNAME: u8 = 0b1000_0000;
const WILL_QOS_SHIFT: u8 = 3;

/// The protocol name a version announces: 3.1 kept IBM's `MQIsdp`.
fn protocol_name(version: ProtocolVersion) -> &'static [u8] {
    match version {
        ProtocolVersion::V31 => b"MQIsdp",
        ProtocolVersion::V311 | ProtocolVersion::V5 => b"MQTT",
    }
}

/// Reads the protocol name and level, the only part of CONNECT that every version shares.
fn read_protocol(r: &mut Reader) -> Result<ProtocolVersion, DecodeError> {
    // Compared as raw bytes: a name that is not even UTF-8 is just not MQTT.
    let name = r.binary()?;
    let level = r.u8()?;
    match (&name[..], level) {
        (b"MQIsdp", 3) => Ok(ProtocolVersion::V31),
        (b"MQTT", 4) => Ok(ProtocolVersion::V311),
        (b"MQTT", 5) => Ok(ProtocolVersion::V5),
        (b"MQIsdp" | b"MQTT", _) => Err(DecodeError::UnsupportedProtocolVersion(level)),
        _ => Err(DecodeError::InvalidProtocolName),
    }
}

/// Reads a CONNECT body. The version comes from the packet itself.
pub(super) fn read_connect(r: &mut Reader) -> Result<Connect, DecodeError> {
    let protocol = read_protocol(r)?;
    let flags = r.u8()?;
    // 3.1.1 [MQTT-3.1.2-3], 5.0 §3.1.2.3: bit 0 is reserved.
    if flags & 0b0000_0001 != 0 {
        return Err(DecodeError::ReservedConnectFlag);
    }
    let has_will = flags & WILL != 0;
    let will_qos = (flags >> WILL_QOS_SHIFT) & 0b11;
    let will_retain = flags & WILL_RETAIN != 0;
    // [MQTT-3.1.2-11], [MQTT-3.1.2-13]: without a will, its QoS and retain are 0.
    if !has_will && (will_qos != 0 || will_retain) {
        return Err(DecodeError::InvalidWillFlags);
    }
    let will_qos = QoS::from_u8(will_qos).ok_or(DecodeError::InvalidQoS)?;
    let has_username = flags & USERNAME != 0;
    let has_password = flags & PASSWORD != 0;
    // 3.1.1 [MQTT-3.1.2-22]; 5.0 allows a password alone (§3.1.2.9).
    if has_password && !has_username && !protocol.is_v5() {
        return Err(DecodeError::PasswordWithoutUsername);
    }
    let keep_alive = r.u16()?;
    let properties = read_properties(r, protocol, Scope::Connect)?;
    // Any length is accepted: 3.1 capped ids at 23 bytes, but clients exceed it.
    let client_id = r.string()?;
    let will = if has_will {
        let properties = read_properties(r, protocol, Scope::Will)?;
        let topic = r.string()?;
        let payload = r.binary()?;
        Some(LastWill {
            properties,
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
        })
    } else {
        None
    };
    let username = has_username.then(|| r.string()).transpose()?;
    // A binary field since 3.1.1; 3.1 called it a string, with the same framing.
    let password = has_password.then(|| r.binary()).transpose()?;
    Ok(Connect {
        protocol,
        clean_start: flags & CLEAN_START != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    })
}

/// The size of a CONNECT body, written for `connect.protocol`.
pub(super) fn connect_len(connect: &Connect) -> Result<usize, EncodeError> {
    let version = connect.protocol;
    if connect.password.is_some() && connect.username.is_none() && !version.is_v5() {
        return Err(EncodeError::PasswordWithoutUsername);
    }
    let mut len = field_len(protocol_name(version).len()) + 1 + 1 + 2;
    len = len.saturating_add(properties_len(
        &connect.properties,
        version,
        Scope::Connect,
    )?);
    len = len.saturating_add(field_len(connect.client_id.len()));
    if let Some(will) = &connect.will {
        len = len
            .saturating_add(properties_len(&will.properties, version, Scope::Will)?)
            .saturating_add(field_len(will.topic.len()))
            .saturating_add(field_len(will.payload.len()));
    }
    if let Some(username) = &connect.username {
        len = len.saturating_add(field_len(username.len()));
    }
    if let Some(password) = &connect.password {
        len = len.saturating_add(field_len(password.len()));
    }
    Ok(len)
}

/// Writes a CONNECT body; `connect_len` has checked it.
pub(super) fn write_connect(connect: &Connect, buf: &mut BytesMut) -> Result<(), EncodeError> {
    let version = connect.protocol;
    let mut flags = 0;
    if connect.clean_start {
        flags |= CLEAN_START;
    }
    if let Some(will) = &connect.will {
        flags |= WILL | ((will.qos as u8) << WILL_QOS_SHIFT);
        if will.retain {
            flags |= WILL_RETAIN;
        }
    }
    if connect.username.is_some() {
        flags |= USERNAME;
    }
    if connect.password.is_some() {
        flags |= PASSWORD;
    }
    put_field(buf, protocol_name(version))?;
    buf.put_u8(version.level());
    buf.put_u8(flags);
    buf.put_u16(connect.keep_alive);
    if version.is_v5() {
        connect.properties.write(buf)?;
    }
    put_field(buf, connect.client_id.as_bytes())?;
    if let Some(will) = &connect.will {
        if version.is_v5() {
            will.properties.write(buf)?;
        }
        put_field(buf, will.topic.as_bytes())?;
        put_field(buf, &will.payload)?;
    }
    if let Some(username) = &connect.username {
        put_field(buf, username.as_bytes())?;
    }
    if let Some(password) = &connect.password {
        put_field(buf, password)?;
    }
    Ok(())
}

/// The 3.1/3.1.1 connect return code for a v5 reason code (3.1.1 §3.2.2.3).
fn return_code(code: ReasonCode) -> u8 {
    match code {
        ReasonCode::SUCCESS => 0,
        ReasonCode::UNSUPPORTED_PROTOCOL_VERSION => 1,
        ReasonCode::CLIENT_IDENTIFIER_NOT_VALID => 2,
        ReasonCode::BAD_USER_NAME_OR_PASSWORD => 4,
        ReasonCode::NOT_AUTHORIZED => 5,
        // Server unavailable, busy, and every failure 3.1.1 has no word for.
        _ => 3,
    }
}

/// The v5 reason code a 3.1/3.1.1 connect return code stands for.
fn reason_of_return_code(code: u8) -> Result<ReasonCode, DecodeError> {
    Ok(match code {
        0 => ReasonCode::SUCCESS,
        1 => ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
        2 => ReasonCode::CLIENT_IDENTIFIER_NOT_VALID,
        3 => ReasonCode::SERVER_UNAVAILABLE,
        4 => ReasonCode::BAD_USER_NAME_OR_PASSWORD,
        5 => ReasonCode::NOT_AUTHORIZED,
        _ => return Err(DecodeError::InvalidReturnCode(code)),
    })
}

/// Reads a CONNACK body.
pub(super) fn read_connack(
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<ConnAck, DecodeError> {
    let flags = r.u8()?;
    // Bits 1–7 are reserved (3.1.1 §3.2.2.1); 3.1 has no session present flag at all.
    let reserved = if version == ProtocolVersion::V31 {
        0xFF
    } else {
        0xFE
    };
    if flags & reserved != 0 {
        return Err(DecodeError::ReservedConnAckFlags);
    }
    let code = r.u8()?;
    if version.is_v5() {
        Ok(ConnAck {
            session_present: flags != 0,
            code: ReasonCode(code),
            properties: Properties::read(r, Scope::ConnAck)?,
        })
    } else {
        Ok(ConnAck {
            session_present: flags != 0,
            code: reason_of_return_code(code)?,
            properties: Properties::default(),
        })
    }
}

/// The size of a CONNACK body.
pub(super) fn connack_len(
    connack: &ConnAck,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    Ok(2 + properties_len(&connack.properties, version, Scope::ConnAck)?)
}

/// Writes a CONNACK body, mapping the reason code to a return code before 5.0.
pub(super) fn write_connack(
    connack: &ConnAck,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    let session_present = connack.session_present && version != ProtocolVersion::V31;
    buf.put_u8(u8::from(session_present));
    if version.is_v5() {
        buf.put_u8(connack.code.0);
        connack.properties.write(buf)?;
    } else {
        buf.put_u8(return_code(connack.code));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::packet::Packet;
    use super::super::testing::{both_ways, decoded, encoded, s, wire};
    use super::*;

    fn connect(protocol: ProtocolVersion, client_id: &str) -> Connect {
        Connect {
            protocol,
            clean_start: true,
            keep_alive: 0,
            client_id: s(client_id),
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        }
    }

    #[test]
    fn v311_connect_with_will_username_and_password() {
        let packet = Connect {
            keep_alive: 60,
            will: Some(LastWill {
                topic: s("w/t"),
                payload: Bytes::from_static(b"bye"),
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties::default(),
            }),
            username: Some(s("u")),
            password: Some(Bytes::from_static(b"pw")),
            ..connect(ProtocolVersion::V311, "wren")
        };
        both_ways(
            "10 21 00 04 4D 51 54 54 04 EE 00 3C 00 04 77 72 65 6E
             00 03 77 2F 74 00 03 62 79 65 00 01 75 00 02 70 77",
            ProtocolVersion::V311,
            Packet::Connect(Box::new(packet)),
        );
    }

    #[test]
    fn v31_connect_says_mqisdp() {
        let packet = Connect {
            keep_alive: 10,
            ..connect(ProtocolVersion::V31, "c")
        };
        // The session's version does not matter: CONNECT carries its own.
        both_ways(
            "10 0F 00 06 4D 51 49 73 64 70 03 02 00 0A 00 01 63",
            ProtocolVersion::V5,
            Packet::Connect(Box::new(packet)),
        );
    }

    #[test]
    fn v5_connect_with_properties_and_will_properties() {
        let packet = Connect {
            keep_alive: 30,
            will: Some(LastWill {
                topic: s("t"),
                payload: Bytes::from_static(b"x"),
                qos: QoS::AtMostOnce,
                retain: false,
                properties: Properties {
                    will_delay_interval: Some(5),
                    ..Properties::default()
                },
            }),
            username: Some(s("u")),
            properties: Properties {
                session_expiry_interval: Some(120),
                receive_maximum: Some(20),
                user_properties: vec![(s("k"), s("v"))],
                ..Properties::default()
            },
            ..connect(ProtocolVersion::V5, "c")
        };
        both_ways(
            "10 2C 00 04 4D 51 54 54 05 86 00 1E
             0F 11 00 00 00 78 21 00 14 26 00 01 6B 00 01 76
             00 01 63 05 18 00 00 00 05 00 01 74 00 01 78 00 01 75",
            ProtocolVersion::V311,
            Packet::Connect(Box::new(packet)),
        );
    }

    #[test]
    fn v5_allows_a_password_without_username() {
        let packet = Connect {
            password: Some(Bytes::from_static(b"k")),
            ..connect(ProtocolVersion::V5, "")
        };
        both_ways(
            "10 10 00 04 4D 51 54 54 05 42 00 00 00 00 00 00 01 6B",
            ProtocolVersion::V5,
            Packet::Connect(Box::new(packet)),
        );
    }

    #[test]
    fn password_without_username_cannot_be_encoded_before_v5() {
        let packet = Connect {
            password: Some(Bytes::from_static(b"k")),
            ..connect(ProtocolVersion::V311, "c")
        };
        let mut buf = bytes::BytesMut::new();
        assert_eq!(
            super::super::encode(
                &Packet::Connect(Box::new(packet)),
                ProtocolVersion::V311,
                &mut buf
            ),
            Err(EncodeError::PasswordWithoutUsername)
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn connack_v3() {
        let accepted = ConnAck {
            session_present: true,
            ..ConnAck::default()
        };
        both_ways(
            "20 02 01 00",
            ProtocolVersion::V311,
            Packet::ConnAck(accepted.clone()),
        );
        let refused = ConnAck {
            code: ReasonCode::NOT_AUTHORIZED,
            ..ConnAck::default()
        };
        both_ways(
            "20 02 00 05",
            ProtocolVersion::V311,
            Packet::ConnAck(refused),
        );
        // 3.1 has no session present flag.
        assert_eq!(
            encoded(&Packet::ConnAck(accepted), ProtocolVersion::V31),
            wire("20 02 00 00")
        );
        assert_eq!(
            decoded("20 02 01 00", ProtocolVersion::V31),
            Err(DecodeError::ReservedConnAckFlags)
        );
    }

    #[test]
    fn connack_v3_maps_reason_codes_to_return_codes() {
        for (reason, code) in [
            (ReasonCode::SUCCESS, 0),
            (ReasonCode::UNSUPPORTED_PROTOCOL_VERSION, 1),
            (ReasonCode::CLIENT_IDENTIFIER_NOT_VALID, 2),
            (ReasonCode::SERVER_UNAVAILABLE, 3),
            (ReasonCode::SERVER_BUSY, 3),
            (ReasonCode::BAD_USER_NAME_OR_PASSWORD, 4),
            (ReasonCode::NOT_AUTHORIZED, 5),
            (ReasonCode::BANNED, 3),
            (ReasonCode::MALFORMED_PACKET, 3),
        ] {
            let packet = Packet::ConnAck(ConnAck {
                code: reason,
                ..ConnAck::default()
            });
            assert_eq!(
                encoded(&packet, ProtocolVersion::V311),
                vec![0x20, 2, 0, code]
            );
        }
    }

    #[test]
    fn connack_v5_with_properties() {
        let packet = ConnAck {
            session_present: false,
            code: ReasonCode::SUCCESS,
            properties: Properties {
                assigned_client_identifier: Some(s("id")),
                server_keep_alive: Some(30),
                topic_alias_maximum: Some(10),
                maximum_qos: Some(1),
                ..Properties::default()
            },
        };
        both_ways(
            "20 10 00 00 0D 12 00 02 69 64 13 00 1E 22 00 0A 24 01",
            ProtocolVersion::V5,
            Packet::ConnAck(packet),
        );
        let refused = ConnAck {
            code: ReasonCode::BANNED,
            ..ConnAck::default()
        };
        both_ways(
            "20 03 00 8A 00",
            ProtocolVersion::V5,
            Packet::ConnAck(refused),
        );
    }

    #[test]
    fn will_properties_are_checked_against_the_will_scope() {
        // Session expiry (0x11) belongs to CONNECT, not to the will.
        assert_eq!(
            decoded(
                "10 17 00 04 4D 51 54 54 05 06 00 00 00 00 00 05 11 00 00 00 01 00 00 00 00",
                ProtocolVersion::V5
            ),
            Err(DecodeError::PropertyNotAllowed(0x11))
        );
    }
}
