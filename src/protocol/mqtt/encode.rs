//! Writing packets with exact sizes: the body is measured first, the buffer grows
//! once, and every byte is written in one pass.

use bytes::BytesMut;

use super::ack::{ack_len, write_ack};
use super::connect::{connack_len, connect_len, write_connack, write_connect};
use super::disconnect::{auth_len, disconnect_len, write_auth, write_disconnect};
use super::error::EncodeError;
use super::fixed_header::{PacketType, put_fixed_header};
use super::packet::{Packet, ProtocolVersion};
use super::primitives::{var_int_len, var_int_value};
use super::publish::{publish_first_byte, publish_len, write_publish};
use super::subscribe::{
    suback_len, subscribe_len, unsuback_len, unsubscribe_len, write_suback, write_subscribe,
    write_unsuback, write_unsubscribe,
};

/// Appends `packet`, encoded for `version`, to `buf`; returns the bytes written.
///
/// What `version` cannot carry is left out (properties and reason codes before 5.0;
/// CONNACK and SUBACK codes are mapped to 3.1.1 return codes). CONNECT is written
/// for its own `protocol`, as the decoder reads it. On error `buf` is left as it was.
pub fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<usize, EncodeError> {
    let (first_byte, body_len) = measure(packet, version)?;
    let header_len = 1 + var_int_len(var_int_value(body_len)?);
    let start = buf.len();
    buf.reserve(header_len + body_len);
    let written =
        put_fixed_header(buf, first_byte, body_len).and_then(|_| write_body(packet, version, buf));
    if let Err(error) = written {
        buf.truncate(start);
        return Err(error);
    }
    Ok(buf.len() - start)
}

/// The first byte of the fixed header for a type whose flags are fixed.
fn first_byte(packet_type: PacketType) -> u8 {
    ((packet_type as u8) << 4) | packet_type.fixed_flags()
}

/// The first byte and the remaining length of `packet`, checking what can be checked
/// before anything is written.
fn measure(packet: &Packet, version: ProtocolVersion) -> Result<(u8, usize), EncodeError> {
    use PacketType as T;
    Ok(match packet {
        Packet::Connect(connect) => (first_byte(T::Connect), connect_len(connect)?),
        Packet::ConnAck(connack) => (first_byte(T::ConnAck), connack_len(connack, version)?),
        Packet::Publish(publish) => (publish_first_byte(publish), publish_len(publish, version)?),
        Packet::PubAck(ack) => (first_byte(T::PubAck), ack_len(ack, version)?),
        Packet::PubRec(ack) => (first_byte(T::PubRec), ack_len(ack, version)?),
        Packet::PubRel(ack) => (first_byte(T::PubRel), ack_len(ack, version)?),
        Packet::PubComp(ack) => (first_byte(T::PubComp), ack_len(ack, version)?),
        Packet::Subscribe(subscribe) => {
            (first_byte(T::Subscribe), subscribe_len(subscribe, version)?)
        }
        Packet::SubAck(suback) => (first_byte(T::SubAck), suback_len(suback, version)?),
        Packet::Unsubscribe(unsubscribe) => (
            first_byte(T::Unsubscribe),
            unsubscribe_len(unsubscribe, version)?,
        ),
        Packet::UnsubAck(unsuback) => (first_byte(T::UnsubAck), unsuback_len(unsuback, version)?),
        Packet::PingReq => (first_byte(T::PingReq), 0),
        Packet::PingResp => (first_byte(T::PingResp), 0),
        Packet::Disconnect(disconnect) => (
            first_byte(T::Disconnect),
            disconnect_len(disconnect, version)?,
        ),
        Packet::Auth(auth) => (first_byte(T::Auth), auth_len(auth, version)?),
    })
}

/// Writes the body `measure` measured.
fn write_body(
    packet: &Packet,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    match packet {
        Packet::Connect(connect) => write_connect(connect, buf),
        Packet::ConnAck(connack) => write_connack(connack, version, buf),
        Packet::Publish(publish) => write_publish(publish, version, buf),
        Packet::PubAck(ack) | Packet::PubRec(ack) | Packet::PubRel(ack) | Packet::PubComp(ack) => {
            write_ack(ack, version, buf)
        }
        Packet::Subscribe(subscribe) => write_subscribe(subscribe, version, buf),
        Packet::SubAck(suback) => write_suback(suback, version, buf),
        Packet::Unsubscribe(unsubscribe) => write_unsubscribe(unsubscribe, version, buf),
        Packet::UnsubAck(unsuback) => write_unsuback(unsuback, version, buf),
        Packet::PingReq | Packet::PingResp => Ok(()),
        Packet::Disconnect(disconnect) => write_disconnect(disconnect, version, buf),
        Packet::Auth(auth) => write_auth(auth, buf),
    }
}
