//! Feeds arbitrary datagrams to the MQTT-SN decoder. It must never panic, and
//! whatever it accepts must encode back, no longer than it came (the encoder
//! picks the shortest Length form), and decode to the same value.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use wren::protocol::mqttsn::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = decode(&Bytes::copy_from_slice(data)) else {
        return;
    };
    let mut again = BytesMut::new();
    let written = match encode(&message, &mut again) {
        Ok(written) => written,
        Err(error) => panic!("decoded message does not encode ({error}): {message:?}"),
    };
    assert_eq!(written, again.len(), "encode miscounted {message:?}");
    assert!(written <= data.len(), "{message:?} grew from {} to {written} octets", data.len());
    match decode(&again.freeze()) {
        Ok(back) if back == message => {}
        other => panic!("round trip changed {message:?} into {other:?}"),
    }
});
