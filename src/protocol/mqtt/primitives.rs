//! The data representations every packet is built from (MQTT 3.1.1 §1.5, 5.0 §1.5):
//! big-endian integers, variable byte integers, UTF-8 strings and binary data.
//!
//! `Reader` walks one complete frame; running out of bytes inside a frame is
//! `Truncated`, never "wait for more", because the frame length is already known.

use std::num::NonZeroU16;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::error::{DecodeError, EncodeError};
use super::packet::PacketId;

/// The largest value a 4-byte variable byte integer can hold.
pub(super) const MAX_VAR_INT: u32 = 268_435_455;

/// Reads a variable byte integer from the front of `bytes`: its value and how many
/// bytes it took. `Ok(None)` while the last byte has not arrived yet; a fourth
/// byte that still announces a continuation is an error at once, without waiting
/// for a fifth. Non-minimal encodings are accepted, as most brokers do.
pub(super) fn read_var_int(bytes: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (index, &byte) in bytes.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(Some((value, index + 1)));
        }
    }
    if bytes.len() >= 4 {
        Err(DecodeError::VarIntTooLong)
    } else {
        Ok(None)
    }
}

/// How many bytes `value` takes as a variable byte integer.
pub(super) fn var_int_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes `value` as a variable byte integer. Callers check `value <= MAX_VAR_INT`;
/// larger values would lose their top bits.
pub(super) fn put_var_int(buf: &mut BytesMut, mut value: u32) {
    loop {
        let byte = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            buf.put_u8(byte);
            return;
        }
        buf.put_u8(byte | 0x80);
    }
}

/// A length that must fit a variable byte integer, for remaining and property lengths.
pub(super) fn var_int_value(len: usize) -> Result<u32, EncodeError> {
    u32::try_from(len)
        .ok()
        .filter(|&value| value <= MAX_VAR_INT)
        .ok_or(EncodeError::TooLarge)
}

/// The wire size of a string or binary field: 2-byte length prefix plus content.
pub(super) fn field_len(content: usize) -> usize {
    content.saturating_add(2)
}

/// Writes a 2-byte length prefix and the content (UTF-8 string or binary data alike).
pub(super) fn put_field(buf: &mut BytesMut, content: &[u8]) -> Result<(), EncodeError> {
    let len = u16::try_from(content.len()).map_err(|_| EncodeError::FieldTooLong)?;
    buf.put_u16(len);
    buf.put_slice(content);
    Ok(())
}

/// A cursor over the body of one complete frame. Every slice it hands out shares
/// the frame's allocation, so payloads and strings are never copied.
pub(super) struct Reader {
    bytes: Bytes,
}

impl Reader {
    /// Starts reading `bytes`.
    pub(super) fn new(bytes: Bytes) -> Self {
        Self { bytes }
    }

    /// True once everything has been read.
    pub(super) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Takes the next `len` bytes.
    pub(super) fn take(&mut self, len: usize) -> Result<Bytes, DecodeError> {
        if len > self.bytes.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(self.bytes.split_to(len))
    }

    /// Takes everything that is left (a PUBLISH payload).
    pub(super) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.bytes)
    }

    /// Fails if bytes are left: the packet held more than its type contains.
    pub(super) fn finish(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }

    /// Reads one byte.
    pub(super) fn u8(&mut self) -> Result<u8, DecodeError> {
        if self.bytes.is_empty() {
            return Err(DecodeError::Truncated);
        }
        Ok(self.bytes.get_u8())
    }

    /// Reads a big-endian two-byte integer.
    pub(super) fn u16(&mut self) -> Result<u16, DecodeError> {
        if self.bytes.len() < 2 {
            return Err(DecodeError::Truncated);
        }
        Ok(self.bytes.get_u16())
    }

    /// Reads a big-endian four-byte integer.
    pub(super) fn u32(&mut self) -> Result<u32, DecodeError> {
        if self.bytes.len() < 4 {
            return Err(DecodeError::Truncated);
        }
        Ok(self.bytes.get_u32())
    }

    /// Reads a variable byte integer; one cut short by the frame end is `Truncated`.
    pub(super) fn var_int(&mut self) -> Result<u32, DecodeError> {
        let (value, len) = read_var_int(&self.bytes)?.ok_or(DecodeError::Truncated)?;
        self.bytes.advance(len);
        Ok(value)
    }

    /// Reads a packet identifier, which is never 0.
    pub(super) fn packet_id(&mut self) -> Result<PacketId, DecodeError> {
        NonZeroU16::new(self.u16()?).ok_or(DecodeError::ZeroPacketId)
    }

    /// Reads binary data: a two-byte length, then that many bytes.
    pub(super) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// Reads a UTF-8 string, rejecting invalid UTF-8 and U+0000 ([MQTT-1.5.4-1/2]).
    pub(super) fn string(&mut self) -> Result<ByteString, DecodeError> {
        let bytes = self.binary()?;
        let string = ByteString::try_from(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        if string.contains('\0') {
            return Err(DecodeError::NullCharacter);
        }
        Ok(string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn var_int_boundaries_round_trip() {
        for (value, wire) in [
            (0u32, &[0x00][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (MAX_VAR_INT, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            let mut buf = BytesMut::new();
            put_var_int(&mut buf, value);
            assert_eq!(&buf[..], wire, "{value}");
            assert_eq!(var_int_len(value), wire.len());
            assert_eq!(read_var_int(wire), Ok(Some((value, wire.len()))));
        }
    }

    #[test]
    fn var_int_incomplete_and_too_long() {
        assert_eq!(read_var_int(&[]), Ok(None));
        assert_eq!(read_var_int(&[0x80, 0x80, 0x80]), Ok(None));
        assert_eq!(
            read_var_int(&[0x80, 0x80, 0x80, 0x80]),
            Err(DecodeError::VarIntTooLong)
        );
    }

    #[test]
    fn strings_are_validated() {
        let mut reader = Reader::new(Bytes::from_static(&[0, 2, 0xC3, 0x28]));
        assert_eq!(reader.string(), Err(DecodeError::InvalidUtf8));
        let mut reader = Reader::new(Bytes::from_static(&[0, 3, b'a', 0, b'b']));
        assert_eq!(reader.string(), Err(DecodeError::NullCharacter));
        let mut reader = Reader::new(Bytes::from_static(&[0, 3, b'a']));
        assert_eq!(reader.string(), Err(DecodeError::Truncated));
        let mut reader = Reader::new(Bytes::from_static(&[0, 2, 0xC3, 0xA9, 7]));
        assert_eq!(reader.string().map(|s| s.to_string()), Ok("é".to_owned()));
        assert_eq!(reader.finish(), Err(DecodeError::TrailingBytes));
    }

    #[test]
    fn field_longer_than_u16_is_refused() {
        let mut buf = BytesMut::new();
        let long = vec![b'a'; 65_536];
        assert_eq!(put_field(&mut buf, &long), Err(EncodeError::FieldTooLong));
        assert_eq!(put_field(&mut buf, &long[..65_535]), Ok(()));
        assert_eq!(buf.len(), 65_537);
    }
}
