//! Property tests: every valid packet survives a round trip, and no input makes
//! the decoder panic.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use super::arbitrary::packet;
use super::{DecodeError, Packet, ProtocolVersion, decode, encode};

const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V31,
    ProtocolVersion::V311,
    ProtocolVersion::V5,
];

/// `decode(encode(p)) == p`, the whole encoding is consumed, every proper prefix
/// is `Ok(None)`, and the size limit counts exactly the bytes written.
fn round_trip(packet: &Packet, version: ProtocolVersion) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    let written =
        encode(packet, version, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(written, buf.len());
    let len = u32::try_from(written).unwrap();
    let mut too_small = buf.clone();
    prop_assert_eq!(
        decode(&mut too_small, version, len - 1),
        Err(DecodeError::TooLarge {
            len: written,
            max: len - 1
        })
    );
    for cut in 0..written {
        let mut prefix = BytesMut::from(&buf[..cut]);
        prop_assert_eq!(
            decode(&mut prefix, version, len),
            Ok(None),
            "cut at {}",
            cut
        );
        prop_assert_eq!(prefix.len(), cut, "a prefix was consumed");
    }
    prop_assert_eq!(decode(&mut buf, version, len), Ok(Some(packet.clone())));
    prop_assert!(buf.is_empty());
    Ok(())
}

/// Decodes packets from `bytes` until it runs dry or fails; must never panic, and
/// whatever it accepts must encode and decode back to the same value.
fn decode_all(bytes: &[u8], version: ProtocolVersion, max: u32) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::from(bytes);
    loop {
        let before = buf.len();
        match decode(&mut buf, version, max) {
            Ok(Some(packet)) => {
                prop_assert!(buf.len() < before, "a packet consumed nothing");
                let mut again = BytesMut::new();
                encode(&packet, version, &mut again)
                    .map_err(|e| TestCaseError::fail(format!("{packet:?}: {e}")))?;
                prop_assert_eq!(decode(&mut again, version, u32::MAX), Ok(Some(packet)));
            }
            Ok(None) => {
                prop_assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return Ok(());
            }
            Err(_) => return Ok(()),
        }
    }
}

proptest! {
    #[test]
    fn round_trip_v31(p in packet(ProtocolVersion::V31)) {
        round_trip(&p, ProtocolVersion::V31)?;
    }

    #[test]
    fn round_trip_v311(p in packet(ProtocolVersion::V311)) {
        round_trip(&p, ProtocolVersion::V311)?;
    }

    #[test]
    fn round_trip_v5(p in packet(ProtocolVersion::V5)) {
        round_trip(&p, ProtocolVersion::V5)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512), max in any::<u32>()) {
        for version in VERSIONS {
            decode_all(&bytes, version, u32::MAX)?;
            decode_all(&bytes, version, max)?;
        }
    }

    #[test]
    fn mutated_encodings_never_panic(
        version_index in 0..3usize,
        p in (0..3usize).prop_flat_map(|i| packet(VERSIONS[i])),
        flips in vec((any::<Index>(), any::<u8>()), 1..4),
        cut in any::<Index>(),
    ) {
        // The packet was drawn for one version; read its mutations as every version.
        let version = VERSIONS[version_index];
        let mut bytes = BytesMut::new();
        if encode(&p, version, &mut bytes).is_err() {
            return Ok(());
        }
        let mut bytes = bytes.to_vec();
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        for version in VERSIONS {
            decode_all(&bytes, version, u32::MAX)?;
            decode_all(&bytes[..cut.index(bytes.len())], version, u32::MAX)?;
        }
    }
}
