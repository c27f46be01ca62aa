//! The routing core of the broker, free of actix so it can be tested with time
//! passed in: which sessions exist, what they subscribe to, which retained
//! messages are kept, and where each publication goes.
//!
//! The [`Broker`](super::Broker) actor's handlers are thin calls into this.
//! Deliveries are pushed straight into each session's shared queue
//! ([`SessionState`]); the connection is only told to look (one wake for many
//! messages), which keeps the broker thread's work per message small.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytestring::ByteString;

mod access;

use super::publication::{ConnId, Delivery, Publication, SessionKey};
use super::retained::RetainedStore;
use super::subscriptions::SubscriptionTree;
use crate::auth::Rights;
use crate::auth::acl::{Grants, SubscribeVerdict};

use self::access::{may_read, verdict};
use crate::protocol::mqtt::{QoS, ReasonCode, RetainHandling, SubscriptionOptions};
use crate::protocol::topic;
use crate::session::state::{Pushed, SessionState, SharedSessionState};

/// How the router reaches a live connection. Implemented by the actor glue,
/// and by a recorder in tests.
pub trait Connection {
    /// Asks the connection to drain its session queue. Returns false when the
    /// connection is gone.
    fn wake(&self) -> bool;
    /// Asks the connection to close with `reason` (takeover, slow consumer).
    fn kick(&self, reason: ReasonCode);
}

/// Broker-wide settings the router applies.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Bound of each session's queue.
    pub max_queued: usize,
    /// Whether retained messages are kept at all.
    pub retain_available: bool,
}

/// A will registered at CONNECT, published when its connection ends abnormally.
#[derive(Debug, Clone, PartialEq)]
pub struct Will {
    pub publication: Publication,
    /// MQTT 5 will delay interval, seconds.
    pub delay: u32,
}

/// A connection asking to start or resume its session.
pub struct ConnectRequest<C> {
    /// Empty asks the broker to assign one.
    pub client_id: ByteString,
    pub clean_start: bool,
    /// Seconds the session outlives the connection; `u32::MAX` = never expires.
    pub session_expiry: u32,
    pub will: Option<Will>,
    pub conn_id: ConnId,
    pub connection: C,
    /// The ACL for this connection's user; `None` when every topic is allowed.
    pub rights: Option<Rights>,
}

/// The session a connection now serves.
#[derive(Debug, Clone)]
pub struct Attached {
    pub key: SessionKey,
    pub client_id: ByteString,
    /// True when the client id was assigned by the broker.
    pub assigned: bool,
    pub session_present: bool,
    pub state: SharedSessionState,
    /// What the connection may publish and read, for its client id; `None`:
    /// everything.
    pub grants: Option<Arc<Grants>>,
}

/// How a connection ended, as far as its session and will are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// DISCONNECT with reason 0x00: the will is discarded.
    Clean,
    /// Anything else (socket error, keepalive, protocol error, DISCONNECT 0x04): the will is published.
    Abnormal,
}

/// One subscription of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    pub options: SubscriptionOptions,
    /// MQTT 5 subscription identifier.
    pub id: Option<u32>,
    /// The filter reaches beyond what the session may read: each delivery is
    /// checked against its grants. Set by the router at SUBSCRIBE.
    pub restricted: bool,
}

struct Online<C> {
    conn_id: ConnId,
    connection: C,
    /// Told to close as a slow consumer; its departure report is on the way.
    kicked: bool,
}

struct SessionRecord<C> {
    client_id: ByteString,
    state: SharedSessionState,
    online: Option<Online<C>>,
    /// Filters as the client wrote them (with any `$share/` prefix), to remove on session end.
    filters: HashSet<ByteString>,
    expiry: u32,
    expires_at: Option<Instant>,
    /// Boxed: most sessions have none, and the record stays small for the
    /// thousands of idle sessions a Pi may hold.
    will: Option<Box<Will>>,
    will_due: Option<Instant>,
    /// What the session may read (ACL); `None`: everything.
    reader: Option<Arc<Grants>>,
}

/// A subscription as the tree keeps it. Shared ones are not merged with a
/// session's other matches: a session subscribed both ways gets one copy for
/// each (MQTT 5.0 §4.8.2).
#[derive(Debug, Clone, Copy)]
struct Stored {
    subscription: Subscription,
    shared: bool,
}

/// Per-publish aggregation for one subscriber: overlapping subscriptions give
/// one delivery at the highest granted QoS (MQTT 3.1.1 §3.3.5, 5.0 §3.3.4).
#[derive(Default)]
struct Matched {
    qos: Option<QoS>,
    retain_as_published: bool,
    ids: Vec<u32>,
}

/// Sessions, subscriptions and retained messages.
pub struct Router<C> {
    config: RouterConfig,
    sessions: HashMap<SessionKey, SessionRecord<C>>,
    by_client_id: HashMap<ByteString, SessionKey>,
    tree: SubscriptionTree<SessionKey, Stored>,
    retained: RetainedStore<Arc<Publication>>,
    next_key: u64,
    matched: HashMap<SessionKey, Matched>,
    /// Per-publish scratch: shared-subscription matches, delivered one by one.
    shared_hits: Vec<(SessionKey, Subscription)>,
    /// Wills of connections replaced by a takeover, until they report how they ended.
    taken_over: HashMap<ConnId, Box<Will>>,
    slow_consumers: u64,
}

impl<C: Connection> Router<C> {
    /// An empty router.
    pub fn new(config: RouterConfig) -> Self {
        Self {
            config,
            sessions: HashMap::new(),
            by_client_id: HashMap::new(),
            tree: SubscriptionTree::new(),
            retained: RetainedStore::new(),
            next_key: 1,
            matched: HashMap::new(),
            shared_hits: Vec::new(),
            taken_over: HashMap::new(),
            slow_consumers: 0,
        }
    }

    /// Number of sessions, connected or not.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of retained messages.
    pub fn retained_count(&self) -> usize {
        self.retained.len()
    }

    /// Subscribers disconnected because their queue overflowed.
    pub fn slow_consumers(&self) -> u64 {
        self.slow_consumers
    }

    /// Attaches a connection to its session: resumes it, or starts a new one,
    /// taking it over from any connection that still holds it (MQTT 3.1.4-3).
    pub fn connect(&mut self, request: ConnectRequest<C>) -> Attached {
        let assigned = request.client_id.is_empty();
        let client_id = if assigned {
            self.assign_client_id()
        } else {
            request.client_id
        };
        let mut session_present = false;
        if let Some(&key) = self.by_client_id.get(&client_id)
            && let Some(record) = self.sessions.get_mut(&key)
        {
            if let Some(old) = record.online.take() {
                old.connection.kick(ReasonCode::SESSION_TAKEN_OVER);
                // The old connection may have sent DISCONNECT a moment ago, its
                // report still on the way: its will waits for that report. A
                // delayed will is cancelled by the new connection (MQTT 5.0 §3.1.3.2.2).
                if let Some(will) = record.will.take().filter(|w| w.delay == 0) {
                    self.taken_over.insert(old.conn_id, will);
                }
            }
            record.will = None;
            record.will_due = None;
            // A session that was to end with its connection (expiry 0) ends
            // with the takeover too; it is not resumed [MQTT-3.1.2-6].
            session_present = !request.clean_start && record.expiry != 0;
        }
        if !session_present && let Some(key) = self.by_client_id.get(&client_id).copied() {
            self.end_session(key);
        }
        let key = match self.by_client_id.get(&client_id) {
            Some(&key) => key,
            None => self.create_session(client_id.clone()),
        };
        let grants = request
            .rights
            .as_ref()
            .map(|rights| Arc::new(rights.grants(&client_id)));
        if session_present {
            self.rejudge(key, grants.as_ref());
        }
        let record = self.sessions.get_mut(&key);
        let state = match record {
            Some(record) => {
                record.reader = grants.clone();
                record.online = Some(Online {
                    conn_id: request.conn_id,
                    connection: request.connection,
                    kicked: false,
                });
                record.expiry = request.session_expiry;
                record.expires_at = None;
                record.will = request.will.map(Box::new);
                record.state.lock().set_owner(Some(request.conn_id));
                record.state.clone()
            }
            None => SessionState::shared(self.config.max_queued),
        };
        Attached {
            key,
            client_id,
            assigned,
            session_present,
            state,
            grants,
        }
    }

    /// A connection ended. `expiry` is a new session expiry from a v5
    /// DISCONNECT. Ignored when `conn_id` no longer owns the session.
    pub fn disconnect(
        &mut self,
        key: SessionKey,
        conn_id: ConnId,
        how: Departure,
        expiry: Option<u32>,
        now: Instant,
    ) {
        if let Some(will) = self.taken_over.remove(&conn_id) {
            if how == Departure::Abnormal {
                self.publish(will.publication);
            }
            return;
        }
        let Some(record) = self.sessions.get_mut(&key) else {
            return;
        };
        if record.online.as_ref().map(|o| o.conn_id) != Some(conn_id) {
            return;
        }
        record.online = None;
        record.state.lock().set_owner(None);
        if let Some(expiry) = expiry {
            record.expiry = expiry;
        }
        if how == Departure::Clean {
            record.will = None;
        }
        let expiry = record.expiry;
        let mut will_now = None;
        if let Some(will) = &record.will {
            let delay = will.delay.min(expiry);
            if delay == 0 {
                will_now = record.will.take();
            } else {
                record.will_due = Some(now + Duration::from_secs(u64::from(delay)));
            }
        }
        record.expires_at =
            (expiry != u32::MAX).then(|| now + Duration::from_secs(u64::from(expiry)));
        if let Some(will) = will_now {
            self.publish(will.publication);
        }
        if expiry == 0 {
            self.end_session(key);
        }
    }

    /// Replaces the will of a live connection (MQTT-SN WILLTOPICUPD and
    /// WILLMSGUPD, §6.4); `None` deletes it. Ignored unless `conn_id` owns the session.
    pub fn set_will(&mut self, key: SessionKey, conn_id: ConnId, will: Option<Will>) {
        if let Some(record) = self.sessions.get_mut(&key)
            && record.online.as_ref().map(|o| o.conn_id) == Some(conn_id)
        {
            record.will = will.map(Box::new);
        }
    }

    /// Fires delayed wills, ends expired sessions and forgets expired retained messages.
    pub fn tick(&mut self, now: Instant) {
        let mut wills = Vec::new();
        let mut ended = Vec::new();
        for (key, record) in &mut self.sessions {
            let session_over = record.expires_at.is_some_and(|at| at <= now);
            if (record.will_due.is_some_and(|at| at <= now) || session_over)
                && let Some(will) = record.will.take()
            {
                record.will_due = None;
                wills.push(will);
            }
            if session_over {
                ended.push(*key);
            }
        }
        for will in wills {
            self.publish(will.publication);
        }
        for key in ended {
            self.end_session(key);
        }
        self.retained.retain(|_, message| !message.is_expired(now));
    }

    /// Routes a publication to every matching subscriber and updates the retained store.
    pub fn publish(&mut self, publication: Publication) {
        let publication = Arc::new(publication);
        if publication.retain && self.config.retain_available {
            if publication.payload.is_empty() {
                self.retained.remove(&publication.topic);
            } else {
                self.retained
                    .insert(&publication.topic, publication.clone());
            }
        }
        let sessions = &self.sessions;
        let matched = &mut self.matched;
        let shared_hits = &mut self.shared_hits;
        let origin = publication.origin;
        self.tree.for_each_match(
            &publication.topic,
            |key| sessions.get(&key).is_some_and(|r| r.online.is_some()),
            |key, stored| {
                let subscription = stored.subscription;
                if subscription.options.no_local && origin == Some(key) {
                    return;
                }
                if subscription.restricted && !may_read(sessions.get(&key), &publication.topic) {
                    return;
                }
                if stored.shared {
                    shared_hits.push((key, subscription));
                    return;
                }
                let entry = matched.entry(key).or_default();
                entry.qos = entry.qos.max(Some(subscription.options.qos));
                entry.retain_as_published |= subscription.options.retain_as_published;
                entry.ids.extend(subscription.id);
            },
        );
        let mut matched = std::mem::take(&mut self.matched);
        for (key, m) in matched.drain() {
            let qos = publication.qos.min(m.qos.unwrap_or_default());
            let retain = m.retain_as_published && publication.retain;
            let delivery = Delivery {
                publication: publication.clone(),
                qos,
                retain,
                subscription_ids: m.ids,
            };
            self.deliver(key, delivery);
        }
        self.matched = matched;
        let mut shared_hits = std::mem::take(&mut self.shared_hits);
        for (key, subscription) in shared_hits.drain(..) {
            let delivery = Delivery {
                publication: publication.clone(),
                qos: publication.qos.min(subscription.options.qos),
                retain: subscription.options.retain_as_published && publication.retain,
                subscription_ids: subscription.id.into_iter().collect(),
            };
            self.deliver(key, delivery);
        }
        self.shared_hits = shared_hits;
    }

    /// Adds subscriptions for a session; returns one reason code per filter and
    /// queues the retained messages they select, which the connection sends
    /// after its SUBACK.
    pub fn subscribe(
        &mut self,
        key: SessionKey,
        filters: &[(ByteString, Subscription)],
        now: Instant,
    ) -> Vec<ReasonCode> {
        let mut reasons = Vec::with_capacity(filters.len());
        for (filter, subscription) in filters {
            let Ok((group, inner)) = topic::parse_subscription(filter) else {
                reasons.push(ReasonCode::TOPIC_FILTER_INVALID);
                continue;
            };
            let Some(record) = self.sessions.get_mut(&key) else {
                reasons.push(ReasonCode::UNSPECIFIED_ERROR);
                continue;
            };
            let mut subscription = *subscription;
            match verdict(record.reader.as_ref(), inner) {
                SubscribeVerdict::Denied => {
                    reasons.push(ReasonCode::NOT_AUTHORIZED);
                    continue;
                }
                verdict => subscription.restricted = verdict == SubscribeVerdict::Filtered,
            }
            let subscription = &subscription;
            record.filters.insert(filter.clone());
            let stored = Stored {
                subscription: *subscription,
                shared: group.is_some(),
            };
            let existed = self.tree.insert(group, inner, key, stored).is_some();
            reasons.push(ReasonCode::granted(subscription.options.qos));
            let wants_retained = match subscription.options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
            // Retained messages are not sent for shared subscriptions (MQTT 5.0 §4.8.2).
            if wants_retained && group.is_none() {
                self.send_retained(key, inner, subscription, now);
            }
        }
        reasons
    }

    /// Removes subscriptions; one reason code per filter.
    pub fn unsubscribe(&mut self, key: SessionKey, filters: &[ByteString]) -> Vec<ReasonCode> {
        let mut reasons = Vec::with_capacity(filters.len());
        for filter in filters {
            let removed = match (
                topic::parse_subscription(filter),
                self.sessions.get_mut(&key),
            ) {
                (Ok((group, inner)), Some(record)) => {
                    record.filters.remove(filter);
                    self.tree.remove(group, inner, key).is_some()
                }
                _ => false,
            };
            reasons.push(if removed {
                ReasonCode::SUCCESS
            } else {
                ReasonCode::NO_SUBSCRIPTION_EXISTED
            });
        }
        reasons
    }

    /// Closes every live connection (server shutdown).
    pub fn kick_all(&mut self, reason: ReasonCode) {
        for record in self.sessions.values_mut() {
            if let Some(online) = record.online.take() {
                online.connection.kick(reason);
            }
        }
    }

    fn send_retained(
        &mut self,
        key: SessionKey,
        filter: &str,
        subscription: &Subscription,
        now: Instant,
    ) {
        let mut found = Vec::new();
        let record = self.sessions.get(&key);
        self.retained.for_each_matching(filter, |_, message| {
            if subscription.restricted && !may_read(record, &message.topic) {
                return;
            }
            if !message.is_expired(now) {
                found.push(message.clone());
            }
        });
        for publication in found {
            let qos = publication.qos.min(subscription.options.qos);
            // A retained message sent because of a new subscription keeps its
            // retain flag (MQTT 3.1.1 §3.3.1.3, 5.0 §3.3.1.3).
            let delivery = Delivery {
                publication,
                qos,
                retain: true,
                subscription_ids: subscription.id.into_iter().collect(),
            };
            self.deliver(key, delivery);
        }
    }

    fn deliver(&mut self, key: SessionKey, delivery: Delivery) {
        let Some(record) = self.sessions.get_mut(&key) else {
            return;
        };
        if record.online.is_none() && delivery.qos == QoS::AtMostOnce {
            // QoS 0 is not queued for a disconnected session (Mosquitto's default too).
            return;
        }
        let pushed = record.state.lock().push(delivery);
        match (pushed, &mut record.online) {
            (Pushed::Queued { wake: true }, Some(online)) => {
                online.connection.wake();
            }
            // Kicked once; the connection's own departure report then takes
            // the session offline, with its will, like any abnormal close.
            (Pushed::Overflow, Some(online)) if !online.kicked => {
                online.kicked = true;
                self.slow_consumers += 1;
                online.connection.kick(ReasonCode::QUOTA_EXCEEDED);
            }
            _ => {}
        }
    }

    fn create_session(&mut self, client_id: ByteString) -> SessionKey {
        let key = SessionKey(self.next_key);
        self.next_key += 1;
        self.by_client_id.insert(client_id.clone(), key);
        self.sessions.insert(
            key,
            SessionRecord {
                client_id,
                state: SessionState::shared(self.config.max_queued),
                online: None,
                filters: HashSet::new(),
                expiry: 0,
                expires_at: None,
                will: None,
                will_due: None,
                reader: None,
            },
        );
        key
    }

    fn end_session(&mut self, key: SessionKey) {
        let Some(record) = self.sessions.remove(&key) else {
            return;
        };
        self.by_client_id.remove(&record.client_id);
        for filter in &record.filters {
            if let Ok((group, inner)) = topic::parse_subscription(filter) {
                self.tree.remove(group, inner, key);
            }
        }
        record.state.lock().clear();
        if let Some(online) = record.online {
            online.connection.kick(ReasonCode::SESSION_TAKEN_OVER);
        }
    }

    fn assign_client_id(&mut self) -> ByteString {
        loop {
            let id = ByteString::from(format!("wren-{:016x}", random_u64()));
            if !self.by_client_id.contains_key(&id) {
                return id;
            }
        }
    }
}

/// Unpredictable enough for assigned client ids, without a dependency or a
/// clock: std seeds `RandomState` from the OS once per thread and gives every
/// new instance different keys, so each hash of nothing differs.
fn random_u64() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;

    /// Records what the router asked of a connection.
    #[derive(Clone, Default)]
    struct Probe(Rc<RefCell<Vec<String>>>);

    impl Connection for Probe {
        fn wake(&self) -> bool {
            self.0.borrow_mut().push("wake".into());
            true
        }
        fn kick(&self, reason: ReasonCode) {
            self.0.borrow_mut().push(format!("kick {:02x}", reason.0));
        }
    }

    fn router() -> Router<Probe> {
        Router::new(RouterConfig {
            max_queued: 10,
            retain_available: true,
        })
    }

    fn connect(
        r: &mut Router<Probe>,
        id: &str,
        clean: bool,
        expiry: u32,
        will: Option<Will>,
    ) -> (Attached, Probe, ConnId) {
        let probe = Probe::default();
        let conn_id = ConnId::next();
        let request = ConnectRequest {
            client_id: id.into(),
            clean_start: clean,
            session_expiry: expiry,
            will,
            conn_id,
            connection: probe.clone(),
            rights: None,
        };
        (r.connect(request), probe, conn_id)
    }

    fn publication(topic: &str, qos: QoS, retain: bool, payload: &'static [u8]) -> Publication {
        Publication {
            topic: topic.into(),
            payload: Bytes::from_static(payload),
            qos,
            retain,
            properties: None,
            expires_at: None,
            origin: None,
        }
    }

    /// A session subscribed to the topic the test wills use.
    fn watcher(r: &mut Router<Probe>) -> Attached {
        let (w, _, _) = connect(r, "watcher", true, 0, None);
        r.subscribe(
            w.key,
            &[("will".into(), sub(QoS::AtLeastOnce))],
            Instant::now(),
        );
        w
    }

    fn will(delay: u32) -> Option<Will> {
        Some(Will {
            publication: publication("will", QoS::AtLeastOnce, false, b"gone"),
            delay,
        })
    }

    fn sub(qos: QoS) -> Subscription {
        Subscription {
            options: SubscriptionOptions {
                qos,
                ..Default::default()
            },
            id: None,
            restricted: false,
        }
    }

    fn drain(a: &Attached) -> Vec<(String, QoS, bool)> {
        let mut state = a.state.lock();
        let mut out = Vec::new();
        while let Some((_, d)) = state.next_to_send(100, Instant::now()) {
            out.push((d.publication.topic.to_string(), d.qos, d.retain));
        }
        out
    }

    #[test]
    fn overlapping_subscriptions_deliver_once_at_the_highest_qos() {
        let mut r = router();
        let (a, probe, _) = connect(&mut r, "a", true, 0, None);
        r.subscribe(
            a.key,
            &[
                ("t/+".into(), sub(QoS::AtMostOnce)),
                ("t/#".into(), sub(QoS::ExactlyOnce)),
            ],
            Instant::now(),
        );
        r.publish(publication("t/x", QoS::ExactlyOnce, false, b"1"));
        assert_eq!(drain(&a), vec![("t/x".into(), QoS::ExactlyOnce, false)]);
        assert_eq!(probe.0.borrow().as_slice(), ["wake"]);
    }

    #[test]
    fn retained_set_replace_clear_and_sent_on_subscribe_with_retain_flag() {
        let mut r = router();
        r.publish(publication("r", QoS::AtLeastOnce, true, b"1"));
        r.publish(publication("r", QoS::AtLeastOnce, true, b"2"));
        assert_eq!(r.retained_count(), 1);
        let (a, _, _) = connect(&mut r, "a", true, 0, None);
        r.subscribe(a.key, &[("#".into(), sub(QoS::AtMostOnce))], Instant::now());
        let got = drain(&a);
        assert_eq!(got, vec![("r".into(), QoS::AtMostOnce, true)]);
        r.publish(publication("r", QoS::AtMostOnce, true, b""));
        assert_eq!(r.retained_count(), 0);
        assert_eq!(
            drain(&a),
            vec![("r".into(), QoS::AtMostOnce, false)],
            "the clearing message itself is forwarded"
        );
    }

    #[test]
    fn retain_handling_send_if_new_only_once() {
        let mut r = router();
        r.publish(publication("r", QoS::AtMostOnce, true, b"1"));
        let (a, _, _) = connect(&mut r, "a", true, 0, None);
        let mut s = sub(QoS::AtMostOnce);
        s.options.retain_handling = RetainHandling::SendIfNew;
        r.subscribe(a.key, &[("r".into(), s)], Instant::now());
        r.subscribe(a.key, &[("r".into(), s)], Instant::now());
        assert_eq!(drain(&a).len(), 1);
    }

    #[test]
    fn no_local_skips_own_messages() {
        let mut r = router();
        let (a, _, _) = connect(&mut r, "a", true, 0, None);
        let mut s = sub(QoS::AtMostOnce);
        s.options.no_local = true;
        r.subscribe(a.key, &[("t".into(), s)], Instant::now());
        let mut own = publication("t", QoS::AtMostOnce, false, b"x");
        own.origin = Some(a.key);
        r.publish(own);
        assert!(drain(&a).is_empty());
    }

    #[test]
    fn persistent_session_queues_qos1_not_qos0_while_offline() {
        let mut r = router();
        let (a, _, conn) = connect(&mut r, "p", false, u32::MAX, None);
        r.subscribe(
            a.key,
            &[("t".into(), sub(QoS::AtLeastOnce))],
            Instant::now(),
        );
        r.disconnect(a.key, conn, Departure::Clean, None, Instant::now());
        r.publish(publication("t", QoS::AtLeastOnce, false, b"1"));
        r.publish(publication("t", QoS::AtMostOnce, false, b"0"));
        let (b, _, _) = connect(&mut r, "p", false, u32::MAX, None);
        assert!(b.session_present);
        assert_eq!(drain(&b), vec![("t".into(), QoS::AtLeastOnce, false)]);
    }

    #[test]
    fn clean_start_discards_the_old_session() {
        let mut r = router();
        let (a, _, conn) = connect(&mut r, "p", false, u32::MAX, None);
        r.subscribe(
            a.key,
            &[("t".into(), sub(QoS::AtLeastOnce))],
            Instant::now(),
        );
        r.disconnect(a.key, conn, Departure::Clean, None, Instant::now());
        let (b, _, _) = connect(&mut r, "p", true, 0, None);
        assert!(!b.session_present);
        r.publish(publication("t", QoS::AtLeastOnce, false, b"1"));
        assert!(drain(&b).is_empty());
    }

    #[test]
    fn takeover_kicks_the_old_connection_and_ignores_its_late_disconnect() {
        let mut r = router();
        let (a, old, old_conn) = connect(&mut r, "p", false, u32::MAX, None);
        let (b, _, _) = connect(&mut r, "p", false, u32::MAX, None);
        assert_eq!(old.0.borrow().as_slice(), ["kick 8e"]);
        assert_eq!(a.key, b.key);
        r.disconnect(
            a.key,
            old_conn,
            Departure::Abnormal,
            Some(0),
            Instant::now(),
        );
        assert_eq!(
            r.session_count(),
            1,
            "a stale disconnect must not end the new connection's session"
        );
        assert!(!b.state.lock().is_owned_by(old_conn));
    }

    #[test]
    fn will_published_on_abnormal_departure_not_on_clean_one() {
        let mut r = router();
        let w = watcher(&mut r);
        let (a, _, conn) = connect(&mut r, "a", true, 0, will(0));
        r.disconnect(a.key, conn, Departure::Clean, None, Instant::now());
        assert!(drain(&w).is_empty());
        let (b, _, conn) = connect(&mut r, "b", true, 0, will(0));
        r.disconnect(b.key, conn, Departure::Abnormal, None, Instant::now());
        assert_eq!(drain(&w), vec![("will".into(), QoS::AtLeastOnce, false)]);
    }

    #[test]
    fn set_will_replaces_or_deletes_the_will_of_the_owner_only() {
        let mut r = router();
        let (w, _, _) = connect(&mut r, "watcher", true, 0, None);
        r.subscribe(
            w.key,
            &[("#".into(), sub(QoS::AtLeastOnce))],
            Instant::now(),
        );
        let will = |topic: &str| {
            Some(Will {
                publication: publication(topic, QoS::AtLeastOnce, false, b"gone"),
                delay: 0,
            })
        };
        let (a, _, conn) = connect(&mut r, "a", true, 0, will("old"));
        r.set_will(a.key, ConnId::next(), None);
        r.set_will(a.key, conn, will("new"));
        r.disconnect(a.key, conn, Departure::Abnormal, None, Instant::now());
        assert_eq!(drain(&w), vec![("new".into(), QoS::AtLeastOnce, false)]);
        let (b, _, conn) = connect(&mut r, "b", true, 0, will("old"));
        r.set_will(b.key, conn, None);
        r.disconnect(b.key, conn, Departure::Abnormal, None, Instant::now());
        assert!(drain(&w).is_empty());
    }

    #[test]
    fn takeover_will_waits_for_how_the_old_connection_ended() {
        let mut r = router();
        let w = watcher(&mut r);
        // The old connection sent DISCONNECT, but the new CONNECT reached the broker first.
        let (a, _, old) = connect(&mut r, "a", false, 100, will(0));
        connect(&mut r, "a", false, 100, will(0));
        assert!(
            drain(&w).is_empty(),
            "no will before the old connection reports"
        );
        r.disconnect(a.key, old, Departure::Clean, None, Instant::now());
        assert!(drain(&w).is_empty(), "a clean DISCONNECT discards the will");
        // A genuine takeover of a connection that just dropped publishes it.
        let (b, _, old) = connect(&mut r, "b", false, 100, will(0));
        connect(&mut r, "b", false, 100, None);
        r.disconnect(b.key, old, Departure::Abnormal, None, Instant::now());
        assert_eq!(drain(&w).len(), 1);
    }

    #[test]
    fn taking_over_a_session_that_ends_with_its_connection_starts_afresh() {
        let mut r = router();
        let (a, _, _) = connect(&mut r, "c", true, 0, None);
        r.subscribe(
            a.key,
            &[("t".into(), sub(QoS::AtLeastOnce))],
            Instant::now(),
        );
        let (b, _, _) = connect(&mut r, "c", false, 100, None);
        assert!(!b.session_present);
        r.publish(publication("t", QoS::AtLeastOnce, false, b"1"));
        assert!(
            drain(&b).is_empty(),
            "the old subscriptions ended with the old session"
        );
    }

    #[test]
    fn delayed_will_fires_after_delay_unless_the_client_returns() {
        let mut r = router();
        let w = watcher(&mut r);
        let t0 = Instant::now();
        let (a, _, conn) = connect(&mut r, "a", false, 100, will(5));
        r.disconnect(a.key, conn, Departure::Abnormal, None, t0);
        r.tick(t0 + Duration::from_secs(4));
        assert!(drain(&w).is_empty());
        r.tick(t0 + Duration::from_secs(6));
        assert_eq!(drain(&w).len(), 1);
        let (b, _, conn) = connect(&mut r, "b", false, 100, will(5));
        r.disconnect(b.key, conn, Departure::Abnormal, None, t0);
        connect(&mut r, "b", false, 100, None);
        r.tick(t0 + Duration::from_secs(6));
        assert!(
            drain(&w).is_empty(),
            "reconnecting within the delay cancels the will"
        );
    }

    #[test]
    fn session_expires_after_its_interval() {
        let mut r = router();
        let t0 = Instant::now();
        let (a, _, conn) = connect(&mut r, "a", false, 10, None);
        r.disconnect(a.key, conn, Departure::Clean, None, t0);
        r.tick(t0 + Duration::from_secs(9));
        assert_eq!(r.session_count(), 1);
        r.tick(t0 + Duration::from_secs(11));
        assert_eq!(r.session_count(), 0);
    }

    #[test]
    fn shared_and_plain_subscriptions_of_one_session_each_get_a_copy() {
        let mut r = router();
        let (a, _, _) = connect(&mut r, "a", true, 0, None);
        r.subscribe(
            a.key,
            &[
                ("t".into(), sub(QoS::AtMostOnce)),
                ("$share/g/t".into(), sub(QoS::AtLeastOnce)),
            ],
            Instant::now(),
        );
        r.publish(publication("t", QoS::AtLeastOnce, false, b"x"));
        let mut got = drain(&a);
        got.sort_by_key(|(_, qos, _)| *qos);
        assert_eq!(
            got,
            vec![
                ("t".into(), QoS::AtMostOnce, false),
                ("t".into(), QoS::AtLeastOnce, false)
            ]
        );
    }

    #[test]
    fn shared_subscription_delivers_to_one_member() {
        let mut r = router();
        let (a, _, _) = connect(&mut r, "a", true, 0, None);
        let (b, _, _) = connect(&mut r, "b", true, 0, None);
        for s in [&a, &b] {
            r.subscribe(
                s.key,
                &[("$share/g/t".into(), sub(QoS::AtMostOnce))],
                Instant::now(),
            );
        }
        for _ in 0..10 {
            r.publish(publication("t", QoS::AtMostOnce, false, b"x"));
        }
        assert_eq!(drain(&a).len() + drain(&b).len(), 10);
    }

    #[test]
    fn overflowing_queue_kicks_a_slow_online_consumer() {
        let mut r = Router::new(RouterConfig {
            max_queued: 1,
            retain_available: true,
        });
        let (a, probe, _) = connect(&mut r, "a", true, 0, None);
        r.subscribe(
            a.key,
            &[("t".into(), sub(QoS::AtLeastOnce))],
            Instant::now(),
        );
        r.publish(publication("t", QoS::AtLeastOnce, false, b"1"));
        r.publish(publication("t", QoS::AtLeastOnce, false, b"2"));
        assert_eq!(probe.0.borrow().last().map(String::as_str), Some("kick 97"));
        assert_eq!(r.slow_consumers(), 1);
    }

    #[test]
    fn assigned_client_ids_are_unique_and_flagged() {
        let mut r = router();
        let (a, _, _) = connect(&mut r, "", true, 0, None);
        let (b, _, _) = connect(&mut r, "", true, 0, None);
        assert!(a.assigned && b.assigned);
        assert_ne!(a.client_id, b.client_id);
    }

    #[test]
    fn invalid_filter_is_refused_per_filter() {
        let mut r = router();
        let (a, _, _) = connect(&mut r, "a", true, 0, None);
        let reasons = r.subscribe(
            a.key,
            &[
                ("a/#/b".into(), sub(QoS::AtMostOnce)),
                ("ok".into(), sub(QoS::AtLeastOnce)),
            ],
            Instant::now(),
        );
        assert_eq!(
            reasons,
            vec![ReasonCode::TOPIC_FILTER_INVALID, ReasonCode::GRANTED_QOS_1]
        );
        assert_eq!(
            r.unsubscribe(a.key, &["ok".into(), "nope".into()]),
            vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
        );
    }
}
