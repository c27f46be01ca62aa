//! The `Outbox`: one per link thread, it hands the publications of every
//! client on that thread to the broker in one message per turn of the
//! thread's event loop, then sends the acknowledgements the broker's answer
//! decides.
//!
//! Why: a datagram carries one message, so a message per publication meant
//! a cross-thread wake-up of the broker per datagram, and a TCP write per
//! datagram to each subscriber. Gathered over a turn (the datagrams one
//! wake-up of the socket brought), the broker and the subscribers are woken
//! once per batch. A node's PUBACK still waits for the broker to take its
//! message, so "accepted" keeps meaning accepted and "congestion" still
//! reaches the node when the broker is full.
//!
//! Order: a client's other messages to the broker (SUBSCRIBE, DISCONNECT, a
//! will update) must not overtake its publications, so whoever sends one
//! first calls [`Outbox::flush`].

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use actix::Addr;
use tracing::debug;

use super::Counters;
use super::client::Receipt;
use super::datagram::{ClientAddr, Datagram, DatagramSink};
use crate::broker::Broker;
use crate::broker::messages::Publish;
use crate::broker::publication::Publication;
use crate::protocol::mqttsn::Ctrl;

/// Shared by a link and its clients; they all run on the link's thread.
#[derive(Clone)]
pub struct Outbox {
    pending: Rc<RefCell<Pending>>,
    broker: Addr<Broker>,
    sink: Arc<dyn DatagramSink>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Pending {
    publications: Vec<Publication>,
    /// The answers owed for QoS 1 publications of the batch.
    replies: Vec<Reply>,
    /// QoS 0 and −1 publications in the batch: counted when it is dropped.
    unacknowledged: u64,
    flush_scheduled: bool,
}

/// Who is owed an answer for a publication, and which.
pub struct Reply {
    pub addr: ClientAddr,
    pub ctrl: Ctrl,
    pub receipt: Receipt,
}

impl Outbox {
    /// An empty outbox for the current thread.
    pub fn new(broker: Addr<Broker>, sink: Arc<dyn DatagramSink>, counters: Arc<Counters>) -> Self {
        Self {
            pending: Rc::default(),
            broker,
            sink,
            counters,
        }
    }

    /// Adds a publication to this turn's batch; the batch goes to the broker
    /// once the tasks already woken on this thread have run.
    pub fn push(&self, publication: Publication, reply: Option<Reply>) {
        let schedule = {
            let mut pending = self.pending.borrow_mut();
            pending.publications.push(publication);
            match reply {
                Some(reply) => pending.replies.push(reply),
                None => pending.unacknowledged += 1,
            }
            !std::mem::replace(&mut pending.flush_scheduled, true)
        };
        if schedule {
            let outbox = self.clone();
            // Queued behind the tasks this turn already woke (the other
            // clients the same socket read is for), so their publications join.
            actix::spawn(async move { outbox.flush() });
        }
    }

    /// Hands the batch to the broker now, without waiting: a full broker
    /// mailbox drops QoS 0 and −1 and answers QoS 1/2 with congestion.
    pub fn flush(&self) {
        let batch = {
            let mut pending = self.pending.borrow_mut();
            pending.flush_scheduled = false;
            if pending.publications.is_empty() {
                return;
            }
            std::mem::take(&mut *pending)
        };
        let accepted = self.broker.try_send(Publish(batch.publications)).is_ok();
        if !accepted {
            Counters::add(&self.counters.dropped, batch.unacknowledged);
            Counters::add(&self.counters.congested, batch.replies.len() as u64);
            debug!(
                dropped = batch.unacknowledged,
                congested = batch.replies.len(),
                "broker busy, publications refused"
            );
        }
        let answers: Vec<Datagram> = batch
            .replies
            .iter()
            .filter_map(|reply| {
                let message = if accepted {
                    reply.receipt.accepted()
                } else {
                    reply.receipt.congested()
                }?;
                let payload = super::frame(&reply.addr, reply.ctrl, &message)?;
                Some(Datagram {
                    peer: reply.addr.peer.clone(),
                    payload,
                })
            })
            .collect();
        let failed = self.sink.send_all(&answers);
        if failed > 0 {
            Counters::add(&self.counters.send_failures, failed as u64);
            debug!(failed, "answers not sent");
        }
    }
}
