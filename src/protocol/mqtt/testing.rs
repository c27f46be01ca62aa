//! Helpers for the codec's unit tests: hex byte vectors and both-way checks.

use std::num::NonZeroU16;

use bytes::BytesMut;
use bytestring::ByteString;

use super::{DecodeError, Packet, PacketId, ProtocolVersion, decode, encode};

/// Bytes from whitespace-separated hex pairs, as packet dumps are written in specs.
pub(super) fn wire(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap())
        .collect()
}

/// A packet identifier from a literal.
pub(super) fn pid(id: u16) -> PacketId {
    NonZeroU16::new(id).unwrap()
}

/// A `ByteString` from a literal.
pub(super) fn s(text: &str) -> ByteString {
    ByteString::from(text)
}

/// Encodes `packet` for `version` and returns the bytes, checking the returned count.
pub(super) fn encoded(packet: &Packet, version: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::from(&b"prefix"[..]);
    let written = encode(packet, version, &mut buf).unwrap();
    assert_eq!(written, buf.len() - 6, "encode returned the wrong count");
    assert_eq!(
        &buf[..6],
        b"prefix",
        "encode touched what was already there"
    );
    buf.split_off(6).to_vec()
}

/// Decodes `hex` as exactly one packet, checking that all of it was consumed.
pub(super) fn decoded(hex: &str, version: ProtocolVersion) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(&wire(hex)[..]);
    let packet = decode(&mut buf, version, u32::MAX)?;
    assert!(buf.is_empty(), "decode left {} bytes", buf.len());
    Ok(packet.unwrap())
}

/// Checks a spec byte vector in both directions: `packet` encodes to `hex` and
/// `hex` decodes to `packet`.
pub(super) fn both_ways(hex: &str, version: ProtocolVersion, packet: Packet) {
    assert_eq!(encoded(&packet, version), wire(hex), "encoding {packet:?}");
    assert_eq!(decoded(hex, version), Ok(packet), "decoding {hex}");
}
