use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::protocol::radio::testing::{feed_split, hex};

const NODE: u64 = 0x0013_A200_41B2_C3D4;

fn decode_all(wire: &[u8], mode: ApiMode) -> Vec<Result<Frame, FrameError>> {
    feed_split(wire, wire.len(), |buf| decode(buf, mode))
}

fn encoded(frame: &Frame, mode: ApiMode) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(frame, mode, &mut out);
    out.to_vec()
}

fn receive(src16: u16, options: u8, data: &str) -> Frame {
    Frame::Receive {
        src64: NODE,
        src16,
        options,
        data: Bytes::from(hex(data)),
    }
}

/// Every vector of notes/radio.md §1.4 and §1.1, in both directions.
fn vectors() -> Vec<(ApiMode, &'static str, Frame)> {
    let publish_qos1 = "09 0C 20 00 13 7E 7D 6F 6E";
    vec![
        (
            ApiMode::Plain,
            "7E 00 17 90 00 13 A2 00 41 B2 C3 D4 1A 2B 01 0B 0C 00 00 01 00 00 32 31 2E 35 0C",
            receive(0x1A2B, 1, "0B 0C 00 00 01 00 00 32 31 2E 35"),
        ),
        (
            ApiMode::Plain,
            "7E 00 15 90 00 13 A2 00 41 B2 C3 D4 7D 11 01 09 0C 20 00 13 7E 7D 6F 6E 81",
            receive(0x7D11, 1, publish_qos1),
        ),
        (
            ApiMode::Escaped,
            "7E 00 15 90 00 7D 33 A2 00 41 B2 C3 D4 7D 5D 7D 31 01 09 0C 20 00 7D 33 7D 5E 7D 5D 6F 6E 81",
            receive(0x7D11, 1, publish_qos1),
        ),
        (
            ApiMode::Plain,
            "7E 00 16 90 00 13 A2 00 41 B2 C3 D4 1A 2B 02 0A 0C 61 00 05 00 00 4F 4E 21 AF",
            receive(0x1A2B, 2, "0A 0C 61 00 05 00 00 4F 4E 21"),
        ),
        (
            ApiMode::Plain,
            "7E 00 11 10 01 00 13 A2 00 41 B2 C3 D4 1A 2B 00 00 03 05 00 62",
            transmit(1, NODE, 0x1A2B, "03 05 00"),
        ),
        (
            ApiMode::Plain,
            "7E 00 11 10 02 00 00 00 00 00 00 FF FF FF FE 00 00 03 02 01 EC",
            transmit(2, BROADCAST64, UNKNOWN16, "03 02 01"),
        ),
        (
            ApiMode::Escaped,
            "7E 00 7D 31 10 02 00 00 00 00 00 00 FF FF FF FE 00 00 03 02 01 EC",
            transmit(2, BROADCAST64, UNKNOWN16, "03 02 01"),
        ),
        (
            ApiMode::Plain,
            "7E 00 07 8B 01 1A 2B 00 00 00 2E",
            status(0x1A2B, 0, 0),
        ),
        (
            ApiMode::Plain,
            "7E 00 07 8B 01 FF FD 02 21 00 54",
            status(0xFFFD, 2, 0x21),
        ),
        (ApiMode::Plain, "7E 00 02 8A 00 75", Frame::ModemStatus(0)),
        (ApiMode::Plain, "7E 00 02 8A 02 73", Frame::ModemStatus(2)),
        (ApiMode::Plain, "7E 00 02 8A 06 6F", Frame::ModemStatus(6)),
        (ApiMode::Plain, "7E 00 04 08 01 4E 50 58", at(1, b"NP")),
        (ApiMode::Plain, "7E 00 04 08 02 41 50 64", at(2, b"AP")),
        (ApiMode::Plain, "7E 00 04 08 52 4E 4A 0D", at(0x52, b"NJ")),
        (
            ApiMode::Plain,
            "7E 00 07 88 01 4E 50 00 00 54 84",
            Frame::AtResponse {
                frame_id: 1,
                command: *b"NP",
                status: 0,
                data: Bytes::from_static(&[0x00, 0x54]),
            },
        ),
        (
            ApiMode::Escaped,
            "7E 00 02 23 7D 31 CB",
            Frame::Other {
                frame_type: 0x23,
                data: Bytes::from_static(&[0x11]),
            },
        ),
        (
            ApiMode::Plain,
            "7E 00 12 90 00 13 A2 00 40 52 2B AA 7D 84 01 52 78 44 61 74 61 0D",
            Frame::Receive {
                src64: 0x0013_A200_4052_2BAA,
                src16: 0x7D84,
                options: 1,
                data: Bytes::from_static(b"RxData"),
            },
        ),
        (
            ApiMode::Plain,
            "7E 00 16 10 01 00 13 A2 00 40 0A 01 27 FF FE 00 00 54 78 44 61 74 61 30 41 13",
            transmit(1, 0x0013_A200_400A_0127, UNKNOWN16, &hex_of(b"TxData0A")),
        ),
    ]
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn transmit(frame_id: u8, dest64: u64, dest16: u16, data: &str) -> Frame {
    Frame::Transmit {
        frame_id,
        dest64,
        dest16,
        radius: 0,
        options: 0,
        data: Bytes::from(hex(data)),
    }
}

fn status(dest16: u16, retries: u8, delivery: u8) -> Frame {
    Frame::TransmitStatus {
        frame_id: 1,
        dest16,
        retries,
        delivery,
        discovery: 0,
    }
}

fn at(frame_id: u8, command: &[u8; 2]) -> Frame {
    Frame::AtCommand {
        frame_id,
        command: *command,
        param: Bytes::new(),
    }
}

#[test]
fn vectors_decode_and_encode_byte_exact() {
    for (mode, wire, frame) in vectors() {
        let wire = hex(wire);
        assert_eq!(encoded(&frame, mode), wire, "encode {frame:?}");
        assert_eq!(
            decode_all(&wire, mode),
            vec![Ok(frame)],
            "decode {wire:02X?}"
        );
    }
}

#[test]
fn vectors_decode_when_split_at_every_byte() {
    for (mode, wire, frame) in vectors() {
        let wire = hex(wire);
        for at in 0..=wire.len() {
            let got = feed_split(&wire, at, |buf| decode(buf, mode));
            assert_eq!(got, vec![Ok(frame.clone())], "split at {at}: {wire:02X?}");
        }
    }
}

#[test]
fn noise_before_a_frame_is_skipped_and_reported() {
    let mut wire = hex("00 13 FF");
    wire.extend(hex("7E 00 02 8A 02 73"));
    for mode in [ApiMode::Plain, ApiMode::Escaped] {
        assert_eq!(
            decode_all(&wire, mode),
            vec![Err(FrameError::Noise(3)), Ok(Frame::ModemStatus(2))]
        );
    }
}

#[test]
fn bad_checksum_costs_only_that_frame() {
    let wire = hex("7E 00 02 8A 02 74 7E 00 02 8A 06 6F");
    for mode in [ApiMode::Plain, ApiMode::Escaped] {
        let got = decode_all(&wire, mode);
        assert_eq!(got.first(), Some(&Err(FrameError::BadChecksum)));
        assert_eq!(got.last(), Some(&Ok(Frame::ModemStatus(6))));
    }
}

#[test]
fn plain_mode_resyncs_on_a_start_byte_inside_a_broken_frame() {
    // LEN 5 swallows a whole frame, whose checksum then fails: the search
    // resumes right after the failed delimiter and finds it.
    let wire = hex("7E 00 05 7E 00 02 8A 02 73");
    assert_eq!(
        decode_all(&wire, ApiMode::Plain),
        vec![
            Err(FrameError::BadChecksum),
            Err(FrameError::Noise(2)),
            Ok(Frame::ModemStatus(2))
        ]
    );
}

#[test]
fn escaped_mode_cut_short_by_a_new_delimiter() {
    let wire = hex("7E 00 05 8A 7E 00 02 8A 02 73");
    assert_eq!(
        decode_all(&wire, ApiMode::Escaped),
        vec![Err(FrameError::Truncated), Ok(Frame::ModemStatus(2))]
    );
    // An escape right before a delimiter is no escape.
    let wire = hex("7E 00 05 7D 7E 00 02 8A 02 73");
    assert_eq!(
        decode_all(&wire, ApiMode::Escaped),
        vec![Err(FrameError::Truncated), Ok(Frame::ModemStatus(2))]
    );
}

#[test]
fn escape_at_buffer_end_waits_for_more() {
    let mut buf = BytesMut::from(&hex("7E 00 15 90 00 7D")[..]);
    assert_eq!(decode(&mut buf, ApiMode::Escaped), Ok(None));
    assert_eq!(buf.len(), 6, "nothing consumed");
}

#[test]
fn lengths_out_of_range_are_refused() {
    let wire = hex("7E 00 00 7E 01 FF 00 7E 00 02 8A 02 73");
    for mode in [ApiMode::Plain, ApiMode::Escaped] {
        assert_eq!(
            decode_all(&wire, mode),
            vec![
                Err(FrameError::BadLength(0)),
                Err(FrameError::Noise(2)),
                Err(FrameError::BadLength(0x1FF)),
                Err(FrameError::Noise(3)),
                Ok(Frame::ModemStatus(2)),
            ]
        );
    }
}

#[test]
fn short_frames_of_known_types_are_malformed() {
    // 0x90 with only 3 bytes of fields.
    let data = hex("90 00 13 A2");
    let mut wire = vec![0x7E, 0x00, 0x04];
    wire.extend(&data);
    wire.push(checksum(&data));
    assert_eq!(
        decode_all(&wire, ApiMode::Plain),
        vec![Err(FrameError::Malformed(0x90))]
    );
}

#[test]
fn a_255_byte_payload_is_carried_whole() {
    let frame = Frame::Receive {
        src64: NODE,
        src16: 0x1A2B,
        options: 1,
        data: Bytes::from(vec![0x7E; MAX_RF_DATA]),
    };
    for mode in [ApiMode::Plain, ApiMode::Escaped] {
        let wire = encoded(&frame, mode);
        assert_eq!(decode_all(&wire, mode), vec![Ok(frame.clone())]);
    }
}

fn any_frame() -> impl Strategy<Value = Frame> {
    let data = || proptest::collection::vec(any::<u8>(), 0..=MAX_RF_DATA).prop_map(Bytes::from);
    prop_oneof![
        (any::<u8>(), any::<[u8; 2]>(), data()).prop_map(|(frame_id, command, param)| {
            Frame::AtCommand {
                frame_id,
                command,
                param,
            }
        }),
        (any::<u8>(), any::<[u8; 2]>(), any::<u8>(), data()).prop_map(
            |(frame_id, command, status, data)| Frame::AtResponse {
                frame_id,
                command,
                status,
                data
            }
        ),
        any::<u8>().prop_map(Frame::ModemStatus),
        (
            any::<u8>(),
            any::<u64>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            data()
        )
            .prop_map(|(frame_id, dest64, dest16, radius, options, data)| {
                Frame::Transmit {
                    frame_id,
                    dest64,
                    dest16,
                    radius,
                    options,
                    data,
                }
            }),
        (
            any::<u8>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>()
        )
            .prop_map(|(frame_id, dest16, retries, delivery, discovery)| {
                Frame::TransmitStatus {
                    frame_id,
                    dest16,
                    retries,
                    delivery,
                    discovery,
                }
            }),
        (any::<u64>(), any::<u16>(), any::<u8>(), data()).prop_map(
            |(src64, src16, options, data)| Frame::Receive {
                src64,
                src16,
                options,
                data
            }
        ),
    ]
}

proptest! {
    #[test]
    fn encode_then_decode_round_trips(frame in any_frame(), escaped in any::<bool>(), at in any::<prop::sample::Index>()) {
        let mode = if escaped { ApiMode::Escaped } else { ApiMode::Plain };
        let wire = encoded(&frame, mode);
        let at = at.index(wire.len() + 1);
        prop_assert_eq!(feed_split(&wire, at, |buf| decode(buf, mode)), vec![Ok(frame)]);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_always_progress(bytes in proptest::collection::vec(any::<u8>(), 0..600), escaped in any::<bool>()) {
        let mode = if escaped { ApiMode::Escaped } else { ApiMode::Plain };
        let mut buf = BytesMut::from(&bytes[..]);
        loop {
            let before = buf.len();
            match decode(&mut buf, mode) {
                Ok(None) => break,
                Ok(Some(_)) | Err(_) => prop_assert!(buf.len() < before),
            }
        }
    }
}
