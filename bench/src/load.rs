//! The load: publisher and subscriber tasks on raw sockets.
//!
//! Publishers pipeline: many PUBLISH packets are encoded into one buffer and
//! written with one call. At QoS 1 a publisher keeps at most `window` messages
//! unacknowledged, tracks every packet id it has in flight and fails on a PUBACK
//! for an id it did not send. Subscribers read large chunks, decode every packet
//! in them, record latency from the timestamp in the payload, and answer QoS 1
//! deliveries with one write of all the PUBACKs of a chunk.

use std::io;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::BytesMut;
use bytestring::ByteString;
use hdrhistogram::Histogram;
use tokio::sync::Notify;
use tokio::time::{MissedTickBehavior, timeout, timeout_at};
use wren::protocol::mqtt::{Packet, PacketId, QoS};

use crate::client::{self, Client};

/// Bytes a subscriber makes room for before each read.
const READ_CHUNK: usize = 64 * 1024;

/// How long past its deadline a publisher waits for its last PUBACKs, or for the broker to take its writes.
const ACK_GRACE: Duration = Duration::from_secs(5);

/// The time base shared by every task of a measurement, so that a timestamp
/// written by a publisher can be compared with a subscriber's clock.
#[derive(Clone, Copy)]
pub struct Clock {
    base: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        Self {
            base: Instant::now(),
        }
    }

    /// Nanoseconds since the base.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Deliveries owed to subscribers (published × receivers per message) minus those
/// received, shared by the tasks of one measurement. Publishers wait while it is
/// above the limit, so that a broker is measured moving messages end to end at a
/// rate it can sustain, with bounded queues, rather than on how it copes with
/// queues growing without bound (where limits and drop policies decide the figure).
pub struct Backlog {
    owed: AtomicU64,
    delivered: AtomicU64,
    limit: u64,
    progress: Notify,
}

impl Backlog {
    /// A backlog that lets publishers run at most `limit` deliveries ahead.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            owed: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            limit,
            progress: Notify::new(),
        })
    }

    pub fn published(&self, deliveries: u64) {
        self.owed.fetch_add(deliveries, Ordering::AcqRel);
    }

    fn delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::AcqRel);
        self.progress.notify_waiters();
    }

    pub fn has_room(&self) -> bool {
        let owed = self.owed.load(Ordering::Acquire);
        owed.saturating_sub(self.delivered.load(Ordering::Acquire)) <= self.limit
    }

    /// Waits until the backlog is within its limit; false if `deadline` comes first.
    pub async fn wait_for_room(&self, deadline: Instant) -> bool {
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.has_room() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let _ = timeout((deadline - now).min(Duration::from_millis(50)), notified).await;
        }
    }
}

/// How far the subscriber has got with each publisher's messages: one more
/// than the highest sequence number received from it. Publishers whose
/// messages may be lost without a trace (MQTT-SN at QoS 0 over UDP) pace
/// themselves on it: a lost message does not hold them back for long, as it
/// would with a count of deliveries, since the next one received moves it on.
///
/// Such publishers tag their sequence numbers with their index ([`Progress::tag`]).
pub struct Progress {
    seen: Vec<AtomicU64>,
    progress: Notify,
}

impl Progress {
    /// Bits of a tagged sequence number that count messages; the index is above them.
    const SEQ_BITS: u32 = 40;

    /// Tracking for `publishers` publishers.
    pub fn new(publishers: usize) -> Arc<Self> {
        Arc::new(Self {
            seen: (0..publishers).map(|_| AtomicU64::new(0)).collect(),
            progress: Notify::new(),
        })
    }

    /// The sequence number of message `n` of publisher `index`.
    pub fn tag(index: usize, n: u64) -> u64 {
        ((index as u64) << Self::SEQ_BITS) | (n & ((1 << Self::SEQ_BITS) - 1))
    }

    /// Messages of publisher `index` up to the last one received.
    pub fn seen(&self, index: usize) -> u64 {
        self.seen
            .get(index)
            .map_or(0, |seen| seen.load(Ordering::Acquire))
    }

    /// Notes that the message with tagged sequence number `seq` arrived.
    fn received(&self, seq: u64) {
        let index = usize::try_from(seq >> Self::SEQ_BITS).unwrap_or(usize::MAX);
        if let Some(seen) = self.seen.get(index) {
            seen.fetch_max((seq & ((1 << Self::SEQ_BITS) - 1)) + 1, Ordering::AcqRel);
        }
    }

    fn wake(&self) {
        self.progress.notify_waiters();
    }

    /// Waits until `seen(index)` reaches `wanted`, or until `until`.
    pub async fn wait_for(&self, index: usize, wanted: u64, until: Instant) {
        loop {
            let notified = self.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.seen(index) >= wanted {
                return;
            }
            let now = Instant::now();
            if now >= until {
                return;
            }
            let _ = timeout(until - now, notified).await;
        }
    }
}

/// What one publisher sends.
#[derive(Clone)]
pub struct PublisherPlan {
    pub topic: ByteString,
    pub qos: QoS,
    /// Subscribers that receive each message (for the backlog).
    pub receivers: u64,
    /// Messages to send, unless the deadline comes first.
    pub count: u64,
    pub payload_len: usize,
    /// Most QoS 1 messages awaiting PUBACK.
    pub window: usize,
    /// Most messages written with one call.
    pub batch: usize,
    /// One message per period, each written alone; `None` sends as fast as the broker takes them.
    pub period: Option<Duration>,
    pub deadline: Instant,
}

/// What one publisher did.
#[derive(Debug, Default, Clone, Copy)]
pub struct PublisherReport {
    pub sent: u64,
    pub acked: u64,
    /// MQTT-SN: PUBLISHes sent again for want of a PUBACK.
    pub resent: u64,
    /// MQTT-SN: PUBACKs "congestion" (each followed by another try).
    pub congested: u64,
}

/// Sends `plan.count` messages (or until the deadline), then waits for outstanding PUBACKs.
/// Hands the connection back open: closing it while the broker still has unread
/// QoS 0 messages would measure how the broker treats a vanished publisher, not throughput.
pub async fn publish(
    client: Client,
    plan: PublisherPlan,
    clock: Clock,
    backlog: Arc<Backlog>,
) -> anyhow::Result<(Client, PublisherReport)> {
    let Client {
        mut stream,
        read_buf: mut input,
    } = client;
    let qos1 = plan.qos == QoS::AtLeastOnce;
    let mut ids = InFlight::new();
    let mut out = BytesMut::with_capacity(plan.batch * (plan.payload_len + 32));
    let mut scratch = BytesMut::new();
    let mut report = PublisherReport::default();
    let mut ticker = plan.period.map(|period| {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
        ticker
    });
    loop {
        let mut sending = report.sent < plan.count && Instant::now() < plan.deadline;
        if sending {
            let room = if qos1 {
                plan.window - ids.len()
            } else {
                usize::MAX
            };
            let mut n = plan
                .batch
                .min(room)
                .min(usize::try_from(plan.count - report.sent).unwrap_or(usize::MAX));
            if let Some(ticker) = ticker.as_mut() {
                if n > 0 {
                    ticker.tick().await;
                    n = 1;
                    sending = Instant::now() < plan.deadline;
                }
            }
            if n > 0 && ticker.is_none() && !backlog.has_room() {
                sending = backlog.wait_for_room(plan.deadline).await;
            }
            if sending && n > 0 {
                backlog.published(n as u64 * plan.receivers);
                for _ in 0..n {
                    let packet_id = if qos1 { Some(ids.insert()?) } else { None };
                    let payload = client::payload(
                        &mut scratch,
                        plan.payload_len,
                        clock.now_ns(),
                        report.sent,
                    );
                    client::encode_publish(&mut out, &plan.topic, plan.qos, packet_id, payload)?;
                    report.sent += 1;
                }
                // A broker that stops reading must not hang the run.
                let until =
                    tokio::time::Instant::from_std(plan.deadline.max(Instant::now()) + ACK_GRACE);
                match timeout_at(until, stream.write_all(&out)).await {
                    Ok(written) => written.context("publisher write")?,
                    Err(_) => bail!(
                        "the broker stopped reading a publisher for {ACK_GRACE:?} past the deadline"
                    ),
                }
                out.clear();
            }
        }
        if !qos1 {
            if sending {
                continue;
            }
            break;
        }
        // Take whatever PUBACKs have arrived without waiting; wait only when the
        // window is full or everything is sent.
        loop {
            match stream.try_read_buf(&mut input) {
                Ok(0) => bail!("the broker closed a publisher's connection"),
                Ok(_) => input.reserve(4096),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e).context("publisher read"),
            }
        }
        report.acked += take_acks(&mut input, &mut ids)?;
        let done_sending = !sending || report.sent >= plan.count;
        if ids.len() == 0 && done_sending {
            break;
        }
        if ids.len() >= plan.window || done_sending {
            let until =
                tokio::time::Instant::from_std(plan.deadline.max(Instant::now()) + ACK_GRACE);
            input.reserve(4096);
            match timeout_at(until, stream.read_buf(&mut input)).await {
                Err(_) => break, // PUBACKs missing: reported as sent − acked.
                Ok(Ok(0)) => bail!("the broker closed a publisher's connection"),
                Ok(Ok(_)) => report.acked += take_acks(&mut input, &mut ids)?,
                Ok(Err(e)) => return Err(e).context("publisher read"),
            }
        }
    }
    Ok((
        Client {
            stream,
            read_buf: input,
        },
        report,
    ))
}

/// Decodes every whole packet in `input`, retiring the ids of PUBACKs; returns how many.
fn take_acks(input: &mut BytesMut, ids: &mut InFlight) -> anyhow::Result<u64> {
    let mut acked = 0;
    while let Some(packet) = client::decode(input)? {
        match packet {
            Packet::PubAck(ack) => {
                ids.remove(ack.packet_id)?;
                acked += 1;
            }
            other => bail!("a publisher got an unexpected {other:?}"),
        }
    }
    Ok(acked)
}

/// The packet ids a publisher has in flight.
struct InFlight {
    used: Vec<bool>,
    len: usize,
    next: u16,
}

impl InFlight {
    fn new() -> Self {
        Self {
            used: vec![false; 1 << 16],
            len: 0,
            next: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Takes the next free id (ids cycle through 1..=65535).
    fn insert(&mut self) -> anyhow::Result<PacketId> {
        for _ in 0..u16::MAX {
            self.next = self.next.checked_add(1).unwrap_or(1);
            let slot = &mut self.used[usize::from(self.next)];
            if !*slot {
                *slot = true;
                self.len += 1;
                if let Some(id) = NonZeroU16::new(self.next) {
                    return Ok(id);
                }
            }
        }
        bail!("all 65535 packet ids are in flight")
    }

    /// Retires `id`; a PUBACK for an id not in flight is a broker bug.
    fn remove(&mut self, id: PacketId) -> anyhow::Result<()> {
        let slot = &mut self.used[usize::from(id.get())];
        if !*slot {
            bail!("PUBACK for packet id {id}, which is not in flight");
        }
        *slot = false;
        self.len -= 1;
        Ok(())
    }
}

/// When a subscriber stops.
pub struct SubscriberPlan {
    /// Messages it should get; it stops as soon as it has them. Set to the exact
    /// number once the publishers are done (a deadline may have cut them short).
    pub expected: Arc<AtomicU64>,
    /// Stop after this long without a message once every publisher is done
    /// (QoS 0 messages may have been dropped by the broker).
    pub idle_stop: Duration,
    pub hard_deadline: Instant,
    /// Where to note each publisher's progress, for publishers that pace on it.
    pub progress: Option<Arc<Progress>>,
}

/// What one subscriber got.
pub struct SubscriberReport {
    pub received: u64,
    pub last: Option<Instant>,
    /// Publish-to-receive latency in nanoseconds.
    pub latency: Histogram<u64>,
}

/// A histogram for latencies from 1 ns to 10 min with 3 significant digits.
pub fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 600_000_000_000, 3)?)
}

/// Reads deliveries until it has `plan.expected`, goes idle after the publishers are done, or runs out of time.
pub async fn subscribe(
    client: Client,
    plan: SubscriberPlan,
    clock: Clock,
    publishers_done: Arc<AtomicBool>,
    backlog: Arc<Backlog>,
) -> anyhow::Result<SubscriberReport> {
    let Client {
        mut stream,
        read_buf: mut input,
    } = client;
    let mut report = SubscriberReport {
        received: 0,
        last: None,
        latency: latency_histogram()?,
    };
    let mut acks = BytesMut::new();
    let mut last_activity = Instant::now();
    while report.received < plan.expected.load(Ordering::Acquire) {
        let now = Instant::now();
        if now >= plan.hard_deadline
            || (publishers_done.load(Ordering::Acquire) && now - last_activity >= plan.idle_stop)
        {
            break;
        }
        input.reserve(READ_CHUNK);
        let wait = (plan.hard_deadline - now).min(Duration::from_millis(100));
        let read = match timeout(wait, stream.read_buf(&mut input)).await {
            Err(_) => continue,
            Ok(read) => read.context("subscriber read")?,
        };
        if read == 0 {
            bail!(
                "the broker closed a subscriber's connection after {} messages",
                report.received
            );
        }
        let now_ns = clock.now_ns();
        let before = report.received;
        while let Some(packet) = client::decode(&mut input)? {
            if let Packet::Publish(publish) = packet {
                report.received += 1;
                if let (Some(progress), Some(seq)) = (&plan.progress, client::seq(&publish.payload))
                {
                    progress.received(seq);
                }
                if let Some(sent) = client::sent_ns(&publish.payload) {
                    report
                        .latency
                        .saturating_record(now_ns.saturating_sub(sent).max(1));
                }
                if let Some(id) = publish.packet_id {
                    client::encode_puback(&mut acks, id)?;
                }
            }
        }
        if report.received > before {
            backlog.delivered(report.received - before);
            if let Some(progress) = &plan.progress {
                progress.wake();
            }
            last_activity = Instant::now();
            report.last = Some(last_activity);
        }
        if !acks.is_empty() {
            stream
                .write_all(&acks)
                .await
                .context("subscriber PUBACK write")?;
            acks.clear();
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_ids_cycle_skip_zero_and_those_in_flight() {
        let mut ids = InFlight::new();
        let first = ids.insert().unwrap();
        assert_eq!(first.get(), 1);
        for _ in 2..=u16::MAX {
            ids.insert().unwrap();
        }
        assert_eq!(ids.len(), 65535);
        assert!(ids.insert().is_err());
        ids.remove(first).unwrap();
        assert_eq!(ids.insert().unwrap(), first);
    }

    #[test]
    fn progress_follows_the_highest_sequence_number_of_each_publisher() {
        let progress = Progress::new(3);
        progress.received(Progress::tag(1, 4));
        progress.received(Progress::tag(1, 2)); // late, after a later one
        progress.received(Progress::tag(2, 0));
        progress.received(Progress::tag(9, 0)); // no such publisher: ignored
        assert_eq!(
            (progress.seen(0), progress.seen(1), progress.seen(2)),
            (0, 5, 1)
        );
    }

    #[test]
    fn a_puback_for_an_unknown_id_is_an_error() {
        let mut ids = InFlight::new();
        let id = ids.insert().unwrap();
        ids.remove(id).unwrap();
        assert!(ids.remove(id).is_err());
    }
}
