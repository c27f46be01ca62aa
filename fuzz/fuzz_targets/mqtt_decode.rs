//! Feeds arbitrary bytes to the MQTT decoder as every protocol version, packet
//! after packet, until it wants more bytes or refuses them. It must never panic,
//! never loop, and whatever it accepts must encode and decode back to itself.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wren::protocol::mqtt::{ProtocolVersion, decode, encode};

const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V31,
    ProtocolVersion::V311,
    ProtocolVersion::V5,
];

fuzz_target!(|data: &[u8]| {
    for version in VERSIONS {
        let mut buf = BytesMut::from(data);
        while let Ok(Some(packet)) = decode(&mut buf, version, u32::MAX) {
            let mut again = BytesMut::new();
            if encode(&packet, version, &mut again).is_err() {
                panic!("decoded packet does not encode: {packet:?}");
            }
            match decode(&mut again, version, u32::MAX) {
                Ok(Some(back)) if back == packet && again.is_empty() => {}
                other => panic!("round trip changed {packet:?} into {other:?}"),
            }
        }
    }
});
