//! Listeners: sockets in, sessions out. No MQTT logic lives here.
//!
//! `tcp` (MQTT over TCP), `http` (the HTTP listener: a page, and `ws`, MQTT
//! over WebSocket), `tls` (the same over TLS, and the certificates), `udp`
//! (MQTT-SN sockets), `limit` (connections counted across listeners), `rate`
//! (new connections per second per address), `workers` (the threads
//! sessions run on).

pub mod http;
pub mod limit;
pub mod rate;
pub mod serial;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod workers;
pub mod ws;
