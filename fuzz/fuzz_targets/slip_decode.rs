//! Feeds arbitrary bytes to the SLIP + CRC-16 decoder. It must never panic,
//! its buffer must stay bounded, and every payload it accepts must encode
//! back into one frame that decodes to the same payload.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wren::protocol::radio::slip::{MAX_PAYLOAD, decode, encode};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    loop {
        match decode(&mut buf) {
            Ok(None) => break,
            Ok(Some(payload)) => {
                let mut wire = BytesMut::new();
                encode(&payload, &mut wire);
                assert_eq!(decode(&mut wire), Ok(Some(payload)));
            }
            Err(_) => {}
        }
    }
    assert!(buf.len() <= 2 * (MAX_PAYLOAD + 2));
});
