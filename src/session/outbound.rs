//! From the session queue to PUBLISH packets: the inflight window, MQTT 5
//! per-subscriber properties, the client's maximum packet size, and
//! redelivery of unacknowledged messages on a resumed session.

use std::time::Instant;

use actix::prelude::*;
use bytes::BytesMut;
use tracing::debug;

use super::outlet::HIGH_WATER;
use super::state::{SessionState, Stage};
use super::{Live, MqttSession, Phase};
use crate::broker::publication::Delivery;
use crate::protocol::mqtt::{self, Ack, Packet, PacketId, Properties, ProtocolVersion, Publish};

impl MqttSession {
    /// Moves queued messages into the write buffer and writes them, as far as
    /// the inflight window allows; in rounds of at most [`HIGH_WATER`] bytes so
    /// a long backlog never sits in memory twice.
    pub(super) fn drain(&mut self, ctx: &mut Context<Self>) {
        while self.fill_from_queue() {
            // The buffer reached its high-water mark: write it before taking more.
            // When the transport is full, `FlushWhenWritable` drains again later.
            if self.flushing || !self.flush(ctx) {
                return;
            }
        }
        self.flush(ctx);
    }

    /// Encodes queued messages until the queue, the window or the buffer's
    /// high-water mark stops it; true when the high-water mark did.
    fn fill_from_queue(&mut self) -> bool {
        if self.closing {
            return false;
        }
        let version = self.version;
        let conn_id = self.conn_id;
        let Phase::Connected(live) = &mut self.phase else {
            return false;
        };
        let shared = live.state.clone();
        let mut state = shared.lock();
        if !state.is_owned_by(conn_id) {
            return false;
        }
        state.woken();
        let now = Instant::now();
        while self.outlet.pending() < HIGH_WATER {
            let Some((packet_id, delivery)) = state.next_to_send(live.terms.window, now) else {
                return false;
            };
            write_delivery(
                live,
                version,
                self.outlet.buffer(),
                packet_id,
                &delivery,
                false,
                now,
                &mut state,
            );
        }
        true
    }

    /// Resends, in order, what a resumed session left unacknowledged:
    /// PUBLISH with DUP set, or PUBREL (MQTT 3.1.1 §4.4, 5.0 §4.4).
    pub(super) fn resend_inflight(&mut self) {
        let version = self.version;
        let Phase::Connected(live) = &mut self.phase else {
            return;
        };
        let shared = live.state.clone();
        let mut state = shared.lock();
        let now = Instant::now();
        let resend: Vec<_> = state
            .inflight()
            .map(|i| (i.packet_id, i.stage, i.delivery.clone()))
            .collect();
        for (packet_id, stage, delivery) in resend {
            let buf = self.outlet.buffer();
            if stage == Stage::AwaitingPubComp {
                let _ = mqtt::encode(&Packet::PubRel(Ack::new(packet_id)), version, buf);
            } else {
                write_delivery(
                    live,
                    version,
                    buf,
                    Some(packet_id),
                    &delivery,
                    true,
                    now,
                    &mut state,
                );
            }
        }
    }
}

/// Encodes one delivery. A message larger than the client's Maximum Packet
/// Size is discarded as if it had been delivered (MQTT 5.0 §3.1.2.11.4).
#[allow(clippy::too_many_arguments)]
fn write_delivery(
    live: &mut Live,
    version: ProtocolVersion,
    buf: &mut BytesMut,
    packet_id: Option<PacketId>,
    delivery: &Delivery,
    dup: bool,
    now: Instant,
    state: &mut SessionState,
) {
    let publication = &delivery.publication;
    let mut new_alias = false;
    let (topic, properties) = if version.is_v5() {
        let (topic, alias) = live.aliases_out.apply(&publication.topic);
        new_alias = alias.is_some() && !topic.is_empty();
        let mut properties = publication
            .properties
            .as_deref()
            .cloned()
            .unwrap_or_default();
        properties.topic_alias = alias;
        properties
            .subscription_identifiers
            .clone_from(&delivery.subscription_ids);
        properties.message_expiry_interval = publication.remaining_expiry(now);
        (topic, properties)
    } else {
        (publication.topic.clone(), Properties::default())
    };
    let packet = Packet::Publish(Publish {
        dup,
        qos: delivery.qos,
        retain: delivery.retain,
        topic,
        packet_id,
        properties,
        payload: publication.payload.clone(),
    });
    let start = buf.len();
    let fits = match mqtt::encode(&packet, version, buf) {
        Ok(written) => written as u64 <= u64::from(live.terms.max_packet_out),
        Err(_) => false,
    };
    if !fits {
        buf.truncate(start);
        if new_alias {
            live.aliases_out.revoke_last(&publication.topic);
        }
        debug!(topic = %publication.topic, "message larger than the client accepts, discarded");
        if let Some(id) = packet_id {
            state.puback(id);
            state.pubrec_failed(id);
        }
    }
}
