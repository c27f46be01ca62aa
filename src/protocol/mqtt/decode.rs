//! Reading packets from the front of a buffer.

use bytes::BytesMut;

use super::error::DecodeError;
use super::packet::{Packet, ProtocolVersion};

/// Decodes one packet from the front of `buf`, read as `version` (CONNECT carries
/// its own version and ignores it). Returns `Ok(None)` while `buf` holds less than
/// a whole packet; nothing is consumed then. A packet whose announced size exceeds
/// `max_packet_size` is refused as soon as its fixed header is readable.
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: u32,
) -> Result<Option<Packet>, DecodeError> {
    let _ = (buf, version);
    Err(DecodeError::TooLarge {
        len: 0,
        max: max_packet_size,
    })
}
