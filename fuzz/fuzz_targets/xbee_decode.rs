//! Feeds arbitrary bytes, in two reads split where the input says, to the
//! XBee API decoder in both modes. It must never panic, every error must
//! consume bytes, and every frame it accepts must encode back to a frame
//! that decodes to the same value.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wren::protocol::radio::xbee::{ApiMode, decode, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mode = if first & 1 == 0 {
        ApiMode::Plain
    } else {
        ApiMode::Escaped
    };
    let split = usize::from(first >> 1).min(rest.len());
    let mut buf = BytesMut::new();
    for part in [&rest[..split], &rest[split..]] {
        buf.extend_from_slice(part);
        loop {
            let before = buf.len();
            match decode(&mut buf, mode) {
                Ok(None) => break,
                Ok(Some(frame)) => {
                    let mut wire = BytesMut::new();
                    encode(&frame, mode, &mut wire);
                    assert_eq!(decode(&mut wire, mode), Ok(Some(frame)));
                    assert!(wire.is_empty());
                }
                Err(_) => assert!(buf.len() < before, "an error consumed nothing"),
            }
        }
    }
});
