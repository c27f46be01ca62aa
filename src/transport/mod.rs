//! Listeners: sockets in, sessions out. No MQTT logic lives here.
//!
//! `tcp` (MQTT over TCP), `http` (the HTTP listener: a page, and `ws`, MQTT
//! over WebSocket), `udp` (MQTT-SN sockets), `limit` (connections counted
//! across listeners), `workers` (the threads sessions run on).

pub mod http;
pub mod limit;
pub mod serial;
pub mod tcp;
pub mod udp;
pub mod workers;
pub mod ws;
