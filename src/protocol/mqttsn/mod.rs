//! MQTT-SN v1.2 messages and their codec, forwarder encapsulation included.
//!
//! One datagram (UDP, or a frame from a serial radio) carries exactly one
//! message, so `decode` takes a whole datagram and never waits for more.
//!
//! # Layout
//!
//! ```text
//! packet   the values: Message, one struct per message with fields, ReturnCode, Topic
//! flags    the flags octet: Flags, QoS (with −1), TopicIdType
//! error    DecodeError and EncodeError
//! header   MsgType, and the 1- and 3-octet Length forms
//! decode   decode(): one datagram in, one Message out
//! encode   encode(): measure, reserve once, write once
//! ```

#[cfg(test)]
mod arbitrary;
mod decode;
mod encode;
mod error;
mod flags;
mod header;
mod packet;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod vectors;

pub use decode::decode;
pub use encode::encode;
pub use error::{DecodeError, EncodeError};
pub use flags::{Flags, QoS, TopicIdType};
pub use header::MsgType;
pub use packet::*;
