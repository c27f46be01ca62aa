//! Property tests: every valid message survives a round trip in the right
//! Length form, and no datagram makes the decoder panic.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use super::arbitrary::message;
use super::{Message, decode, encode};

/// Where the inner message starts: after the encapsulation header, if any.
fn inner_start(message: &Message) -> usize {
    match message {
        Message::Encapsulated(encapsulated) => 3 + encapsulated.node_id.len(),
        _ => 0,
    }
}

/// Whatever `decode` accepts must encode and decode back to the same value.
fn accepted_round_trips(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(message) = decode(&Bytes::copy_from_slice(bytes)) {
        let mut again = BytesMut::new();
        encode(&message, &mut again)
            .map_err(|e| TestCaseError::fail(format!("{message:?}: {e}")))?;
        prop_assert_eq!(decode(&again.freeze()), Ok(message));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn round_trip(m in message()) {
        let mut buf = BytesMut::new();
        let written = encode(&m, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(written, buf.len());
        // The 1-octet form exactly while the inner message fits 255 octets.
        let inner = &buf[inner_start(&m)..];
        if inner.len() <= 255 {
            prop_assert_eq!(usize::from(inner[0]), inner.len());
        } else {
            prop_assert_eq!(inner[0], 0x01);
            prop_assert_eq!(usize::from(u16::from_be_bytes([inner[1], inner[2]])), inner.len());
        }
        prop_assert_eq!(decode(&buf.freeze()), Ok(m));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        accepted_round_trips(&bytes)?;
    }

    #[test]
    fn plausible_headers_never_panic(
        len in any::<u8>(),
        msg_type in prop_oneof![0x00..=0x1Eu8, Just(0xFE)],
        rest in vec(any::<u8>(), 0..40),
    ) {
        // Random bytes rarely have a matching Length; give the body readers a go.
        let mut bytes = vec![len, msg_type];
        bytes.extend_from_slice(&rest);
        accepted_round_trips(&bytes)?;
        bytes[0] = u8::try_from(bytes.len()).unwrap_or(0);
        accepted_round_trips(&bytes)?;
    }

    #[test]
    fn mutated_encodings_never_panic(
        m in message(),
        flips in vec((any::<Index>(), any::<u8>()), 1..4),
        cut in any::<Index>(),
    ) {
        let mut bytes = BytesMut::new();
        encode(&m, &mut bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut bytes = bytes.to_vec();
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        accepted_round_trips(&bytes)?;
        accepted_round_trips(&bytes[..cut.index(bytes.len())])?;
    }
}
