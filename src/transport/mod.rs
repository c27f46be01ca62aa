//! Listeners: sockets in, sessions out. No protocol logic lives here.

pub mod limit;
pub mod tcp;
pub mod udp;
pub mod workers;
