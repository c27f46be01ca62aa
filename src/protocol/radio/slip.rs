//! The generic serial bridge: SLIP frames (RFC 1055) around a payload and
//! its CRC-16/XMODEM, appended little-endian.
//!
//! Wire: `C0 | escaped(payload, crc_lo, crc_hi) | C0`, where C0 inside is
//! sent as `DB DC` and DB as `DB DD`. The payload is an MQTT-SN message in a
//! forwarder encapsulation (MQTT-SN 1.2 §5.5) carrying the radio node's id,
//! so one bridge serves many nodes. Bytes between two C0 are one candidate
//! frame: noise on the line fails its CRC and costs that frame only.

use bytes::{Buf, BufMut, Bytes, BytesMut};

const END: u8 = 0xC0;
const ESC: u8 = 0xDB;
const ESC_END: u8 = 0xDC;
const ESC_ESC: u8 = 0xDD;

/// The largest payload accepted (without CRC): an MQTT-SN datagram of up to
/// 255 bytes in a forwarder header with a 2-byte node id, with room to spare.
pub const MAX_PAYLOAD: usize = 512;

/// Why a SLIP frame was dropped. Each error consumed the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlipError {
    /// An escape byte followed by something other than DC or DD.
    #[error("bad escape sequence")]
    BadEscape,
    /// Too short to hold a CRC and one byte.
    #[error("frame of {0} bytes too short")]
    TooShort(usize),
    /// Longer than [`MAX_PAYLOAD`] plus the CRC.
    #[error("frame too long")]
    TooLong,
    /// The CRC does not match.
    #[error("bad CRC")]
    BadCrc,
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection.
pub fn crc16_xmodem(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |mut crc, &byte| {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
        crc
    })
}

/// Decodes one frame's payload from the front of `buf`, consuming it.
///
/// `Ok(None)` while no END byte closes a frame; empty frames (the END that
/// opens the next frame, or a line flush) are skipped. An over-long run
/// without END is dropped as it grows, so `buf` stays bounded.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Bytes>, SlipError> {
    loop {
        let Some(end) = buf.iter().position(|&b| b == END) else {
            if buf.len() > 2 * (MAX_PAYLOAD + 2) {
                buf.clear();
                return Err(SlipError::TooLong);
            }
            return Ok(None);
        };
        let raw = buf.split_to(end);
        buf.advance(1);
        if raw.is_empty() {
            continue;
        }
        return unframe(&raw).map(Some);
    }
}

/// Unescapes one frame's bytes and checks and strips its CRC.
fn unframe(raw: &[u8]) -> Result<Bytes, SlipError> {
    let mut out = BytesMut::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        let value = match byte {
            ESC => match bytes.next() {
                Some(&ESC_END) => END,
                Some(&ESC_ESC) => ESC,
                _ => return Err(SlipError::BadEscape),
            },
            other => other,
        };
        out.put_u8(value);
    }
    if out.len() < 3 {
        return Err(SlipError::TooShort(out.len()));
    }
    if out.len() > MAX_PAYLOAD + 2 {
        return Err(SlipError::TooLong);
    }
    let crc = out.split_off(out.len() - 2);
    if crc16_xmodem(&out).to_le_bytes() != crc[..] {
        return Err(SlipError::BadCrc);
    }
    Ok(out.freeze())
}

/// Appends `payload` with its CRC to `out` as one SLIP frame.
pub fn encode(payload: &[u8], out: &mut BytesMut) {
    let crc = crc16_xmodem(payload).to_le_bytes();
    out.put_u8(END);
    for &byte in payload.iter().chain(crc.iter()) {
        match byte {
            END => out.put_slice(&[ESC, ESC_END]),
            ESC => out.put_slice(&[ESC, ESC_ESC]),
            other => out.put_u8(other),
        }
    }
    out.put_u8(END);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::radio::testing::{feed_split, hex};

    /// notes/radio.md §3: FE(node 5) PUBLISH, and the escape case.
    const PUBLISH: &str = "05 FE 01 05 00 0B 0C 00 00 01 00 00 32 31 2E 35";
    const PUBLISH_WIRE: &str = "C0 05 FE 01 05 00 0B 0C 00 00 01 00 00 32 31 2E 35 92 BA C0";
    const ESCAPED: &str = "05 FE 01 C0 DB 07 0C 00 00 01 00 00";
    const ESCAPED_WIRE: &str = "C0 05 FE 01 DB DC DB DD 07 0C 00 00 01 00 00 10 25 C0";

    fn encoded(payload: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(payload, &mut out);
        out.to_vec()
    }

    #[test]
    fn crc_check_value() {
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(crc16_xmodem(&hex(PUBLISH)), 0xBA92);
    }

    #[test]
    fn vectors_both_ways_split_at_every_byte() {
        for (payload, wire) in [(PUBLISH, PUBLISH_WIRE), (ESCAPED, ESCAPED_WIRE)] {
            let (payload, wire) = (hex(payload), hex(wire));
            assert_eq!(encoded(&payload), wire);
            for at in 0..=wire.len() {
                let got = feed_split(&wire, at, decode);
                assert_eq!(got, vec![Ok(Bytes::from(payload.clone()))], "split at {at}");
            }
        }
    }

    #[test]
    fn noise_bad_crc_and_bad_escape_cost_one_frame_each() {
        let mut wire = hex("11 22 33 44");
        wire.extend(hex(
            "C0 05 FE 01 05 00 0B 0C 00 00 01 00 00 32 31 2E 35 92 BB C0",
        ));
        wire.extend(hex("C0 01 DB 01 02 03 C0"));
        wire.extend(hex(PUBLISH_WIRE));
        let got = feed_split(&wire, wire.len(), decode);
        assert_eq!(
            got,
            vec![
                Err(SlipError::BadCrc),
                Err(SlipError::BadCrc),
                Err(SlipError::BadEscape),
                Ok(Bytes::from(hex(PUBLISH))),
            ]
        );
    }

    #[test]
    fn escape_at_buffer_end_waits() {
        let mut buf = BytesMut::from(&hex("C0 05 FE 01 DB")[..]);
        assert_eq!(decode(&mut buf), Ok(None));
        buf.extend_from_slice(&hex("DC DB DD 07 0C 00 00 01 00 00 10 25 C0"));
        assert_eq!(decode(&mut buf), Ok(Some(Bytes::from(hex(ESCAPED)))));
    }

    #[test]
    fn short_and_endless_frames_are_refused() {
        let mut buf = BytesMut::from(&hex("C0 01 02 C0")[..]);
        assert_eq!(decode(&mut buf), Err(SlipError::TooShort(2)));
        let mut buf = BytesMut::from(&vec![0x55; 2 * (MAX_PAYLOAD + 2) + 1][..]);
        assert_eq!(decode(&mut buf), Err(SlipError::TooLong));
        assert!(buf.is_empty());
    }

    proptest! {
        #[test]
        fn round_trip(payload in proptest::collection::vec(any::<u8>(), 1..=MAX_PAYLOAD), at in any::<prop::sample::Index>()) {
            let wire = encoded(&payload);
            let at = at.index(wire.len() + 1);
            prop_assert_eq!(feed_split(&wire, at, decode), vec![Ok(Bytes::from(payload))]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) | Err(_) = decode(&mut buf) {}
            prop_assert!(buf.len() <= 2 * (MAX_PAYLOAD + 2));
        }
    }
}
