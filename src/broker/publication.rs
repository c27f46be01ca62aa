//! What travels through the broker: one application message, shared by every subscriber.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use bytestring::ByteString;

use crate::protocol::mqtt::{Properties, QoS};

/// Identifies a session (a client id's state) inside the broker. Not reused
/// while the process runs, so a stale key can never reach another client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey(pub u64);

/// Identifies one network connection. A session outlives its connections; the
/// broker ignores messages from a connection that no longer owns its session
/// (after a takeover), so late events from a dying connection change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(pub u64);

impl ConnId {
    /// A process-unique connection id.
    pub fn next() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// An application message as published, with the properties the broker forwards.
///
/// Built once per incoming PUBLISH and shared as `Arc<Publication>` by every
/// subscriber's queue, so neither topic nor payload is copied per subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5 properties forwarded to subscribers (payload format, content type,
    /// response topic, correlation data, user properties); `None` when there
    /// are none, as for most messages, so a queued message costs no room for
    /// them. Topic alias, subscription identifiers and message expiry are per
    /// delivery and never stored here.
    pub properties: Option<Box<Properties>>,
    /// When the message expires (MQTT 5 message expiry interval); never for `None`.
    pub expires_at: Option<Instant>,
    /// The session that published it, for the no-local subscription option.
    pub origin: Option<SessionKey>,
}

impl Publication {
    /// What to keep of a PUBLISH's or will's `properties` (see the field).
    pub fn forwarded(mut properties: Properties) -> Option<Box<Properties>> {
        properties.topic_alias = None;
        properties.subscription_identifiers.clear();
        properties.message_expiry_interval = None;
        properties.will_delay_interval = None;
        (properties != Properties::default()).then(|| Box::new(properties))
    }

    /// True once the message expiry interval has passed.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whole seconds left before expiry, as sent in a forwarded message's expiry property.
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now).as_secs();
            u32::try_from(left).unwrap_or(u32::MAX).max(1)
        })
    }
}

/// One publication on its way to one subscriber, at the QoS and with the flags
/// that subscriber's matching subscriptions decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub publication: Arc<Publication>,
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5 subscription identifiers of every matching subscription.
    pub subscription_ids: Vec<u32>,
}
