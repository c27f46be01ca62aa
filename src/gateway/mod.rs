//! The MQTT-SN v1.2 gateway: sensor nodes become clients of the in-process broker.
//!
//! # Layout
//!
//! ```text
//! datagram    Peer, Datagram, ClientAddr; a link's transport (UDP here; radios later)
//! link        SnLink: one actor per transport; decodes, routes by client address,
//!             answers what needs no client (SEARCHGW, QoS −1, strangers)
//! discovery   ADVERTISE and GWINFO, and the GWINFO rate limit
//! outbox      a link thread's publications, handed to the broker once per turn
//! client      the pure per-client state machine (sleep, topic ids, retries, will flow)
//! sn_client   SnClient: one actor per client, wrapping the state machine; talks
//!             to the broker exactly as an MqttSession does
//! topics      predefined ids, per-client topic tables, tables kept for persistent sessions
//! admission   the [mqttsn.clients] allow-list and the ACL for SN clients
//! ```
//!
//! Backpressure: datagram transports cannot push back. When the broker's
//! mailbox is full, QoS 0 and −1 publishes are dropped (and counted) and QoS
//! 1/2 ones are answered with PUBACK "congestion" (0x01), so the node retries.
//! A client whose mailbox is full loses the datagram, as the network might.

pub mod admission;
pub mod client;
pub mod datagram;
pub mod discovery;
pub mod link;
pub mod outbox;
pub mod sn_client;
pub mod topics;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::Addr;
use bytes::{Bytes, BytesMut};
use tracing::debug;

use self::client::ClientConfig;
use self::datagram::{ClientAddr, Datagram, DatagramSink};
use self::topics::{PredefinedTopics, TopicRegistry};
use crate::broker::Broker;
use crate::protocol::mqttsn::{self, Ctrl, Encapsulated, Message};
use crate::settings::Settings;
use crate::transport::limit::ConnectionLimit;

/// Gateway-wide settings, from `[mqttsn]` and the broker settings that apply.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub gateway_id: u8,
    /// Time between ADVERTISE messages; zero sends none.
    pub advertise_interval: Duration,
    pub allow_qos_minus_one: bool,
    /// Bound of each client's session queue, asleep or not.
    pub max_sleep_buffer: usize,
    /// Session expiry given to clients with clean session off.
    pub max_session_expiry: u32,
    /// Larger datagrams are dropped unread.
    pub max_datagram: usize,
    pub client: ClientConfig,
}

impl GatewayConfig {
    /// The gateway's part of `settings`.
    pub fn from_settings(settings: &Settings) -> Self {
        let sn = &settings.mqttsn;
        Self {
            gateway_id: sn.gateway_id,
            advertise_interval: Duration::from_secs(u64::from(sn.advertise_interval)),
            allow_qos_minus_one: sn.allow_qos_minus_one,
            max_sleep_buffer: sn.max_sleep_buffer,
            max_session_expiry: settings.mqtt.max_session_expiry,
            max_datagram: usize::try_from(settings.limits.max_packet_size).unwrap_or(usize::MAX),
            client: ClientConfig {
                t_retry: sn.t_retry,
                t_wait: sn.t_wait,
                n_retry: sn.n_retry,
                predefined: Arc::new(PredefinedTopics::new(
                    &sn.predefined_topics,
                    &sn.client_predefined_topics,
                )),
            },
        }
    }
}

/// What the gateway dropped or refused, since it started. Logged at debug
/// level as it happens; the totals are for diagnostics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Datagrams that are not one valid MQTT-SN message.
    pub bad_datagrams: AtomicU64,
    /// QoS 0 and −1 publishes dropped (broker busy, unknown topic, QoS −1 off),
    /// and datagrams dropped for a client whose mailbox was full.
    pub dropped: AtomicU64,
    /// QoS 1/2 publishes answered with "congestion".
    pub congested: AtomicU64,
    /// SEARCHGW left unanswered by the rate limit.
    pub gwinfo_suppressed: AtomicU64,
    /// CONNECTs refused because `max_clients` clients are connected.
    pub clients_refused: AtomicU64,
    /// Datagrams the transport would not send.
    pub send_failures: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What every link and client of the gateway shares.
#[derive(Clone)]
pub struct Gateway {
    pub broker: Addr<Broker>,
    pub config: Arc<GatewayConfig>,
    pub counters: Arc<Counters>,
    pub registry: TopicRegistry,
    /// `max_clients`, over every link.
    pub clients: ConnectionLimit,
    /// Which clients are admitted, and the ACL they are held to.
    pub admission: Arc<admission::Admission>,
}

/// Encodes `message` for the client at `addr`: inside a forwarder
/// encapsulation with the node id it came with, when it came through one.
pub fn frame(addr: &ClientAddr, ctrl: Ctrl, message: &Message) -> Option<Bytes> {
    let mut buf = BytesMut::new();
    let encoded = match &addr.node {
        Some(node_id) => mqttsn::encode(
            &Message::Encapsulated(Box::new(Encapsulated {
                ctrl,
                node_id: node_id.clone(),
                message: message.clone(),
            })),
            &mut buf,
        ),
        None => mqttsn::encode(message, &mut buf),
    };
    match encoded {
        Ok(_) => Some(buf.freeze()),
        Err(error) => {
            debug!(%error, "cannot encode MQTT-SN message");
            None
        }
    }
}

/// Sends `message` to `addr` through `sink`; a failure is counted, not fatal.
pub fn send(
    sink: &dyn DatagramSink,
    counters: &Counters,
    addr: &ClientAddr,
    ctrl: Ctrl,
    message: &Message,
) {
    let Some(payload) = frame(addr, ctrl, message) else {
        return;
    };
    let datagram = Datagram {
        peer: addr.peer.clone(),
        payload,
    };
    if let Err(error) = sink.send(&datagram) {
        Counters::bump(&counters.send_failures);
        debug!(peer = %addr, %error, "datagram not sent");
    }
}
