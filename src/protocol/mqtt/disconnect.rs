//! DISCONNECT and AUTH bodies (3.1.1 §3.14, 5.0 §3.14–3.15): a reason code and
//! properties, both left out when they are SUCCESS and empty.

use bytes::{BufMut, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::packet::{Auth, Disconnect, ProtocolVersion, ReasonCode};
use super::primitives::Reader;
use super::properties::{Properties, Scope};

/// Reads a 5.0 reason code and properties: remaining length 0 is SUCCESS,
/// 1 is a reason with no properties (5.0 §3.14.2.1, §3.15.2.1).
fn read_reason(r: &mut Reader, scope: Scope) -> Result<(ReasonCode, Properties), DecodeError> {
    if r.is_empty() {
        return Ok((ReasonCode::SUCCESS, Properties::default()));
    }
    let reason = ReasonCode(r.u8()?);
    if r.is_empty() {
        return Ok((reason, Properties::default()));
    }
    Ok((reason, Properties::read(r, scope)?))
}

/// Reads a DISCONNECT body: empty before 5.0 (trailing bytes are refused by the caller).
pub(super) fn read_disconnect(
    r: &mut Reader,
    version: ProtocolVersion,
) -> Result<Disconnect, DecodeError> {
    if !version.is_v5() {
        return Ok(Disconnect::default());
    }
    let (reason, properties) = read_reason(r, Scope::Disconnect)?;
    Ok(Disconnect { reason, properties })
}

/// Reads an AUTH body (5.0 only: the fixed header refuses type 15 earlier).
pub(super) fn read_auth(r: &mut Reader) -> Result<Auth, DecodeError> {
    let (reason, properties) = read_reason(r, Scope::Auth)?;
    Ok(Auth { reason, properties })
}

/// The size of a DISCONNECT body: 0 before 5.0 and for a plain normal disconnection.
pub(super) fn disconnect_len(
    disconnect: &Disconnect,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    if !version.is_v5() {
        return Ok(0);
    }
    if disconnect.properties.is_empty() {
        return Ok(usize::from(disconnect.reason != ReasonCode::SUCCESS));
    }
    Ok(1 + disconnect.properties.encoded_len(Scope::Disconnect)?)
}

/// Writes a DISCONNECT body in the form `disconnect_len` measured.
pub(super) fn write_disconnect(
    disconnect: &Disconnect,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    if !version.is_v5()
        || (disconnect.reason == ReasonCode::SUCCESS && disconnect.properties.is_empty())
    {
        return Ok(());
    }
    buf.put_u8(disconnect.reason.0);
    if !disconnect.properties.is_empty() {
        disconnect.properties.write(buf)?;
    }
    Ok(())
}

/// The size of an AUTH body. Only the SUCCESS-and-empty short form is used: 5.0
/// defines no reason-only form for AUTH, so a reason comes with a property length.
pub(super) fn auth_len(auth: &Auth, version: ProtocolVersion) -> Result<usize, EncodeError> {
    if !version.is_v5() {
        return Err(EncodeError::AuthBeforeV5);
    }
    if auth.reason == ReasonCode::SUCCESS && auth.properties.is_empty() {
        return Ok(0);
    }
    Ok(1 + auth.properties.encoded_len(Scope::Auth)?)
}

/// Writes an AUTH body in the form `auth_len` measured.
pub(super) fn write_auth(auth: &Auth, buf: &mut BytesMut) -> Result<(), EncodeError> {
    if auth.reason == ReasonCode::SUCCESS && auth.properties.is_empty() {
        return Ok(());
    }
    buf.put_u8(auth.reason.0);
    auth.properties.write(buf)
}

#[cfg(test)]
mod tests {
    use super::super::packet::Packet;
    use super::super::testing::{both_ways, encoded, s, wire};
    use super::*;

    #[test]
    fn pings() {
        for version in [
            ProtocolVersion::V31,
            ProtocolVersion::V311,
            ProtocolVersion::V5,
        ] {
            both_ways("C0 00", version, Packet::PingReq);
            both_ways("D0 00", version, Packet::PingResp);
        }
    }

    #[test]
    fn disconnect_v3_is_empty() {
        both_ways(
            "E0 00",
            ProtocolVersion::V311,
            Packet::Disconnect(Disconnect::default()),
        );
        let with_reason = Disconnect {
            reason: ReasonCode::SERVER_SHUTTING_DOWN,
            ..Disconnect::default()
        };
        assert_eq!(
            encoded(&Packet::Disconnect(with_reason), ProtocolVersion::V311),
            wire("E0 00")
        );
    }

    #[test]
    fn disconnect_v5_forms() {
        both_ways(
            "E0 00",
            ProtocolVersion::V5,
            Packet::Disconnect(Disconnect::default()),
        );
        both_ways(
            "E0 01 8B",
            ProtocolVersion::V5,
            Packet::Disconnect(Disconnect {
                reason: ReasonCode::SERVER_SHUTTING_DOWN,
                ..Disconnect::default()
            }),
        );
        both_ways(
            "E0 07 04 05 11 00 00 00 00",
            ProtocolVersion::V5,
            Packet::Disconnect(Disconnect {
                reason: ReasonCode::DISCONNECT_WITH_WILL,
                properties: Properties {
                    session_expiry_interval: Some(0),
                    ..Properties::default()
                },
            }),
        );
    }

    #[test]
    fn auth_v5() {
        both_ways("F0 00", ProtocolVersion::V5, Packet::Auth(Auth::default()));
        both_ways(
            "F0 0A 18 08 15 00 01 6D 16 00 01 64",
            ProtocolVersion::V5,
            Packet::Auth(Auth {
                reason: ReasonCode::CONTINUE_AUTHENTICATION,
                properties: Properties {
                    authentication_method: Some(s("m")),
                    authentication_data: Some(bytes::Bytes::from_static(b"d")),
                    ..Properties::default()
                },
            }),
        );
        both_ways(
            "F0 02 19 00",
            ProtocolVersion::V5,
            Packet::Auth(Auth {
                reason: ReasonCode::REAUTHENTICATE,
                ..Auth::default()
            }),
        );
    }

    #[test]
    fn auth_cannot_be_encoded_before_v5() {
        let mut buf = BytesMut::new();
        assert_eq!(
            super::super::encode(
                &Packet::Auth(Auth::default()),
                ProtocolVersion::V311,
                &mut buf
            ),
            Err(EncodeError::AuthBeforeV5)
        );
    }
}
