//! wren: a home gateway for sensor radios.
//!
//! One process that is an MQTT broker (3.1, 3.1.1 and 5.0 over TCP, and over
//! WebSocket for browser dashboards) and an MQTT-SN v1.2 gateway for sensor
//! nodes over UDP; as the project grows, serial radio links.
//!
//! # Layout
//!
//! ```text
//! protocol/   sans-IO: bytes in, values out (no actix, tokio, tracing or clocks)
//!   topic       topic names and filters: validation and matching
//!   mqtt/       MQTT 3.1 / 3.1.1 / 5.0 packets, decode, encode, v5 properties
//!   mqttsn/     MQTT-SN 1.2 messages, decode, encode, forwarder encapsulation
//!   http        HTTP/1.1 request heads in, responses out
//!   websocket   the WebSocket handshake for MQTT: subprotocols, origins
//!   radio/      serial radio framings: XBee API, SLIP + CRC-16, RAK3172 and REYAX AT lines
//! auth/       who may connect, publish and subscribe: password file (Argon2id),
//!             ACL matcher, anonymous policy; one snapshot swapped on SIGHUP
//! broker/     the Broker actor: one owner of sessions, subscriptions and retained messages
//!   router      the pure routing core the actor delegates to
//! session/    the MqttSession actor: one per connection, transport-agnostic
//! gateway/    the MQTT-SN gateway: SnLink per datagram transport, SnClient per
//!             client around a pure state machine (sleep, topic ids, retries)
//! radio/      serial radio links as datagram transports for SnLink: XBee, RAK3172,
//!             REYAX, SLIP bridge; probes, transmit pacing and status per node
//! transport/  listeners: sockets in, sessions out; no MQTT logic
//!   tcp         MQTT over TCP
//!   http        the HTTP listener: a page at `/`, WebSocket upgrades at `[http] ws_path`
//!   ws          WebSocket frames <-> a session's byte stream (tokio-tungstenite)
//!   serial      serial ports: open without touching DTR, reopen with backoff
//!   tls         the TLS listeners (MQTT, HTTPS/WSS) and their certificates (rustls)
//! settings    typed configuration: embedded defaults < user file < WREN__* environment
//! app         starts everything and shuts it down cleanly
//! ```
//!
//! Data flows one way per direction: a connection's bytes are decoded on the
//! session's worker thread, the decoded publication goes to the broker actor,
//! which matches subscriptions and hands each subscriber's session an
//! `Arc` of the same publication; the payload is never copied per subscriber.

pub mod app;
pub mod auth;
pub mod broker;
pub mod gateway;
pub mod protocol;
pub mod radio;
pub mod session;
pub mod settings;
pub mod transport;
