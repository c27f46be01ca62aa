//! MQTT 3.1, 3.1.1 and 5.0 packets and their codec.
//!
//! `packet` holds the values, `decode` reads them from the front of a buffer,
//! `encode` writes them with exact sizes, `properties` is the 5.0 property set.

mod decode;
mod encode;
mod error;
mod fixed_header;
mod packet;
mod primitives;
mod properties;

pub use decode::decode;
pub use encode::encode;
pub use error::{DecodeError, EncodeError};
pub use packet::*;
pub use properties::Properties;
