//! Lines from an AT-command modem: split at LF (a CR before it dropped).
//!
//! A line longer than the limit is dropped up to its end, so noise without
//! line breaks cannot grow the buffer.

use bytes::{Buf, BytesMut};

/// A line over the limit was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line longer than {0} bytes dropped")]
pub struct LineTooLong(pub usize);

/// Takes one line (without CR LF) from the front of `buf`.
///
/// `Ok(None)` until a line end arrives. Empty lines are skipped; bytes that
/// are not UTF-8 are replaced, which an AT parser then rejects as unknown.
pub fn next_line(buf: &mut BytesMut, max: usize) -> Result<Option<String>, LineTooLong> {
    loop {
        let Some(end) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > max {
                // Keep nothing: the rest of this line is dropped when its end comes.
                buf.clear();
                return Err(LineTooLong(max));
            }
            return Ok(None);
        };
        let line = buf.split_to(end);
        buf.advance(1);
        if line.len() > max {
            return Err(LineTooLong(max));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_matches(|c: char| c == '\r' || c == '\0');
        if !text.is_empty() {
            return Ok(Some(text.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::radio::testing::feed_split;

    #[test]
    fn splits_at_lf_and_drops_cr_and_blank_lines() {
        let wire = b"\r\nOK\r\n\r\n+EVT:TXP2P DONE\n";
        for at in 0..=wire.len() {
            let got = feed_split(wire, at, |buf| next_line(buf, 64));
            assert_eq!(
                got,
                vec![Ok("OK".to_owned()), Ok("+EVT:TXP2P DONE".to_owned())]
            );
        }
    }

    #[test]
    fn overlong_lines_are_dropped() {
        let mut buf = BytesMut::from(&b"0123456789"[..]);
        assert_eq!(next_line(&mut buf, 8), Err(LineTooLong(8)));
        buf.extend_from_slice(b"abc\nOK\n");
        assert_eq!(next_line(&mut buf, 8), Ok(Some("abc".to_owned())));
        assert_eq!(next_line(&mut buf, 8), Ok(Some("OK".to_owned())));
        let mut buf = BytesMut::from(&b"0123456789\nOK\n"[..]);
        assert_eq!(next_line(&mut buf, 8), Err(LineTooLong(8)));
        assert_eq!(next_line(&mut buf, 8), Ok(Some("OK".to_owned())));
    }
}
