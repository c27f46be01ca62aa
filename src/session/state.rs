//! The state of one MQTT session that must outlive its network connection:
//! messages waiting to be sent, messages sent and not yet acknowledged, and the
//! QoS 2 packet ids the client has sent and not yet released.
//!
//! The broker owns it (one per session) and shares it with whichever
//! connection currently serves the session, behind a mutex: the broker pushes
//! deliveries in, the connection takes them out and acknowledges them. Because
//! the queue lives here and not in an actor mailbox, nothing is lost when a
//! connection drops or is taken over: the next connection finds the same queue
//! and redelivers the unacknowledged messages with DUP (MQTT 3.1.1 §4.4).
//! Pure: no actix, no clock of its own (time is passed in).

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::broker::publication::{ConnId, Delivery};
use crate::protocol::mqtt::{PacketId, QoS};

/// A session state shared between the broker and the connection serving it.
pub type SharedSessionState = Arc<Mutex<SessionState>>;

/// Where an outgoing QoS 1 or 2 message stands in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// QoS 1 PUBLISH sent, waiting for PUBACK.
    AwaitingPubAck,
    /// QoS 2 PUBLISH sent, waiting for PUBREC.
    AwaitingPubRec,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitingPubComp,
}

/// An outgoing message holding a packet id until its handshake completes.
#[derive(Debug, Clone)]
pub struct Inflight {
    pub packet_id: PacketId,
    pub stage: Stage,
    pub delivery: Delivery,
}

/// What became of a delivery handed to [`SessionState::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; `wake` says the connection must be told (it was not already).
    Queued { wake: bool },
    /// The queue was full and the message was QoS 0: dropped.
    Dropped,
    /// The queue was full and the message was QoS 1 or 2: the subscriber is
    /// too slow; the caller decides (disconnect it, or drop while offline).
    Overflow,
}

/// What an acknowledgement from the client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acked {
    /// It matched an inflight message in the expected stage.
    Done,
    /// No inflight message with that packet id and stage (v5 reason 0x92).
    Unknown,
}

/// Queue, inflight window and QoS 2 receive state of one session.
#[derive(Debug)]
pub struct SessionState {
    owner: Option<ConnId>,
    queue: VecDeque<Delivery>,
    inflight: VecDeque<Inflight>,
    /// The packet ids in `inflight`, so allocating one is not a scan of the window.
    ids_in_use: PacketIdSet,
    incoming_qos2: HashSet<u16>,
    next_packet_id: u16,
    max_queued: usize,
    /// When full: make room by dropping a queued QoS 0 message, else drop the
    /// new one, and never report `Overflow` (see [`Self::hold_for_sleeper`]).
    never_overflow: bool,
    wake_pending: bool,
    dropped: u64,
}

impl SessionState {
    /// An empty state whose queue holds at most `max_queued` messages.
    pub fn new(max_queued: usize) -> Self {
        Self {
            owner: None,
            queue: VecDeque::new(),
            inflight: VecDeque::new(),
            ids_in_use: PacketIdSet::default(),
            incoming_qos2: HashSet::new(),
            next_packet_id: 1,
            max_queued,
            never_overflow: false,
            wake_pending: false,
            dropped: 0,
        }
    }

    /// A new shared state.
    pub fn shared(max_queued: usize) -> SharedSessionState {
        Arc::new(Mutex::new(Self::new(max_queued)))
    }

    /// Hands the session to connection `conn`; any other connection's calls
    /// to [`Self::is_owned_by`] now answer false.
    pub fn set_owner(&mut self, conn: Option<ConnId>) {
        self.owner = conn;
        self.wake_pending = false;
    }

    /// True while `conn` serves this session. A connection checks it before
    /// taking messages out, so a connection that lost a takeover race sends nothing.
    pub fn is_owned_by(&self, conn: ConnId) -> bool {
        self.owner == Some(conn)
    }

    /// Forgets everything (clean start, or the session ended).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.inflight.clear();
        self.ids_in_use.clear();
        self.incoming_qos2.clear();
        self.wake_pending = false;
    }

    /// Turns the queue into the bounded buffer of an MQTT-SN client, which may
    /// sleep for hours: at most `max` messages; when full, a new QoS 1/2
    /// message replaces the oldest queued QoS 0 one, and with none to replace
    /// the new message is dropped. A full buffer never reports `Overflow`, so
    /// a sleeping sensor is not disconnected as a slow consumer.
    pub fn hold_for_sleeper(&mut self, max: usize) {
        self.max_queued = max;
        self.never_overflow = true;
    }

    /// Queues a delivery for the client.
    pub fn push(&mut self, delivery: Delivery) -> Pushed {
        if self.queue.len() >= self.max_queued && self.never_overflow {
            self.dropped += 1;
            let qos0 = self.queue.iter().position(|d| d.qos == QoS::AtMostOnce);
            match qos0 {
                Some(pos) if delivery.qos != QoS::AtMostOnce => {
                    self.queue.remove(pos);
                }
                _ => return Pushed::Dropped,
            }
        } else if self.queue.len() >= self.max_queued {
            self.dropped += 1;
            return if delivery.qos == QoS::AtMostOnce {
                Pushed::Dropped
            } else {
                Pushed::Overflow
            };
        }
        self.queue.push_back(delivery);
        let wake = !self.wake_pending;
        self.wake_pending = true;
        Pushed::Queued { wake }
    }

    /// Called by the connection when it starts draining after a wake, so the
    /// next push wakes it again.
    pub fn woken(&mut self) {
        self.wake_pending = false;
    }

    /// Messages dropped because the queue was full, since the session began.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Messages waiting for a window slot.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Messages holding a packet id.
    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// Takes the next message to send, if the inflight window (`window` QoS 1/2
    /// messages) allows. QoS 0 messages never wait for the window. Expired
    /// messages are discarded on the way (MQTT 5 §3.3.2.3.3).
    pub fn next_to_send(
        &mut self,
        window: usize,
        now: Instant,
    ) -> Option<(Option<PacketId>, Delivery)> {
        loop {
            let front = self.queue.front()?;
            if front.publication.is_expired(now) {
                self.queue.pop_front();
                continue;
            }
            if front.qos == QoS::AtMostOnce {
                return self.queue.pop_front().map(|d| (None, d));
            }
            if self.inflight.len() >= window {
                return None;
            }
            let packet_id = self.allocate_packet_id()?;
            let delivery = self.queue.pop_front()?;
            let stage = if delivery.qos == QoS::AtLeastOnce {
                Stage::AwaitingPubAck
            } else {
                Stage::AwaitingPubRec
            };
            self.inflight.push_back(Inflight {
                packet_id,
                stage,
                delivery: delivery.clone(),
            });
            return Some((Some(packet_id), delivery));
        }
    }

    /// The unacknowledged messages, oldest first, to resend on a new connection:
    /// PUBLISH with DUP for the first two stages, PUBREL for the third.
    pub fn inflight(&self) -> impl Iterator<Item = &Inflight> {
        self.inflight.iter()
    }

    /// PUBACK received.
    pub fn puback(&mut self, packet_id: PacketId) -> Acked {
        self.complete(packet_id, Stage::AwaitingPubAck)
    }

    /// PUBREC received: the message moves on to PUBREL/PUBCOMP.
    pub fn pubrec(&mut self, packet_id: PacketId) -> Acked {
        match self.inflight.iter_mut().find(|i| i.packet_id == packet_id) {
            Some(entry)
                if entry.stage == Stage::AwaitingPubRec
                    || entry.stage == Stage::AwaitingPubComp =>
            {
                entry.stage = Stage::AwaitingPubComp;
                Acked::Done
            }
            _ => Acked::Unknown,
        }
    }

    /// A PUBREC carrying an error reason (v5): the message is discarded.
    pub fn pubrec_failed(&mut self, packet_id: PacketId) -> Acked {
        self.complete(packet_id, Stage::AwaitingPubRec)
    }

    /// PUBCOMP received.
    pub fn pubcomp(&mut self, packet_id: PacketId) -> Acked {
        self.complete(packet_id, Stage::AwaitingPubComp)
    }

    fn complete(&mut self, packet_id: PacketId, stage: Stage) -> Acked {
        match self
            .inflight
            .iter()
            .position(|i| i.packet_id == packet_id && i.stage == stage)
        {
            Some(pos) => {
                self.inflight.remove(pos);
                self.ids_in_use.remove(&packet_id.get());
                Acked::Done
            }
            None => Acked::Unknown,
        }
    }

    /// A QoS 2 PUBLISH arrived with `packet_id`. Returns true the first time,
    /// when the message must be forwarded; false for a retransmission, which
    /// is only acknowledged again (exactly-once delivery, MQTT 3.1.1 §4.3.3).
    pub fn receive_qos2(&mut self, packet_id: PacketId) -> bool {
        self.incoming_qos2.insert(packet_id.get())
    }

    /// PUBREL received: the packet id may be reused by the client. Returns
    /// false when it was not known (v5 PUBCOMP reason 0x92).
    pub fn release_qos2(&mut self, packet_id: PacketId) -> bool {
        self.incoming_qos2.remove(&packet_id.get())
    }

    /// QoS 2 messages received and not yet released, counted against our receive maximum.
    pub fn incoming_qos2_len(&self) -> usize {
        self.incoming_qos2.len()
    }

    fn allocate_packet_id(&mut self) -> Option<PacketId> {
        // The window is far below 65,535, so a free id is always near.
        for _ in 0..u16::MAX {
            let candidate = PacketId::new(self.next_packet_id);
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            if let Some(id) = candidate
                && self.ids_in_use.insert(id.get())
            {
                return Some(id);
            }
        }
        None
    }
}

/// Packet ids are small integers handed out in sequence: they need no
/// SipHash, their own value spreads them over the table.
type PacketIdSet = HashSet<u16, BuildHasherDefault<PacketIdHasher>>;

#[derive(Default)]
struct PacketIdHasher(u64);

impl Hasher for PacketIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8) | u64::from(*byte);
        }
    }

    fn write_u16(&mut self, id: u16) {
        self.0 = u64::from(id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::broker::publication::Publication;

    fn delivery(qos: QoS, expires_at: Option<Instant>) -> Delivery {
        Delivery {
            publication: Arc::new(Publication {
                topic: "t".into(),
                payload: Bytes::from_static(b"x"),
                qos,
                retain: false,
                properties: None,
                expires_at,
                origin: None,
            }),
            qos,
            retain: false,
            subscription_ids: Vec::new(),
        }
    }

    fn pid(n: u16) -> PacketId {
        PacketId::new(n).unwrap()
    }

    #[test]
    fn first_push_wakes_and_later_pushes_do_not_until_woken() {
        let mut s = SessionState::new(10);
        assert_eq!(
            s.push(delivery(QoS::AtMostOnce, None)),
            Pushed::Queued { wake: true }
        );
        assert_eq!(
            s.push(delivery(QoS::AtMostOnce, None)),
            Pushed::Queued { wake: false }
        );
        s.woken();
        assert_eq!(
            s.push(delivery(QoS::AtMostOnce, None)),
            Pushed::Queued { wake: true }
        );
    }

    #[test]
    fn full_queue_drops_qos0_and_reports_overflow_for_qos1() {
        let mut s = SessionState::new(1);
        s.push(delivery(QoS::AtLeastOnce, None));
        assert_eq!(s.push(delivery(QoS::AtMostOnce, None)), Pushed::Dropped);
        assert_eq!(s.push(delivery(QoS::AtLeastOnce, None)), Pushed::Overflow);
        assert_eq!(s.dropped(), 2);
    }

    #[test]
    fn sleeper_buffer_drops_qos0_first_and_never_overflows() {
        let now = Instant::now();
        let mut s = SessionState::new(10);
        s.hold_for_sleeper(2);
        s.push(delivery(QoS::AtMostOnce, None));
        s.push(delivery(QoS::AtLeastOnce, None));
        assert_eq!(s.push(delivery(QoS::AtMostOnce, None)), Pushed::Dropped);
        assert!(matches!(
            s.push(delivery(QoS::ExactlyOnce, None)),
            Pushed::Queued { .. }
        ));
        assert_eq!(s.push(delivery(QoS::AtLeastOnce, None)), Pushed::Dropped);
        assert_eq!(s.dropped(), 3);
        let kept: Vec<_> = std::iter::from_fn(|| s.next_to_send(10, now))
            .map(|(_, d)| d.qos)
            .collect();
        assert_eq!(kept, [QoS::AtLeastOnce, QoS::ExactlyOnce]);
    }

    #[test]
    fn window_limits_qos1_but_not_qos0() {
        let now = Instant::now();
        let mut s = SessionState::new(10);
        s.push(delivery(QoS::AtLeastOnce, None));
        s.push(delivery(QoS::AtLeastOnce, None));
        s.push(delivery(QoS::AtMostOnce, None));
        let (id, _) = s.next_to_send(1, now).unwrap();
        assert_eq!(id, Some(pid(1)));
        assert!(s.next_to_send(1, now).is_none(), "window of one is full");
        assert_eq!(s.puback(pid(1)), Acked::Done);
        assert_eq!(s.next_to_send(1, now).unwrap().0, Some(pid(2)));
        assert_eq!(s.puback(pid(2)), Acked::Done);
        assert_eq!(
            s.next_to_send(1, now).unwrap().0,
            None,
            "QoS 0 has no packet id"
        );
    }

    #[test]
    fn qos2_handshake_moves_through_stages() {
        let now = Instant::now();
        let mut s = SessionState::new(10);
        s.push(delivery(QoS::ExactlyOnce, None));
        let (id, _) = s.next_to_send(5, now).unwrap();
        let id = id.unwrap();
        assert_eq!(s.pubcomp(id), Acked::Unknown, "PUBCOMP before PUBREC");
        assert_eq!(s.pubrec(id), Acked::Done);
        assert_eq!(s.inflight().next().unwrap().stage, Stage::AwaitingPubComp);
        assert_eq!(s.pubcomp(id), Acked::Done);
        assert_eq!(s.inflight_len(), 0);
    }

    #[test]
    fn packet_ids_skip_those_in_use_and_wrap() {
        let now = Instant::now();
        let mut s = SessionState::new(10);
        s.next_packet_id = u16::MAX;
        for _ in 0..3 {
            s.push(delivery(QoS::AtLeastOnce, None));
        }
        let ids: Vec<_> = (0..3)
            .map(|_| s.next_to_send(10, now).unwrap().0.unwrap().get())
            .collect();
        assert_eq!(ids, vec![u16::MAX, 1, 2]);
    }

    #[test]
    fn acknowledged_ids_are_reused_through_many_wraps() {
        let now = Instant::now();
        let mut s = SessionState::new(10);
        let mut held = None;
        for n in 0..200_000u32 {
            s.push(delivery(QoS::AtLeastOnce, None));
            let id = s.next_to_send(2, now).unwrap().0.unwrap();
            // The first message is never acknowledged: its id stays taken.
            if n == 0 {
                held = Some(id);
                continue;
            }
            assert_ne!(Some(id), held, "an id in use is never handed out again");
            assert_eq!(s.puback(id), Acked::Done);
        }
        assert_eq!(s.inflight_len(), 1);
    }

    #[test]
    fn expired_messages_are_discarded_not_sent() {
        let now = Instant::now();
        let mut s = SessionState::new(10);
        s.push(delivery(QoS::AtLeastOnce, Some(now)));
        s.push(delivery(
            QoS::AtLeastOnce,
            Some(now + Duration::from_secs(60)),
        ));
        let (_, d) = s.next_to_send(10, now).unwrap();
        assert!(!d.publication.is_expired(now));
        assert!(s.next_to_send(10, now).is_none());
    }

    #[test]
    fn incoming_qos2_is_forwarded_once_until_released() {
        let mut s = SessionState::new(10);
        assert!(s.receive_qos2(pid(7)));
        assert!(
            !s.receive_qos2(pid(7)),
            "retransmission is not forwarded again"
        );
        assert!(s.release_qos2(pid(7)));
        assert!(!s.release_qos2(pid(7)));
        assert!(s.receive_qos2(pid(7)), "released id starts a new message");
    }

    #[test]
    fn ownership_moves_with_takeover() {
        let mut s = SessionState::new(10);
        s.set_owner(Some(ConnId(1)));
        assert!(s.is_owned_by(ConnId(1)));
        s.set_owner(Some(ConnId(2)));
        assert!(!s.is_owned_by(ConnId(1)));
    }
}
