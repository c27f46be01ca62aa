//! The messages the broker actor accepts, and the one it sends back to connections.
//!
//! Sessions (`MqttSession`, and later MQTT-SN clients) use these and nothing
//! else, so every kind of client looks the same to the broker.

use actix::prelude::*;
use bytestring::ByteString;

use super::publication::{ConnId, Publication, SessionKey};
use super::router::{Attached, ConnectRequest, Departure, Subscription, Will};
use crate::protocol::mqtt::ReasonCode;

/// A connection wants its session. Sent with `send` (the CONNACK waits for it).
#[derive(Message)]
#[rtype(result = "Attached")]
pub struct Connect(pub ConnectRequest<Recipient<ToConnection>>);

/// A connection ended. Sent with `do_send` from the connection's `stopped`, so
/// it arrives even when the connection's mailbox is gone.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Disconnected {
    pub key: SessionKey,
    pub conn_id: ConnId,
    pub how: Departure,
    /// A new session expiry interval from a v5 DISCONNECT.
    pub expiry: Option<u32>,
}

/// A connection replaces its will (MQTT-SN WILLTOPICUPD/WILLMSGUPD); `None`
/// deletes it. Sent with `do_send`; ignored unless `conn_id` owns the session.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SetWill {
    pub key: SessionKey,
    pub conn_id: ConnId,
    pub will: Option<Will>,
}

/// Publications decoded from one read of a connection, in order. Batching per
/// read keeps the broker's per-message overhead low under load. Sent with
/// `try_send`, falling back to a waiting `send` (which pauses the connection's
/// reads: TCP flow control then pushes back on the publisher).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Publish(pub Vec<Publication>);

/// Add subscriptions; answers one reason code per filter. Retained messages
/// are queued for the session before the answer, and sent after the SUBACK.
#[derive(Debug, Message)]
#[rtype(result = "Vec<ReasonCode>")]
pub struct Subscribe {
    pub key: SessionKey,
    pub filters: Vec<(ByteString, Subscription)>,
}

/// Remove subscriptions; answers one reason code per filter.
#[derive(Debug, Message)]
#[rtype(result = "Vec<ReasonCode>")]
pub struct Unsubscribe {
    pub key: SessionKey,
    pub filters: Vec<ByteString>,
}

/// The server is stopping: close every connection with `reason`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// What the broker tells a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub enum ToConnection {
    /// Messages are waiting in the session queue.
    Wake,
    /// Close the connection with this reason (takeover, slow consumer, shutdown).
    Kick(ReasonCode),
}
