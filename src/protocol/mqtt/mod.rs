//! MQTT 3.1, 3.1.1 and 5.0 packets and their codec.
//!
//! # Layout
//!
//! ```text
//! packet        the values: Packet and one struct per packet kind
//! properties    the 5.0 property set, and reading/writing it per packet scope
//! error         DecodeError (with its v5 reason code) and EncodeError
//! decode        decode(): one packet from the front of a buffer, or Ok(None)
//! encode        encode(): measure, reserve once, write once
//! fixed_header  packet type, flags, remaining length
//! primitives    integers, variable byte integers, strings, binary data
//! connect       CONNECT, CONNACK
//! publish       PUBLISH
//! ack           PUBACK, PUBREC, PUBREL, PUBCOMP
//! subscribe     SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK
//! disconnect    DISCONNECT, AUTH
//! ```

mod ack;
#[cfg(test)]
mod arbitrary;
mod connect;
mod decode;
mod disconnect;
mod encode;
mod error;
mod fixed_header;
mod packet;
mod primitives;
mod properties;
#[cfg(test)]
mod proptests;
mod publish;
mod subscribe;
#[cfg(test)]
mod testing;

pub use decode::decode;
pub use encode::encode;
pub use error::{DecodeError, EncodeError};
pub use packet::*;
pub use properties::Properties;
