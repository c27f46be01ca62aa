//! XBee (Zigbee) API frames, API mode 1 (plain) and 2 (escaped).
//!
//! `0x7E | LEN (2, BE) | frame data | checksum`, where LEN counts the frame
//! data only and the checksum is `0xFF - (sum(frame data) & 0xFF)`, both on
//! unescaped bytes (Digi, "API frame format"). In mode 2 every byte after the
//! delimiter that is 0x7E, 0x7D, 0x11 or 0x13 travels as `0x7D, byte ^ 0x20`,
//! so a raw 0x7E always starts a frame. In mode 1 a 0x7E can sit inside a
//! frame: the decoder trusts LEN, checks the checksum, and on a bad one
//! resumes its search one byte after the failed delimiter.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Start delimiter.
const START: u8 = 0x7E;
/// Escape byte (mode 2).
const ESCAPE: u8 = 0x7D;
/// The largest RF payload an API-mode unicast carries (five fragments; Digi, "NP").
pub const MAX_RF_DATA: usize = 255;
/// The largest frame data accepted: a Transmit Request header (14 bytes)
/// plus the largest RF payload. Paho overflows at 128; this never does.
pub const MAX_FRAME_DATA: usize = 14 + MAX_RF_DATA;
/// The 64-bit broadcast address; sent with 16-bit address 0xFFFE.
pub const BROADCAST64: u64 = 0xFFFF;
/// "16-bit address unknown": the module discovers it.
pub const UNKNOWN16: u16 = 0xFFFE;

/// Which API mode the module is in (its `AP` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiMode {
    /// `AP=1`: no escaping.
    Plain,
    /// `AP=2`: escaped (the default, and Paho's).
    Escaped,
}

impl ApiMode {
    /// The mode for an `AP` value; transparent mode (0) and others are `None`.
    pub fn from_ap(ap: u8) -> Option<Self> {
        match ap {
            1 => Some(Self::Plain),
            2 => Some(Self::Escaped),
            _ => None,
        }
    }
}

/// The frames a gateway sends or understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// 0x08: a local AT command.
    AtCommand {
        frame_id: u8,
        command: [u8; 2],
        param: Bytes,
    },
    /// 0x88: the answer to an AT command; `status` 0 is OK.
    AtResponse {
        frame_id: u8,
        command: [u8; 2],
        status: u8,
        data: Bytes,
    },
    /// 0x8A: the module's state changed (reset, joined, left).
    ModemStatus(u8),
    /// 0x10: send RF data to a node.
    Transmit {
        frame_id: u8,
        dest64: u64,
        dest16: u16,
        radius: u8,
        options: u8,
        data: Bytes,
    },
    /// 0x8B: how a transmit went; `delivery` 0 is success.
    TransmitStatus {
        frame_id: u8,
        dest16: u16,
        retries: u8,
        delivery: u8,
        discovery: u8,
    },
    /// 0x90: RF data from a node.
    Receive {
        src64: u64,
        src16: u16,
        options: u8,
        data: Bytes,
    },
    /// Any other frame type, kept whole so callers can log it.
    Other { frame_type: u8, data: Bytes },
}

/// Why bytes on the line were not a frame. Each error consumed at least one
/// byte, so calling the decoder again makes progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Bytes before a start delimiter.
    #[error("{0} bytes of noise before a frame")]
    Noise(usize),
    /// A length of zero or over the limit.
    #[error("frame length {0} out of range")]
    BadLength(usize),
    /// The checksum does not match.
    #[error("bad checksum")]
    BadChecksum,
    /// A new delimiter arrived before the frame was complete (mode 2).
    #[error("frame cut short by a new start delimiter")]
    Truncated,
    /// A known frame type too short for its fields.
    #[error("frame type {0:#04x} too short for its fields")]
    Malformed(u8),
}

/// The description of a Transmit Status delivery code, for log lines.
pub fn delivery_name(code: u8) -> &'static str {
    match code {
        0x00 => "success",
        0x01 => "no MAC ACK",
        0x02 => "CCA failure",
        0x15 => "invalid destination endpoint",
        0x21 => "network ACK failure",
        0x22 => "not joined to network",
        0x23 => "self-addressed",
        0x24 => "address not found",
        0x25 => "route not found",
        0x74 => "payload too large",
        _ => "other failure",
    }
}

/// The description of a Modem Status code, for log lines.
pub fn modem_status_name(code: u8) -> &'static str {
    match code {
        0x00 => "hardware reset",
        0x01 => "watchdog reset",
        0x02 => "joined network",
        0x03 => "disassociated",
        0x06 => "coordinator started",
        0x07 => "network security key updated",
        0x0D => "voltage supply limit exceeded",
        _ => "other status",
    }
}

/// Decodes one frame from the front of `buf`, consuming it.
///
/// `Ok(None)` while `buf` holds less than a whole frame (nothing consumed
/// but leading noise is reported first). Every `Err` consumed bytes.
pub fn decode(buf: &mut BytesMut, mode: ApiMode) -> Result<Option<Frame>, FrameError> {
    match buf.iter().position(|&b| b == START) {
        None if buf.is_empty() => return Ok(None),
        None => {
            let n = buf.len();
            buf.clear();
            return Err(FrameError::Noise(n));
        }
        Some(0) => {}
        Some(n) => {
            buf.advance(n);
            return Err(FrameError::Noise(n));
        }
    }
    let whole = match mode {
        ApiMode::Plain => plain_frame(buf)?,
        ApiMode::Escaped => escaped_frame(buf)?,
    };
    let Some((data, consumed)) = whole else {
        return Ok(None);
    };
    buf.advance(consumed);
    Frame::parse(data).map(Some)
}

/// Mode 1: the frame data and the bytes it took, once whole and checked.
fn plain_frame(buf: &mut BytesMut) -> Result<Option<(Bytes, usize)>, FrameError> {
    if buf.len() < 3 {
        return Ok(None);
    }
    let len = usize::from(u16::from_be_bytes([buf[1], buf[2]]));
    check_length(buf, len)?;
    if buf.len() < len + 4 {
        return Ok(None);
    }
    let data = &buf[3..3 + len];
    if checksum(data) != buf[3 + len] {
        buf.advance(1);
        return Err(FrameError::BadChecksum);
    }
    Ok(Some((Bytes::copy_from_slice(data), len + 4)))
}

/// Mode 2: unescapes as far as the frame goes; a raw 0x7E inside cuts it short.
fn escaped_frame(buf: &mut BytesMut) -> Result<Option<(Bytes, usize)>, FrameError> {
    let mut out: Vec<u8> = Vec::with_capacity(64);
    let mut want = 2; // the length field first
    let mut i = 1;
    while out.len() < want {
        let Some(&byte) = buf.get(i) else {
            return Ok(None);
        };
        let value = match byte {
            START => {
                buf.advance(i);
                return Err(FrameError::Truncated);
            }
            ESCAPE => match buf.get(i + 1) {
                None => return Ok(None),
                Some(&START) => {
                    buf.advance(i + 1);
                    return Err(FrameError::Truncated);
                }
                Some(&next) => {
                    i += 1;
                    next ^ 0x20
                }
            },
            plain => plain,
        };
        i += 1;
        out.push(value);
        if out.len() == 2 {
            let len = usize::from(u16::from_be_bytes([out[0], out[1]]));
            check_length(buf, len)?;
            want = 2 + len + 1;
        }
    }
    let data = &out[2..want - 1];
    if checksum(data) != out[want - 1] {
        buf.advance(1);
        return Err(FrameError::BadChecksum);
    }
    Ok(Some((Bytes::copy_from_slice(data), i)))
}

/// Rejects an impossible length, skipping the delimiter it came with.
fn check_length(buf: &mut BytesMut, len: usize) -> Result<(), FrameError> {
    if len == 0 || len > MAX_FRAME_DATA {
        buf.advance(1);
        return Err(FrameError::BadLength(len));
    }
    Ok(())
}

/// `0xFF - (sum & 0xFF)` over the unescaped frame data.
pub fn checksum(data: &[u8]) -> u8 {
    0xFF - data.iter().fold(0u8, |sum, &b| sum.wrapping_add(b))
}

/// Appends `frame` to `out` as it goes on the wire in `mode`.
pub fn encode(frame: &Frame, mode: ApiMode, out: &mut BytesMut) {
    let mut data = BytesMut::with_capacity(32);
    frame.write_data(&mut data);
    let len = u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes();
    let sum = checksum(&data);
    out.put_u8(START);
    for &byte in len.iter().chain(data.iter()).chain([sum].iter()) {
        match mode {
            ApiMode::Escaped if matches!(byte, START | ESCAPE | 0x11 | 0x13) => {
                out.put_u8(ESCAPE);
                out.put_u8(byte ^ 0x20);
            }
            _ => out.put_u8(byte),
        }
    }
}

impl Frame {
    /// Reads the frame data (type byte first) of a checked frame.
    pub fn parse(mut data: Bytes) -> Result<Self, FrameError> {
        if data.is_empty() {
            return Err(FrameError::Malformed(0));
        }
        let frame_type = data.get_u8();
        let need = match frame_type {
            0x08 => 3,
            0x88 => 4,
            0x8A => 1,
            0x10 => 13,
            0x8B => 6,
            0x90 => 11,
            _ => 0,
        };
        if data.len() < need {
            return Err(FrameError::Malformed(frame_type));
        }
        Ok(match frame_type {
            0x08 => Self::AtCommand {
                frame_id: data.get_u8(),
                command: [data.get_u8(), data.get_u8()],
                param: data,
            },
            0x88 => Self::AtResponse {
                frame_id: data.get_u8(),
                command: [data.get_u8(), data.get_u8()],
                status: data.get_u8(),
                data,
            },
            0x8A => Self::ModemStatus(data.get_u8()),
            0x10 => Self::Transmit {
                frame_id: data.get_u8(),
                dest64: data.get_u64(),
                dest16: data.get_u16(),
                radius: data.get_u8(),
                options: data.get_u8(),
                data,
            },
            0x8B => Self::TransmitStatus {
                frame_id: data.get_u8(),
                dest16: data.get_u16(),
                retries: data.get_u8(),
                delivery: data.get_u8(),
                discovery: data.get_u8(),
            },
            0x90 => Self::Receive {
                src64: data.get_u64(),
                src16: data.get_u16(),
                options: data.get_u8(),
                data,
            },
            _ => Self::Other { frame_type, data },
        })
    }

    /// Writes the frame data: the type byte and the fields.
    fn write_data(&self, out: &mut BytesMut) {
        match self {
            Self::AtCommand {
                frame_id,
                command,
                param,
            } => {
                out.put_slice(&[0x08, *frame_id, command[0], command[1]]);
                out.put_slice(param);
            }
            Self::AtResponse {
                frame_id,
                command,
                status,
                data,
            } => {
                out.put_slice(&[0x88, *frame_id, command[0], command[1], *status]);
                out.put_slice(data);
            }
            Self::ModemStatus(status) => out.put_slice(&[0x8A, *status]),
            Self::Transmit {
                frame_id,
                dest64,
                dest16,
                radius,
                options,
                data,
            } => {
                out.put_slice(&[0x10, *frame_id]);
                out.put_u64(*dest64);
                out.put_u16(*dest16);
                out.put_slice(&[*radius, *options]);
                out.put_slice(data);
            }
            Self::TransmitStatus {
                frame_id,
                dest16,
                retries,
                delivery,
                discovery,
            } => {
                out.put_slice(&[0x8B, *frame_id]);
                out.put_u16(*dest16);
                out.put_slice(&[*retries, *delivery, *discovery]);
            }
            Self::Receive {
                src64,
                src16,
                options,
                data,
            } => {
                out.put_u8(0x90);
                out.put_u64(*src64);
                out.put_u16(*src16);
                out.put_u8(*options);
                out.put_slice(data);
            }
            Self::Other { frame_type, data } => {
                out.put_u8(*frame_type);
                out.put_slice(data);
            }
        }
    }
}

#[cfg(test)]
#[path = "xbee_tests.rs"]
mod tests;
