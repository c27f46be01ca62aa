//! MQTT 5.0 properties (§2.2.2): one struct for every packet type.
//!
//! A single struct keeps the packet types simple; the decoder rejects a property
//! that is not allowed on the packet it arrives in, so a value here is always
//! one its packet may carry. For 3.1 and 3.1.1 every field is empty.
//!
//! On the wire (§2.2.2) properties are a variable-byte length followed by
//! identifier–value pairs. The encoder writes them in identifier order; user
//! properties keep their own order among themselves.

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::error::{DecodeError, EncodeError};
use super::packet::ProtocolVersion;
use super::primitives::{
    MAX_VAR_INT, Reader, field_len, put_field, put_var_int, var_int_len, var_int_value,
};

/// The properties of one packet (or of a will). `Default` is "none".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Properties {
    /// 0x01, PUBLISH and will: 0 = unspecified bytes, 1 = UTF-8.
    pub payload_format_indicator: Option<u8>,
    /// 0x02, PUBLISH and will: seconds.
    pub message_expiry_interval: Option<u32>,
    /// 0x03, PUBLISH and will.
    pub content_type: Option<ByteString>,
    /// 0x08, PUBLISH and will.
    pub response_topic: Option<ByteString>,
    /// 0x09, PUBLISH and will.
    pub correlation_data: Option<Bytes>,
    /// 0x0B, PUBLISH (several) and SUBSCRIBE (one): 1 ..= 268_435_455.
    pub subscription_identifiers: Vec<u32>,
    /// 0x11, CONNECT, CONNACK, DISCONNECT: seconds.
    pub session_expiry_interval: Option<u32>,
    /// 0x12, CONNACK.
    pub assigned_client_identifier: Option<ByteString>,
    /// 0x13, CONNACK: seconds.
    pub server_keep_alive: Option<u16>,
    /// 0x15, CONNECT, CONNACK, AUTH.
    pub authentication_method: Option<ByteString>,
    /// 0x16, CONNECT, CONNACK, AUTH.
    pub authentication_data: Option<Bytes>,
    /// 0x17, CONNECT: 0 or 1.
    pub request_problem_information: Option<u8>,
    /// 0x18, will: seconds.
    pub will_delay_interval: Option<u32>,
    /// 0x19, CONNECT: 0 or 1.
    pub request_response_information: Option<u8>,
    /// 0x1A, CONNACK.
    pub response_information: Option<ByteString>,
    /// 0x1C, CONNACK, DISCONNECT.
    pub server_reference: Option<ByteString>,
    /// 0x1F, every acknowledgement, DISCONNECT, AUTH.
    pub reason_string: Option<ByteString>,
    /// 0x21, CONNECT, CONNACK: never 0.
    pub receive_maximum: Option<u16>,
    /// 0x22, CONNECT, CONNACK.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23, PUBLISH: never 0.
    pub topic_alias: Option<u16>,
    /// 0x24, CONNACK: 0 or 1.
    pub maximum_qos: Option<u8>,
    /// 0x25, CONNACK: 0 or 1.
    pub retain_available: Option<u8>,
    /// 0x26, every packet with properties; order and repeats are kept (§3.3.2.3.7).
    pub user_properties: Vec<(ByteString, ByteString)>,
    /// 0x27, CONNECT, CONNACK: bytes, never 0.
    pub maximum_packet_size: Option<u32>,
    /// 0x28, CONNACK: 0 or 1.
    pub wildcard_subscription_available: Option<u8>,
    /// 0x29, CONNACK: 0 or 1.
    pub subscription_identifiers_available: Option<u8>,
    /// 0x2A, CONNACK: 0 or 1.
    pub shared_subscription_available: Option<u8>,
}

impl Properties {
    /// True when no property is set, so 5.0 acknowledgements can use their short forms.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Where a property set sits: a packet type that has properties, or a will.
/// Decides which identifiers are allowed (5.0 §2.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Connect,
    Will,
    ConnAck,
    Publish,
    /// PUBACK, PUBREC, PUBREL and PUBCOMP: the same properties.
    Ack,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl Scope {
    const fn bit(self) -> u16 {
        1 << self as u16
    }

    /// True when a property with identifier `id` may appear here.
    pub(super) fn allows(self, id: u8) -> bool {
        scopes_of(id).is_some_and(|scopes| scopes & self.bit() != 0)
    }
}

/// The scopes that may carry property `id`, as `Scope::bit`s; `None` for an
/// identifier 5.0 does not define. The table of 5.0 §2.2.2.2.
fn scopes_of(id: u8) -> Option<u16> {
    use Scope::*;
    let all = Connect.bit()
        | Will.bit()
        | ConnAck.bit()
        | Publish.bit()
        | Ack.bit()
        | Subscribe.bit()
        | SubAck.bit()
        | Unsubscribe.bit()
        | UnsubAck.bit()
        | Disconnect.bit()
        | Auth.bit();
    Some(match id {
        0x01 | 0x02 | 0x03 | 0x08 | 0x09 => Publish.bit() | Will.bit(),
        0x0B => Publish.bit() | Subscribe.bit(),
        0x11 => Connect.bit() | ConnAck.bit() | Disconnect.bit(),
        0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => ConnAck.bit(),
        0x15 | 0x16 => Connect.bit() | ConnAck.bit() | Auth.bit(),
        0x17 | 0x19 => Connect.bit(),
        0x18 => Will.bit(),
        0x1C => ConnAck.bit() | Disconnect.bit(),
        0x1F => {
            ConnAck.bit()
                | Ack.bit()
                | SubAck.bit()
                | UnsubAck.bit()
                | Disconnect.bit()
                | Auth.bit()
        }
        0x21 | 0x22 | 0x27 => Connect.bit() | ConnAck.bit(),
        0x23 => Publish.bit(),
        0x26 => all,
        _ => return None,
    })
}

/// One property value, borrowed for writing.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Byte(u8),
    TwoByte(u16),
    FourByte(u32),
    VarInt(u32),
    Utf8(&'a str),
    Binary(&'a [u8]),
    Pair(&'a str, &'a str),
}

impl Value<'_> {
    /// The value's wire size, without the identifier.
    fn len(self) -> usize {
        match self {
            Self::Byte(_) => 1,
            Self::TwoByte(_) => 2,
            Self::FourByte(_) => 4,
            Self::VarInt(value) => var_int_len(value),
            Self::Utf8(text) => field_len(text.len()),
            Self::Binary(data) => field_len(data.len()),
            Self::Pair(key, value) => field_len(key.len()).saturating_add(field_len(value.len())),
        }
    }

    fn put(self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Self::Byte(value) => buf.put_u8(value),
            Self::TwoByte(value) => buf.put_u16(value),
            Self::FourByte(value) => buf.put_u32(value),
            Self::VarInt(value) => put_var_int(buf, value),
            Self::Utf8(text) => put_field(buf, text.as_bytes())?,
            Self::Binary(data) => put_field(buf, data)?,
            Self::Pair(key, value) => {
                put_field(buf, key.as_bytes())?;
                put_field(buf, value.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// Stores a single-valued property; a second occurrence is a protocol error.
fn set_once<T>(slot: &mut Option<T>, id: u8, value: T) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty(id));
    }
    *slot = Some(value);
    Ok(())
}

/// A byte property that is a flag: only 0 or 1 are defined.
fn flag(id: u8, value: u8) -> Result<u8, DecodeError> {
    if value > 1 {
        return Err(DecodeError::InvalidPropertyValue(id));
    }
    Ok(value)
}

/// A property that the protocol forbids to be 0 (receive maximum, maximum packet
/// size, subscription identifier).
fn non_zero<T: Default + PartialEq>(id: u8, value: T) -> Result<T, DecodeError> {
    if value == T::default() {
        return Err(DecodeError::InvalidPropertyValue(id));
    }
    Ok(value)
}

impl Properties {
    /// Reads a property length and the properties it covers, allowing only those
    /// `scope` may carry. A topic alias of 0 is accepted here: the broker refuses it
    /// together with aliases above its maximum, both with reason 0x94 (5.0 §3.3.2.3.4).
    pub(super) fn read(reader: &mut Reader, scope: Scope) -> Result<Self, DecodeError> {
        let len = reader.var_int()?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        let mut reader = Reader::new(reader.take(len)?);
        let mut properties = Self::default();
        while !reader.is_empty() {
            // Identifiers are variable byte integers, but every defined one is below
            // 0x80, so a byte with the continuation bit is already unknown.
            let id = reader.u8()?;
            if scopes_of(id).is_none() {
                return Err(DecodeError::UnknownProperty(id));
            }
            if !scope.allows(id) {
                return Err(DecodeError::PropertyNotAllowed(id));
            }
            properties.read_value(id, &mut reader, scope)?;
        }
        Ok(properties)
    }

    fn read_value(&mut self, id: u8, r: &mut Reader, scope: Scope) -> Result<(), DecodeError> {
        match id {
            0x01 => set_once(&mut self.payload_format_indicator, id, flag(id, r.u8()?)?),
            0x02 => set_once(&mut self.message_expiry_interval, id, r.u32()?),
            0x03 => set_once(&mut self.content_type, id, r.string()?),
            0x08 => set_once(&mut self.response_topic, id, r.string()?),
            0x09 => set_once(&mut self.correlation_data, id, r.binary()?),
            0x0B => {
                // Several in a PUBLISH (one per matching subscription), one in SUBSCRIBE.
                if scope == Scope::Subscribe && !self.subscription_identifiers.is_empty() {
                    return Err(DecodeError::DuplicateProperty(id));
                }
                let value = non_zero(id, r.var_int()?)?;
                self.subscription_identifiers.push(value);
                Ok(())
            }
            0x11 => set_once(&mut self.session_expiry_interval, id, r.u32()?),
            0x12 => set_once(&mut self.assigned_client_identifier, id, r.string()?),
            0x13 => set_once(&mut self.server_keep_alive, id, r.u16()?),
            0x15 => set_once(&mut self.authentication_method, id, r.string()?),
            0x16 => set_once(&mut self.authentication_data, id, r.binary()?),
            0x17 => set_once(
                &mut self.request_problem_information,
                id,
                flag(id, r.u8()?)?,
            ),
            0x18 => set_once(&mut self.will_delay_interval, id, r.u32()?),
            0x19 => set_once(
                &mut self.request_response_information,
                id,
                flag(id, r.u8()?)?,
            ),
            0x1A => set_once(&mut self.response_information, id, r.string()?),
            0x1C => set_once(&mut self.server_reference, id, r.string()?),
            0x1F => set_once(&mut self.reason_string, id, r.string()?),
            0x21 => set_once(&mut self.receive_maximum, id, non_zero(id, r.u16()?)?),
            0x22 => set_once(&mut self.topic_alias_maximum, id, r.u16()?),
            0x23 => set_once(&mut self.topic_alias, id, r.u16()?),
            0x24 => set_once(&mut self.maximum_qos, id, flag(id, r.u8()?)?),
            0x25 => set_once(&mut self.retain_available, id, flag(id, r.u8()?)?),
            0x26 => {
                let pair = (r.string()?, r.string()?);
                self.user_properties.push(pair);
                Ok(())
            }
            0x27 => set_once(&mut self.maximum_packet_size, id, non_zero(id, r.u32()?)?),
            0x28 => set_once(
                &mut self.wildcard_subscription_available,
                id,
                flag(id, r.u8()?)?,
            ),
            0x29 => set_once(
                &mut self.subscription_identifiers_available,
                id,
                flag(id, r.u8()?)?,
            ),
            0x2A => set_once(
                &mut self.shared_subscription_available,
                id,
                flag(id, r.u8()?)?,
            ),
            _ => Err(DecodeError::UnknownProperty(id)),
        }
    }

    /// Calls `f` with every property that is set, in identifier order.
    fn each<E>(&self, f: &mut impl FnMut(u8, Value<'_>) -> Result<(), E>) -> Result<(), E> {
        use Value::*;
        fn bytes(data: &Option<Bytes>) -> Option<Value<'_>> {
            data.as_ref().map(|data| Binary(data))
        }
        fn utf8(text: &Option<ByteString>) -> Option<Value<'_>> {
            text.as_ref().map(|text| Utf8(text))
        }
        let single = [
            (0x01, self.payload_format_indicator.map(Byte)),
            (0x02, self.message_expiry_interval.map(FourByte)),
            (0x03, utf8(&self.content_type)),
            (0x08, utf8(&self.response_topic)),
            (0x09, bytes(&self.correlation_data)),
        ];
        for (id, value) in single.into_iter() {
            if let Some(value) = value {
                f(id, value)?;
            }
        }
        for &id_value in &self.subscription_identifiers {
            f(0x0B, VarInt(id_value))?;
        }
        let single = [
            (0x11, self.session_expiry_interval.map(FourByte)),
            (0x12, utf8(&self.assigned_client_identifier)),
            (0x13, self.server_keep_alive.map(TwoByte)),
            (0x15, utf8(&self.authentication_method)),
            (0x16, bytes(&self.authentication_data)),
            (0x17, self.request_problem_information.map(Byte)),
            (0x18, self.will_delay_interval.map(FourByte)),
            (0x19, self.request_response_information.map(Byte)),
            (0x1A, utf8(&self.response_information)),
            (0x1C, utf8(&self.server_reference)),
            (0x1F, utf8(&self.reason_string)),
            (0x21, self.receive_maximum.map(TwoByte)),
            (0x22, self.topic_alias_maximum.map(TwoByte)),
            (0x23, self.topic_alias.map(TwoByte)),
            (0x24, self.maximum_qos.map(Byte)),
            (0x25, self.retain_available.map(Byte)),
        ];
        for (id, value) in single.into_iter() {
            if let Some(value) = value {
                f(id, value)?;
            }
        }
        for (key, value) in &self.user_properties {
            f(0x26, Pair(key, value))?;
        }
        let single = [
            (0x27, self.maximum_packet_size.map(FourByte)),
            (0x28, self.wildcard_subscription_available.map(Byte)),
            (0x29, self.subscription_identifiers_available.map(Byte)),
            (0x2A, self.shared_subscription_available.map(Byte)),
        ];
        for (id, value) in single.into_iter() {
            if let Some(value) = value {
                f(id, value)?;
            }
        }
        Ok(())
    }

    /// The size of the properties without their length prefix.
    fn content_len(&self) -> usize {
        let mut len = 0usize;
        let counted: Result<(), std::convert::Infallible> = self.each(&mut |_, value| {
            len = len.saturating_add(1 + value.len());
            Ok(())
        });
        let Ok(()) = counted;
        len
    }

    /// The wire size including the length prefix, after checking that every property
    /// set may be sent in `scope`, so the peer's decoder will accept it.
    pub(super) fn encoded_len(&self, scope: Scope) -> Result<usize, EncodeError> {
        let mut subscription_ids = 0usize;
        self.each(&mut |id, value| {
            if !scope.allows(id) {
                return Err(EncodeError::PropertyNotAllowed(id));
            }
            if let Value::VarInt(sub_id) = value {
                if sub_id == 0 || sub_id > MAX_VAR_INT {
                    return Err(EncodeError::SubscriptionIdOutOfRange);
                }
                subscription_ids += 1;
                if scope == Scope::Subscribe && subscription_ids > 1 {
                    return Err(EncodeError::PropertyNotAllowed(id));
                }
            }
            Ok(())
        })?;
        let len = self.content_len();
        Ok(var_int_len(var_int_value(len)?).saturating_add(len))
    }

    /// Writes the property length and the properties. Call `encoded_len` first:
    /// it checks what this does not.
    pub(super) fn write(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        put_var_int(buf, var_int_value(self.content_len())?);
        self.each(&mut |id, value| {
            buf.put_u8(id);
            value.put(buf)
        })
    }
}

/// Properties exist only in 5.0; earlier versions get the empty set.
pub(super) fn read_properties(
    r: &mut Reader,
    version: ProtocolVersion,
    scope: Scope,
) -> Result<Properties, DecodeError> {
    if version.is_v5() {
        Properties::read(r, scope)
    } else {
        Ok(Properties::default())
    }
}

/// The properties' wire size, or 0 before 5.0 where they are left out.
pub(super) fn properties_len(
    properties: &Properties,
    version: ProtocolVersion,
    scope: Scope,
) -> Result<usize, EncodeError> {
    if version.is_v5() {
        properties.encoded_len(scope)
    } else {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::packet::{Disconnect, Packet, ProtocolVersion, ReasonCode};
    use super::super::testing::{both_ways, s};
    use super::*;

    #[test]
    fn user_properties_keep_order_and_repeats() {
        let properties = Properties {
            user_properties: vec![(s("a"), s("1")), (s("b"), s("2")), (s("a"), s("3"))],
            ..Properties::default()
        };
        both_ways(
            "E0 17 00 15 26 00 01 61 00 01 31 26 00 01 62 00 01 32 26 00 01 61 00 01 33",
            ProtocolVersion::V5,
            Packet::Disconnect(Disconnect {
                reason: ReasonCode::SUCCESS,
                properties,
            }),
        );
    }

    #[test]
    fn every_defined_identifier_has_a_scope() {
        let defined = [
            0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17, 0x18, 0x19,
            0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A,
        ];
        for id in 0..=u8::MAX {
            assert_eq!(scopes_of(id).is_some(), defined.contains(&id), "{id:#04x}");
        }
        // Spot checks against the table of 5.0 §2.2.2.2.
        assert!(Scope::Will.allows(0x18) && !Scope::Connect.allows(0x18));
        assert!(Scope::Unsubscribe.allows(0x26) && !Scope::Unsubscribe.allows(0x1F));
        assert!(Scope::Auth.allows(0x15) && !Scope::Disconnect.allows(0x15));
    }

    #[test]
    fn encoder_refuses_two_subscription_identifiers_in_subscribe() {
        let properties = Properties {
            subscription_identifiers: vec![1, 2],
            ..Properties::default()
        };
        assert_eq!(
            properties.encoded_len(Scope::Subscribe),
            Err(EncodeError::PropertyNotAllowed(0x0B))
        );
        assert_eq!(properties.encoded_len(Scope::Publish), Ok(5));
    }
}
