//! Helpers for the codec's unit tests: hex byte vectors and both-way checks.

use bytes::{Bytes, BytesMut};

use super::{Message, decode, encode};

/// Bytes from whitespace-separated hex pairs, as message dumps are written.
pub(super) fn wire(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap())
        .collect()
}

/// A datagram from hex pairs.
pub(super) fn datagram(hex: &str) -> Bytes {
    Bytes::from(wire(hex))
}

/// Encodes `message` and returns the bytes, checking the returned count and
/// that what was already in the buffer is untouched.
pub(super) fn encoded(message: &Message) -> Vec<u8> {
    let mut buf = BytesMut::from(&b"prefix"[..]);
    let written = encode(message, &mut buf).unwrap();
    assert_eq!(written, buf.len() - 6, "encode returned the wrong count");
    assert_eq!(
        &buf[..6],
        b"prefix",
        "encode touched what was already there"
    );
    buf.split_off(6).to_vec()
}

/// Checks a byte vector in both directions: `message` encodes to `hex` and
/// `hex` decodes to `message`.
pub(super) fn both_ways(hex: &str, message: Message) {
    assert_eq!(encoded(&message), wire(hex), "encoding {message:?}");
    assert_eq!(decode(&datagram(hex)), Ok(message), "decoding {hex}");
}
