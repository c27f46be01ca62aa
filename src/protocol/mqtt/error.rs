//! Why a packet could not be read or written.

use super::packet::ReasonCode;

/// Why bytes from a peer are not a valid packet. Every variant closes the
/// connection; `reason_code` says which v5 DISCONNECT reason to send first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The packet is larger than the configured maximum (checked from the fixed header alone).
    #[error("packet of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: u32 },
}

impl DecodeError {
    /// The MQTT 5.0 reason code for the DISCONNECT (or CONNACK) this error causes.
    pub fn reason_code(self) -> ReasonCode {
        match self {
            Self::TooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
        }
    }
}

/// Why a packet could not be written: a value too large for its wire field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The whole packet would exceed the 268,435,455-byte remaining-length limit.
    #[error("packet too large to encode")]
    TooLarge,
}
