//! The message header (MQTT-SN 1.2 §5.2): Length, in its 1- or 3-octet form,
//! then MsgType.

use bytes::{BufMut, Bytes, BytesMut};

use super::error::{DecodeError, EncodeError};

/// The MsgType octet (§5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum MsgType {
    Advertise = 0x00,
    SearchGw = 0x01,
    GwInfo = 0x02,
    Connect = 0x04,
    ConnAck = 0x05,
    WillTopicReq = 0x06,
    WillTopic = 0x07,
    WillMsgReq = 0x08,
    WillMsg = 0x09,
    Register = 0x0A,
    RegAck = 0x0B,
    Publish = 0x0C,
    PubAck = 0x0D,
    PubComp = 0x0E,
    PubRec = 0x0F,
    PubRel = 0x10,
    Subscribe = 0x12,
    SubAck = 0x13,
    Unsubscribe = 0x14,
    UnsubAck = 0x15,
    PingReq = 0x16,
    PingResp = 0x17,
    Disconnect = 0x18,
    WillTopicUpd = 0x1A,
    WillTopicResp = 0x1B,
    WillMsgUpd = 0x1C,
    WillMsgResp = 0x1D,
    /// Forwarder encapsulation (§5.5).
    Encapsulated = 0xFE,
}

impl MsgType {
    /// The type with this code; `None` for the reserved codes 0x03, 0x11, 0x19,
    /// 0x1E–0xFD and 0xFF.
    pub fn from_code(code: u8) -> Option<Self> {
        use MsgType as T;
        Some(match code {
            0x00 => T::Advertise,
            0x01 => T::SearchGw,
            0x02 => T::GwInfo,
            0x04 => T::Connect,
            0x05 => T::ConnAck,
            0x06 => T::WillTopicReq,
            0x07 => T::WillTopic,
            0x08 => T::WillMsgReq,
            0x09 => T::WillMsg,
            0x0A => T::Register,
            0x0B => T::RegAck,
            0x0C => T::Publish,
            0x0D => T::PubAck,
            0x0E => T::PubComp,
            0x0F => T::PubRec,
            0x10 => T::PubRel,
            0x12 => T::Subscribe,
            0x13 => T::SubAck,
            0x14 => T::Unsubscribe,
            0x15 => T::UnsubAck,
            0x16 => T::PingReq,
            0x17 => T::PingResp,
            0x18 => T::Disconnect,
            0x1A => T::WillTopicUpd,
            0x1B => T::WillTopicResp,
            0x1C => T::WillMsgUpd,
            0x1D => T::WillMsgResp,
            0xFE => T::Encapsulated,
            _ => return None,
        })
    }

    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A first octet of 0x01 announces the 3-octet Length form (§5.2.1).
pub(super) const THREE_OCTET_FORM: u8 = 0x01;

/// The largest message the 1-octet form can describe.
const MAX_SHORT: usize = 0xFF;

/// Checks the Length field against the whole datagram and returns the MsgType
/// octet and the body after it, sharing the datagram's memory.
///
/// Both forms are accepted for any length: the spec says messages under 256
/// octets *may* use the 1-octet form, so a 3-octet Length of 5 is valid.
pub(super) fn split(datagram: &Bytes) -> Result<(u8, Bytes), DecodeError> {
    let (header_len, declared, msg_type) = match datagram.as_ref() {
        [THREE_OCTET_FORM, high, low, msg_type, ..] => {
            (3, usize::from(u16::from_be_bytes([*high, *low])), *msg_type)
        }
        [THREE_OCTET_FORM, ..] => return Err(DecodeError::Truncated),
        [len, msg_type, ..] => (1, usize::from(*len), *msg_type),
        _ => return Err(DecodeError::Truncated),
    };
    if declared != datagram.len() {
        return Err(DecodeError::LengthMismatch {
            declared,
            actual: datagram.len(),
        });
    }
    Ok((msg_type, datagram.slice(header_len + 1..)))
}

/// The size of the header (Length and MsgType) in front of a body of
/// `body_len` octets: the 1-octet form while the whole message fits in 255
/// octets, the 3-octet form from 256 up.
pub(super) fn header_len(body_len: usize) -> Result<usize, EncodeError> {
    if body_len.saturating_add(2) <= MAX_SHORT {
        Ok(2)
    } else if body_len.saturating_add(4) <= usize::from(u16::MAX) {
        Ok(4)
    } else {
        Err(EncodeError::TooLarge)
    }
}

/// Writes Length and MsgType for a body of `body_len` octets, which
/// `header_len` has accepted.
pub(super) fn put_header(buf: &mut BytesMut, msg_type: u8, body_len: usize) {
    let total = body_len + 2;
    // A total of 2..=255 never collides with the 0x01 marker.
    if let Ok(short) = u8::try_from(total) {
        buf.put_u8(short);
    } else {
        buf.put_u8(THREE_OCTET_FORM);
        // header_len refused anything over u16::MAX.
        buf.put_u16(u16::try_from(total + 2).unwrap_or(u16::MAX));
    }
    buf.put_u8(msg_type);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_switches_at_256_octets() {
        assert_eq!(header_len(0), Ok(2));
        assert_eq!(header_len(253), Ok(2), "253 + 2 = 255 fits one octet");
        assert_eq!(header_len(254), Ok(4), "254 + 2 = 256 does not");
        assert_eq!(header_len(65_531), Ok(4));
        assert_eq!(header_len(65_532), Err(EncodeError::TooLarge));
        assert_eq!(header_len(usize::MAX), Err(EncodeError::TooLarge));

        let mut buf = BytesMut::new();
        put_header(&mut buf, 0x0C, 253);
        assert_eq!(&buf[..], &[0xFF, 0x0C]);
        buf.clear();
        put_header(&mut buf, 0x0C, 254);
        assert_eq!(&buf[..], &[0x01, 0x01, 0x02, 0x0C]);
        buf.clear();
        put_header(&mut buf, 0x0C, 65_531);
        assert_eq!(&buf[..], &[0x01, 0xFF, 0xFF, 0x0C]);
    }

    #[test]
    fn split_reads_both_forms() {
        let short = Bytes::from_static(&[0x03, 0x05, 0x00]);
        assert_eq!(split(&short), Ok((0x05, Bytes::from_static(&[0x00]))));
        let long = Bytes::from_static(&[0x01, 0x00, 0x05, 0x05, 0x00]);
        assert_eq!(split(&long), Ok((0x05, Bytes::from_static(&[0x00]))));
    }
}
