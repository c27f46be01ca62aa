//! The fixed header (MQTT 3.1.1 §2.2, 5.0 §2.1): packet type, flags and remaining length.
//!
//! It is read before the body has arrived, so a bad first byte or an oversized
//! packet is refused without buffering anything more.

use bytes::{BufMut, BytesMut};

use super::error::{DecodeError, EncodeError};
use super::packet::{ProtocolVersion, QoS};
use super::primitives::{put_var_int, read_var_int, var_int_len, var_int_value};

/// The control packet types (high nibble of the first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    /// The type named by `nibble`; 0 is reserved, and 15 is AUTH only in 5.0.
    fn from_nibble(nibble: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        Ok(match nibble {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 if version.is_v5() => Self::Auth,
            _ => return Err(DecodeError::InvalidPacketType(nibble)),
        })
    }

    /// The flags every type but PUBLISH must carry (3.1.1 §2.2.2, 5.0 §2.1.3):
    /// 0b0010 for PUBREL, SUBSCRIBE and UNSUBSCRIBE, 0 for the rest.
    pub(super) fn fixed_flags(self) -> u8 {
        match self {
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}

/// The PUBLISH flags (3.1.1 §3.3.1): DUP, QoS, RETAIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PublishFlags {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
}

impl PublishFlags {
    /// Reads the low nibble, refusing QoS 3 and DUP at QoS 0 ([MQTT-3.3.1-2], [MQTT-3.3.1-4]).
    pub(super) fn from_nibble(flags: u8) -> Result<Self, DecodeError> {
        let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
        let dup = flags & 0b1000 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0);
        }
        Ok(Self {
            dup,
            qos,
            retain: flags & 0b0001 != 0,
        })
    }

    /// The low nibble for these flags.
    pub(super) fn nibble(self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }
}

/// A parsed fixed header; the body has not necessarily arrived yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FixedHeader {
    pub packet_type: PacketType,
    /// The low nibble, already checked: PUBLISH reads its flags from it again.
    pub flags: u8,
    pub remaining_len: u32,
    /// The size of the fixed header itself: 2 to 5 bytes.
    pub header_len: usize,
}

impl FixedHeader {
    /// Reads the fixed header at the front of `bytes` without consuming it.
    /// `Ok(None)` while its last byte has not arrived; the first byte is checked
    /// as soon as it is there.
    pub(super) fn peek(
        bytes: &[u8],
        version: ProtocolVersion,
    ) -> Result<Option<Self>, DecodeError> {
        let Some((&first, rest)) = bytes.split_first() else {
            return Ok(None);
        };
        let packet_type = PacketType::from_nibble(first >> 4, version)?;
        let flags = first & 0x0F;
        if packet_type == PacketType::Publish {
            PublishFlags::from_nibble(flags)?;
        } else if flags != packet_type.fixed_flags() {
            return Err(DecodeError::InvalidHeaderFlags {
                packet_type: packet_type as u8,
                flags,
            });
        }
        let Some((remaining_len, len_bytes)) = read_var_int(rest)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            packet_type,
            flags,
            remaining_len,
            header_len: 1 + len_bytes,
        }))
    }

    /// The whole packet: fixed header plus remaining length.
    pub(super) fn frame_len(&self) -> usize {
        // u32 fits usize on every target wren runs on (32- and 64-bit); saturate otherwise.
        usize::try_from(self.remaining_len)
            .unwrap_or(usize::MAX)
            .saturating_add(self.header_len)
    }
}

/// Writes a fixed header; returns its size. Fails when `remaining_len` does not fit
/// the 4-byte remaining-length field.
pub(super) fn put_fixed_header(
    buf: &mut BytesMut,
    first_byte: u8,
    remaining_len: usize,
) -> Result<usize, EncodeError> {
    let remaining = var_int_value(remaining_len)?;
    buf.put_u8(first_byte);
    put_var_int(buf, remaining);
    Ok(1 + var_int_len(remaining))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V311: ProtocolVersion = ProtocolVersion::V311;

    #[test]
    fn incomplete_header_is_none() {
        assert_eq!(FixedHeader::peek(&[], V311), Ok(None));
        assert_eq!(FixedHeader::peek(&[0x30], V311), Ok(None));
        assert_eq!(FixedHeader::peek(&[0x30, 0x80, 0x80], V311), Ok(None));
    }

    #[test]
    fn header_lengths() {
        let header = FixedHeader::peek(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], V311);
        let header = header.ok().flatten();
        assert_eq!(header.map(|h| h.frame_len()), Some(5 + 268_435_455));
        let header = FixedHeader::peek(&[0xC0, 0x00], V311).ok().flatten();
        assert_eq!(
            header.map(|h| (h.packet_type, h.header_len)),
            Some((PacketType::PingReq, 2))
        );
    }

    #[test]
    fn bad_first_byte_fails_before_the_length_arrives() {
        assert_eq!(
            FixedHeader::peek(&[0x00], V311),
            Err(DecodeError::InvalidPacketType(0))
        );
        assert_eq!(
            FixedHeader::peek(&[0x62], V311).map(|h| h.is_some()),
            Ok(false)
        );
        assert_eq!(
            FixedHeader::peek(&[0x60], V311),
            Err(DecodeError::InvalidHeaderFlags {
                packet_type: 6,
                flags: 0
            })
        );
        assert_eq!(
            FixedHeader::peek(&[0x36], V311),
            Err(DecodeError::InvalidQoS)
        );
        assert_eq!(
            FixedHeader::peek(&[0x38], V311),
            Err(DecodeError::DupWithQoS0)
        );
    }

    #[test]
    fn publish_flags_round_trip() {
        for nibble in 0..16u8 {
            if let Ok(flags) = PublishFlags::from_nibble(nibble) {
                assert_eq!(flags.nibble(), nibble);
            }
        }
    }
}
