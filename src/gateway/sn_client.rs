//! The `SnClient` actor: one per MQTT-SN client, on its link's thread.
//!
//! A thin shell around [`ClientState`]: it feeds it the client's messages,
//! the broker's wakes and a clock tick, and carries out the actions it
//! returns. Towards the broker it is an `MqttSession` in all but bytes: the
//! same `Connect`/`Publish`/`Subscribe`/`Unsubscribe`/`Disconnected` messages,
//! the same shared session queue, which it drains with a window of one while
//! the client is active or awake and leaves alone while it sleeps. That queue
//! is the sleep buffer, bounded by `max_sleep_buffer` (see
//! [`SessionState::hold_for_sleeper`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytestring::ByteString;
use tracing::{Span, debug, info};

use super::client::{Action, ClientState, Receipt, Settle, Status};
use super::datagram::{ClientAddr, DatagramSink};
use super::outbox::{Outbox, Reply};
use super::{Counters, Gateway};
use crate::auth::acl::Grants;
use crate::broker::messages::{
    Connect, Disconnected, Publish, SetWill, Subscribe, ToConnection, Unsubscribe,
};
use crate::broker::publication::{ConnId, Publication, SessionKey};
use crate::broker::router::{Attached, ConnectRequest, Departure, Subscription, Will};
use crate::protocol::mqtt::{self, ReasonCode, SubscriptionOptions};
use crate::protocol::mqttsn::{Ctrl, Message, MsgId, ReturnCode, SubAck, TopicId};
use crate::session::state::{SharedSessionState, Stage};
use crate::transport::limit::Permit;

/// Datagrams a client's mailbox holds; more are dropped by the link.
const MAILBOX: usize = 64;

/// A message from the client, as the link decoded it. `ctrl` is the
/// forwarder's Ctrl octet when it came encapsulated.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Inbound {
    pub message: Message,
    pub ctrl: Option<Ctrl>,
}

/// A client actor ended; its link forgets the address (if it is still this client's).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ClientGone {
    pub addr: ClientAddr,
    pub generation: u64,
}

/// Where the client's answers go.
pub struct Route {
    pub addr: ClientAddr,
    pub sink: Arc<dyn DatagramSink>,
    /// The link thread's batch of publications to the broker.
    pub outbox: Outbox,
    pub link: Recipient<ClientGone>,
    pub link_name: Arc<str>,
    pub generation: u64,
}

struct Attachment {
    key: SessionKey,
    state: SharedSessionState,
    /// What the ACL lets this client do; `None`: everything.
    grants: Option<Arc<Grants>>,
}

/// One MQTT-SN client.
pub struct SnClient {
    gw: Gateway,
    route: Route,
    ctrl: Ctrl,
    span: Span,
    state: ClientState,
    conn_id: ConnId,
    session: Option<Attachment>,
    /// A SUBSCRIBE or UNSUBSCRIBE awaits the broker's answer: deliveries wait,
    /// so the retained messages it queues follow the SUBACK.
    awaiting_answer: bool,
    /// The link has been told to route this address elsewhere.
    left_link: bool,
    departure: Departure,
    _permit: Permit,
}

impl SnClient {
    /// Starts a client on the link's own thread (see `app::start_mqttsn`);
    /// the link sends it the CONNECT next.
    pub fn spawn(gw: Gateway, route: Route, permit: Permit) -> Addr<Self> {
        SnClient::create(move |ctx| {
            ctx.set_mailbox_capacity(MAILBOX);
            let span = tracing::info_span!(
                "sn_client",
                link = %route.link_name,
                peer = %route.addr,
                client_id = tracing::field::Empty
            );
            let state = ClientState::new(gw.config.client.clone(), Instant::now());
            SnClient {
                gw,
                route,
                ctrl: Ctrl::default(),
                span,
                state,
                conn_id: ConnId::next(),
                session: None,
                awaiting_answer: false,
                left_link: false,
                departure: Departure::Abnormal,
                _permit: permit,
            }
        })
    }

    fn send(&self, message: &Message) {
        super::send(
            self.route.sink.as_ref(),
            &self.gw.counters,
            &self.route.addr,
            self.ctrl,
            message,
        );
    }

    /// Tells the link this address no longer has a client here (once).
    fn leave_link(&mut self) {
        if !std::mem::replace(&mut self.left_link, true) {
            self.route.link.do_send(ClientGone {
                addr: self.route.addr.clone(),
                generation: self.route.generation,
            });
        }
    }

    /// Carries out the state machine's actions, in order.
    fn apply(&mut self, actions: Vec<Action>, ctx: &mut Context<Self>) {
        if actions.iter().any(|a| matches!(a, Action::End(_))) {
            // Before the node can hear our last answer, so whatever it sends
            // next is routed as from a stranger, not into a stopping mailbox.
            self.leave_link();
        }
        for action in actions {
            match action {
                Action::Send(message) => self.send(&message),
                Action::Detach => self.detach(Departure::Clean),
                Action::Attach {
                    client_id,
                    clean_session,
                    will,
                } => self.attach(client_id, clean_session, will, ctx),
                Action::Forward {
                    publication,
                    receipt,
                } => self.forward(publication, receipt),
                Action::Subscribe {
                    msg_id,
                    filter,
                    qos,
                    topic_id,
                } => self.subscribe(msg_id, filter, qos, topic_id, ctx),
                Action::Unsubscribe { msg_id, filter } => self.unsubscribe(msg_id, filter, ctx),
                Action::SetWill(will) => self.set_will(will),
                Action::Settle(settle) => self.settle(settle),
                Action::End(departure) => {
                    self.departure = departure;
                    ctx.stop();
                }
            }
        }
        self.save_topics();
    }

    fn save_topics(&mut self) {
        let persistent = self.state.persistent();
        let client_id = self.state.client_id().clone();
        if let Some(table) = self.state.take_changed_topics()
            && persistent
            && !self.gw.registry.save(&client_id, table)
        {
            debug!("topic registry full, table not kept");
        }
    }

    fn attach(
        &mut self,
        client_id: ByteString,
        clean: bool,
        will: Option<Will>,
        ctx: &mut Context<Self>,
    ) {
        self.span.record("client_id", client_id.as_ref() as &str);
        let Ok(rights) = self.gw.admission.connect(&client_id, &self.route.addr) else {
            info!("not on the [mqttsn.clients] allow-list, CONNECT refused");
            let refusal = Message::ConnAck(ReturnCode::NOT_SUPPORTED);
            return self.apply(
                vec![Action::Send(refusal), Action::End(Departure::Clean)],
                ctx,
            );
        };
        if clean {
            self.gw.registry.forget(&client_id);
        } else if let Some(table) = self.gw.registry.load(&client_id) {
            self.state.restore_topics(table);
        }
        self.conn_id = ConnId::next();
        self.route.outbox.flush();
        let request = ConnectRequest {
            client_id,
            clean_start: clean,
            session_expiry: if clean {
                0
            } else {
                self.gw.config.max_session_expiry
            },
            will,
            conn_id: self.conn_id,
            connection: ctx.address().recipient(),
            rights,
        };
        let attached = self.gw.broker.send(Connect(request)).into_actor(self).map(
            |result: Result<Attached, _>, client, ctx| {
                let _entered = client.span.clone().entered();
                let actions = match result {
                    Ok(attached) => {
                        info!(session_present = attached.session_present, "connected");
                        let limit = client.gw.config.max_sleep_buffer;
                        attached.state.lock().hold_for_sleeper(limit);
                        client.session = Some(Attachment {
                            key: attached.key,
                            state: attached.state,
                            grants: attached.grants,
                        });
                        client.state.on_attached(attached.key, Instant::now())
                    }
                    Err(_) => client.state.on_attach_failed(),
                };
                client.apply(actions, ctx);
                client.drain(ctx);
            },
        );
        ctx.wait(attached);
    }

    fn detach(&mut self, how: Departure) {
        if let Some(session) = self.session.take() {
            self.route.outbox.flush();
            self.gw.broker.do_send(Disconnected {
                key: session.key,
                conn_id: self.conn_id,
                how,
                expiry: None,
            });
        }
    }

    /// Hands a publication to the broker without waiting: UDP cannot push
    /// back, so a full broker mailbox drops QoS 0 and answers QoS 1/2 with
    /// "congestion" for the node to retry. QoS 0 and 1 go with the thread's
    /// batch (the outbox sends the answer); QoS 2 goes alone, since a refusal
    /// must also be undone in the state machine.
    fn forward(&mut self, publication: Publication, receipt: Receipt) {
        if let Some(grants) = self.session.as_ref().and_then(|s| s.grants.as_ref())
            && !grants.may_publish(&publication.topic)
        {
            // As for MQTT 3.1.1: acknowledged, so the node does not retry, and dropped.
            Counters::bump(&self.gw.counters.dropped);
            debug!(topic = %publication.topic, "PUBLISH denied by the ACL, dropped");
            if let Some(answer) = receipt.accepted() {
                self.send(&answer);
            }
            return;
        }
        if !matches!(receipt, Receipt::PubRec { .. }) {
            let reply = (!matches!(receipt, Receipt::None)).then(|| Reply {
                addr: self.route.addr.clone(),
                ctrl: self.ctrl,
                receipt,
            });
            self.route.outbox.push(publication, reply);
            return;
        }
        self.route.outbox.flush();
        match self.gw.broker.try_send(Publish(vec![publication])) {
            Ok(()) => {
                if let Some(answer) = receipt.accepted() {
                    self.send(&answer);
                }
            }
            Err(_) => {
                Counters::bump(&self.gw.counters.congested);
                if let Receipt::PubRec { msg_id, .. } = receipt {
                    self.state.forward_refused(msg_id);
                }
                debug!("broker busy, PUBLISH refused with congestion");
                if let Some(answer) = receipt.congested() {
                    self.send(&answer);
                }
            }
        }
    }

    fn subscribe(
        &mut self,
        msg_id: MsgId,
        filter: ByteString,
        qos: mqtt::QoS,
        topic_id: TopicId,
        ctx: &mut Context<Self>,
    ) {
        let Some(session) = &self.session else { return };
        let subscription = Subscription {
            options: SubscriptionOptions {
                qos,
                ..Default::default()
            },
            id: None,
            restricted: false,
        };
        let request = Subscribe {
            key: session.key,
            filters: vec![(filter, subscription)],
        };
        self.route.outbox.flush();
        self.awaiting_answer = true;
        let answered =
            self.gw
                .broker
                .send(request)
                .into_actor(self)
                .map(move |result, client, ctx| {
                    client.awaiting_answer = false;
                    let code = result.ok().and_then(|codes| codes.first().copied());
                    client.send(&Message::SubAck(suback(code, topic_id, msg_id)));
                    // Retained messages were queued before the answer: they follow the SUBACK.
                    client.drain(ctx);
                });
        ctx.wait(answered);
    }

    fn unsubscribe(&mut self, msg_id: MsgId, filter: ByteString, ctx: &mut Context<Self>) {
        let Some(session) = &self.session else { return };
        let request = Unsubscribe {
            key: session.key,
            filters: vec![filter],
        };
        self.route.outbox.flush();
        let answered =
            self.gw
                .broker
                .send(request)
                .into_actor(self)
                .map(move |_, client: &mut Self, ctx| {
                    client.awaiting_answer = false;
                    client.send(&Message::UnsubAck(msg_id));
                    client.drain(ctx);
                });
        self.awaiting_answer = true;
        ctx.wait(answered);
    }

    fn set_will(&self, will: Option<Will>) {
        if let Some(session) = &self.session {
            self.route.outbox.flush();
            self.gw.broker.do_send(SetWill {
                key: session.key,
                conn_id: self.conn_id,
                will,
            });
        }
    }

    fn settle(&self, settle: Settle) {
        let Some(session) = &self.session else { return };
        let mut state = session.state.lock();
        match settle {
            Settle::PubAck(id) => drop(state.puback(id)),
            Settle::PubRec(id) => drop(state.pubrec(id)),
            Settle::PubComp(id) => drop(state.pubcomp(id)),
            Settle::Discard(id) => {
                state.puback(id);
                state.pubrec_failed(id);
                state.pubcomp(id);
            }
        }
    }

    /// Sends what the session queue holds, one message in flight at a time,
    /// while the client is active or awake; a message left unacknowledged
    /// (before a sleep or a reconnect) goes first, with DUP.
    fn drain(&mut self, ctx: &mut Context<Self>) {
        if self.awaiting_answer {
            return;
        }
        let Some(shared) = self.session.as_ref().map(|s| s.state.clone()) else {
            return;
        };
        while self.state.wants_delivery() {
            let now = Instant::now();
            let mut state = shared.lock();
            if !state.is_owned_by(self.conn_id) {
                return;
            }
            state.woken();
            let resend = state
                .inflight()
                .next()
                .map(|i| (i.packet_id, i.stage, i.delivery.clone()));
            let fresh = match resend {
                Some(_) => None,
                None => state.next_to_send(1, now),
            };
            drop(state);
            let actions = match (resend, fresh) {
                (Some((id, Stage::AwaitingPubComp, _)), _) => self.state.redeliver_pubrel(id, now),
                (Some((id, _, delivery)), _) => self.state.deliver(Some(id), &delivery, true, now),
                (None, Some((id, delivery))) => self.state.deliver(id, &delivery, false, now),
                (None, None) => {
                    let actions = self.state.idle(now);
                    self.apply(actions, ctx);
                    return;
                }
            };
            self.apply(actions, ctx);
        }
    }

    fn on_tick(&mut self, ctx: &mut Context<Self>) {
        let _entered = self.span.clone().entered();
        let before = self.state.status();
        let actions = self.state.on_tick(Instant::now());
        if self.state.status() == Status::Lost && before != Status::Lost {
            info!(was = ?before, "client lost");
        }
        self.apply(actions, ctx);
        // A pause after "congestion" may have ended.
        self.drain(ctx);
    }
}

/// The SUBACK for the broker's answer to one filter.
fn suback(code: Option<ReasonCode>, topic_id: TopicId, msg_id: MsgId) -> SubAck {
    let (qos, return_code) = match code.map(|c| (c, mqtt::QoS::from_u8(c.0))) {
        Some((_, Some(granted))) => (super::client::to_sn(granted), ReturnCode::ACCEPTED),
        Some((ReasonCode::TOPIC_FILTER_INVALID, None)) => {
            (Default::default(), ReturnCode::INVALID_TOPIC_ID)
        }
        _ => (Default::default(), ReturnCode::NOT_SUPPORTED),
    };
    let topic_id = if return_code.is_accepted() {
        topic_id
    } else {
        0
    };
    SubAck {
        qos,
        topic_id,
        msg_id,
        return_code,
    }
}

/// Resends and timers are checked this often: a quarter of T_retry, at
/// most once a second, at least every 50 ms.
fn tick_period(t_retry: Duration) -> Duration {
    (t_retry / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

impl Actor for SnClient {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(tick_period(self.gw.config.client.t_retry), |client, ctx| {
            client.on_tick(ctx)
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        let _entered = self.span.clone().entered();
        info!(how = ?self.departure, "disconnected");
        self.detach(self.departure);
        self.leave_link();
    }
}

impl Handler<Inbound> for SnClient {
    type Result = ();

    fn handle(&mut self, msg: Inbound, ctx: &mut Self::Context) {
        let _entered = self.span.clone().entered();
        if let Some(ctrl) = msg.ctrl {
            self.ctrl = ctrl;
        }
        let actions = self.state.on_message(msg.message, Instant::now());
        self.apply(actions, ctx);
        self.drain(ctx);
    }
}

impl Handler<ToConnection> for SnClient {
    type Result = ();

    fn handle(&mut self, msg: ToConnection, ctx: &mut Self::Context) {
        match msg {
            ToConnection::Wake => self.drain(ctx),
            ToConnection::Kick(reason) => {
                let _entered = self.span.clone().entered();
                info!(?reason, "closed by the server");
                // `stopped` still reports the departure: after a takeover the
                // broker holds the old will until it hears how this one ended.
                self.send(&Message::Disconnect(Default::default()));
                ctx.stop();
            }
        }
    }
}
