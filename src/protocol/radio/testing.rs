//! Helpers for the radio codec tests: hex vectors and split feeding.

/// Bytes from a hex string with optional spaces: `"7E 00 02"`.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).unwrap();
            u8::from_str_radix(text, 16).unwrap()
        })
        .collect()
}

/// Feeds `wire` in two parts, split at `at`, to a decoder that is called
/// until it wants more bytes after each part; returns what it produced.
pub fn feed_split<T, E>(
    wire: &[u8],
    at: usize,
    mut decode: impl FnMut(&mut bytes::BytesMut) -> Result<Option<T>, E>,
) -> Vec<Result<T, E>> {
    let mut buf = bytes::BytesMut::new();
    let mut out = Vec::new();
    for part in [&wire[..at], &wire[at..]] {
        buf.extend_from_slice(part);
        loop {
            match decode(&mut buf) {
                Ok(Some(item)) => out.push(Ok(item)),
                Ok(None) => break,
                Err(error) => out.push(Err(error)),
            }
        }
    }
    out
}
