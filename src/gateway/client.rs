//! The MQTT-SN client state machine (MQTT-SN 1.2 §6): one per client, pure.
//!
//! Inputs are messages from the client, deliveries from its session queue,
//! the broker's answers, and clock ticks, with the time passed in; outputs are
//! [`Action`]s for the `SnClient` actor to carry out (send a message, forward
//! a publication, attach to the broker session, …). No runtime and no clock
//! here, so every rule is unit-tested with time as a value.
//!
//! States (§6.14): `Disconnected` → CONNECT → `Connecting` (will flow, broker
//! attach) → `Active`; DISCONNECT(duration) → `Asleep`; PINGREQ → `Awake`
//! (buffered messages sent, then PINGRESP) → `Asleep`; CONNECT resumes from
//! any of them; silence past 1.5× the keep-alive or sleep duration → `Lost`
//! (the broker publishes the will); DISCONNECT → `Disconnected`.
//!
//! One message per direction is in flight (§6.13 "at most one"): the gateway
//! holds a delivery back until the previous one is acknowledged, and a PUBLISH
//! on a topic the client has no id for waits for its REGISTER's REGACK.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use bytestring::ByteString;

use super::topics::{Predefined, PredefinedTopics, TopicTable, short_name};
use crate::broker::publication::{Delivery, Publication, SessionKey};
use crate::broker::router::{Departure, Will};
use crate::protocol::mqtt::{self, PacketId};
use crate::protocol::mqttsn::{
    Disconnect, Message, MsgId, PubAck, Publish, QoS, Register, ReturnCode, ShortName, Topic,
    TopicId, WillTopic,
};

/// Settings every client of a gateway shares.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// T_retry: time to wait for an acknowledgement before resending.
    pub t_retry: Duration,
    /// T_WAIT: pause after the client answered "rejected: congestion".
    pub t_wait: Duration,
    /// N_retry: resends before the client is taken for lost.
    pub n_retry: u8,
    pub predefined: Arc<PredefinedTopics>,
}

/// Where a client stands (§6.14, plus the CONNECT handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Disconnected,
    /// CONNECT received; the will flow or the broker is being waited for.
    Connecting,
    Active,
    Asleep,
    Awake,
    Lost,
}

/// What the gateway answers a client's PUBLISH, once it knows whether the
/// broker took the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// QoS 0 and −1: no answer.
    None,
    /// QoS 1: PUBACK.
    PubAck { topic_id: TopicId, msg_id: MsgId },
    /// QoS 2: PUBREC.
    PubRec { topic_id: TopicId, msg_id: MsgId },
}

impl Receipt {
    /// The answer when the broker took the message.
    pub fn accepted(self) -> Option<Message> {
        match self {
            Self::None => None,
            Self::PubAck { topic_id, msg_id } => {
                Some(puback(topic_id, msg_id, ReturnCode::ACCEPTED))
            }
            Self::PubRec { msg_id, .. } => Some(Message::PubRec(msg_id)),
        }
    }

    /// The answer when the broker could not take it: PUBACK "congestion" for
    /// QoS 1 and 2 (§5.4.13: PUBACK also rejects a QoS 2 PUBLISH), so the node retries.
    pub fn congested(self) -> Option<Message> {
        match self {
            Self::None => None,
            Self::PubAck { topic_id, msg_id } | Self::PubRec { topic_id, msg_id } => {
                Some(puback(topic_id, msg_id, ReturnCode::CONGESTION))
            }
        }
    }
}

/// An acknowledgement to apply to the session queue's inflight entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    PubAck(PacketId),
    PubRec(PacketId),
    PubComp(PacketId),
    /// The message will never be delivered (refused by the client, or no topic id left).
    Discard(PacketId),
}

/// What the actor is asked to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this message to the client.
    Send(Message),
    /// Leave the broker session cleanly (a CONNECT that does not resume it).
    Detach,
    /// Attach to the broker session; answer with [`ClientState::on_attached`].
    Attach {
        client_id: ByteString,
        clean_session: bool,
        will: Option<Will>,
    },
    /// Hand a publication to the broker; answer the client as `receipt` says.
    Forward {
        publication: Publication,
        receipt: Receipt,
    },
    /// Subscribe; answer with a SUBACK carrying `topic_id`.
    Subscribe {
        msg_id: MsgId,
        filter: ByteString,
        qos: mqtt::QoS,
        topic_id: TopicId,
    },
    /// Unsubscribe; answer with UNSUBACK.
    Unsubscribe { msg_id: MsgId, filter: ByteString },
    /// Replace the will kept by the broker.
    SetWill(Option<Will>),
    /// Apply an acknowledgement to the session queue.
    Settle(Settle),
    /// The client is gone: tell the broker how, and stop.
    End(Departure),
}

/// The actions of one input.
pub type Actions = Vec<Action>;

/// What the gateway waits for from the client, with what it sent to ask.
#[derive(Debug, Clone)]
struct Outstanding {
    message: Message,
    sent_at: Instant,
    resends: u8,
    expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    WillTopic,
    WillMsg,
    RegAck { topic_id: TopicId, msg_id: MsgId },
    PubAck(PacketId),
    PubRec(PacketId),
    PubComp(PacketId),
}

/// A delivery waiting for the REGACK of its topic.
#[derive(Debug, Clone)]
struct Held {
    packet_id: Option<PacketId>,
    delivery: Delivery,
    dup: bool,
}

/// A CONNECT being handled.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Same client id, clean session off, broker session still attached:
    /// CONNECTing again resumes it without leaving it (§6.14 "CONNECT while asleep").
    resume: bool,
}

/// The will as the client described it (WILLTOPIC/WILLMSG and their updates).
#[derive(Debug, Clone, Default)]
struct WillDraft {
    topic: Option<WillTopic>,
    payload: Bytes,
}

/// One MQTT-SN client's protocol state.
#[derive(Debug)]
pub struct ClientState {
    config: ClientConfig,
    status: Status,
    /// The client answered "congestion": nothing is sent to it until then (T_WAIT).
    paused_until: Option<Instant>,
    client_id: ByteString,
    /// The predefined ids this client has (the shared ones, or its own view).
    predefined: Arc<Predefined>,
    clean_session: bool,
    keep_alive: Duration,
    sleep: Duration,
    last_heard: Instant,
    attached: bool,
    key: Option<SessionKey>,
    pending: Option<Pending>,
    will: WillDraft,
    topics: TopicTable,
    topics_changed: bool,
    outstanding: Option<Outstanding>,
    held: Option<Held>,
    incoming_qos2: HashSet<MsgId>,
    next_msg_id: MsgId,
}

/// 1.5 × a duration: the grace the spec allows past keep-alive (§6.2 of 2.0,
/// Paho's `Client.cpp`) and, for symmetry, past a sleep duration.
fn grace(duration: Duration) -> Duration {
    duration + duration / 2
}

fn puback(topic_id: TopicId, msg_id: MsgId, return_code: ReturnCode) -> Message {
    Message::PubAck(PubAck {
        topic_id,
        msg_id,
        return_code,
    })
}

/// MQTT-SN QoS to MQTT QoS: −1 travels on as 0.
pub fn to_mqtt(qos: QoS) -> mqtt::QoS {
    match qos {
        QoS::AtMostOnce | QoS::MinusOne => mqtt::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqtt::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqtt::QoS::ExactlyOnce,
    }
}

/// MQTT QoS to MQTT-SN QoS.
pub fn to_sn(qos: mqtt::QoS) -> QoS {
    match qos {
        mqtt::QoS::AtMostOnce => QoS::AtMostOnce,
        mqtt::QoS::AtLeastOnce => QoS::AtLeastOnce,
        mqtt::QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

/// A publication from an MQTT-SN client (or a QoS −1 node) for the broker.
pub fn publication(
    topic: ByteString,
    publish: &Publish,
    origin: Option<SessionKey>,
) -> Publication {
    Publication {
        topic,
        payload: publish.payload.clone(),
        qos: to_mqtt(publish.qos),
        retain: publish.retain,
        properties: None,
        expires_at: None,
        origin,
    }
}

impl ClientState {
    /// A client that has sent nothing yet.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        Self {
            paused_until: None,
            predefined: config.predefined.shared().clone(),
            config,
            status: Status::Disconnected,
            client_id: ByteString::new(),
            clean_session: true,
            keep_alive: Duration::ZERO,
            sleep: Duration::ZERO,
            last_heard: now,
            attached: false,
            key: None,
            pending: None,
            will: WillDraft::default(),
            topics: TopicTable::default(),
            topics_changed: false,
            outstanding: None,
            held: None,
            incoming_qos2: HashSet::new(),
            next_msg_id: 0,
        }
    }

    /// Where the client stands.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The client id of the last CONNECT.
    pub fn client_id(&self) -> &ByteString {
        &self.client_id
    }

    /// Whether the session outlives the connection (clean session off).
    pub fn persistent(&self) -> bool {
        !self.clean_session
    }

    /// The topic table, if it changed since the last call: the actor saves it
    /// for persistent sessions.
    pub fn take_changed_topics(&mut self) -> Option<&TopicTable> {
        std::mem::take(&mut self.topics_changed).then_some(&self.topics)
    }

    /// Puts back the table a persistent session had on an earlier connection.
    pub fn restore_topics(&mut self, table: TopicTable) {
        self.topics = table;
    }

    /// True when the actor should take the next message from the session
    /// queue: the client is awake and nothing is waiting for its answer.
    pub fn wants_delivery(&self) -> bool {
        matches!(self.status, Status::Active | Status::Awake)
            && self.outstanding.is_none()
            && self.held.is_none()
            && self.paused_until.is_none()
    }

    /// One message from the client.
    pub fn on_message(&mut self, message: Message, now: Instant) -> Actions {
        self.last_heard = now;
        if let Message::Connect(connect) = message {
            return self.on_connect(connect, now);
        }
        if self.status == Status::Connecting {
            return match message {
                Message::WillTopic(topic) => self.on_will_topic(topic, now),
                Message::WillMsg(msg) => self.on_will_msg(msg, now),
                // Nothing else is expected before CONNACK.
                _ => Vec::new(),
            };
        }
        if !self.attached {
            // §6.2 / EMQX: a client that is not connected is told so.
            return match message {
                Message::Disconnect(_) => Vec::new(),
                _ => vec![Action::Send(Message::Disconnect(Disconnect::default()))],
            };
        }
        match message {
            Message::Register(register) => self.on_register(register),
            Message::RegAck(ack) => self.on_regack(ack, now),
            Message::Publish(publish) => self.on_publish(publish),
            Message::PubAck(ack) => self.on_puback(ack, now),
            Message::PubRec(msg_id) => self.on_pubrec(msg_id, now),
            Message::PubRel(msg_id) => {
                self.incoming_qos2.remove(&msg_id);
                vec![Action::Send(Message::PubComp(msg_id))]
            }
            Message::PubComp(msg_id) => self.on_pubcomp(msg_id),
            Message::Subscribe(subscribe) => self.on_subscribe(subscribe),
            Message::Unsubscribe(unsubscribe) => self.on_unsubscribe(unsubscribe),
            Message::PingReq(_) => self.on_pingreq(),
            Message::Disconnect(disconnect) => self.on_disconnect(disconnect),
            Message::WillTopicUpd(topic) => self.on_will_topic_update(topic),
            Message::WillMsgUpd(msg) => self.on_will_msg_update(msg),
            // A WILLTOPIC or WILLMSG resent after CONNACK, gateway-only
            // messages, discovery: nothing to do for a connected client.
            _ => Vec::new(),
        }
    }

    /// The broker attached the session.
    pub fn on_attached(&mut self, key: SessionKey, now: Instant) -> Actions {
        self.attached = true;
        self.key = Some(key);
        self.pending = None;
        self.status = Status::Active;
        self.last_heard = now;
        vec![Action::Send(Message::ConnAck(ReturnCode::ACCEPTED))]
    }

    /// The broker could not be reached: the client is told to retry later.
    pub fn on_attach_failed(&mut self) -> Actions {
        self.status = Status::Disconnected;
        vec![
            Action::Send(Message::ConnAck(ReturnCode::CONGESTION)),
            Action::End(Departure::Clean),
        ]
    }

    /// The broker could not take a QoS 2 message: the client will send it
    /// again, and it must then be forwarded, not taken for a duplicate.
    pub fn forward_refused(&mut self, msg_id: MsgId) {
        self.incoming_qos2.remove(&msg_id);
    }

    /// Time passed: resends and the keep-alive and sleep timers.
    pub fn on_tick(&mut self, now: Instant) -> Actions {
        if self.paused_until.is_some_and(|until| now >= until) {
            // Deliveries resume: the message the client refused goes first, with DUP.
            self.paused_until = None;
        }
        if let Some(outstanding) = &mut self.outstanding
            && now.saturating_duration_since(outstanding.sent_at) >= self.config.t_retry
        {
            if outstanding.resends >= self.config.n_retry {
                return self.lose();
            }
            outstanding.resends += 1;
            outstanding.sent_at = now;
            if let Message::Publish(publish) = &mut outstanding.message {
                publish.dup = true;
            }
            return vec![Action::Send(outstanding.message.clone())];
        }
        let silent = now.saturating_duration_since(self.last_heard);
        let limit = match self.status {
            Status::Active if !self.keep_alive.is_zero() => grace(self.keep_alive),
            Status::Asleep | Status::Awake => grace(self.sleep),
            _ => return Vec::new(),
        };
        if silent > limit {
            return self.lose();
        }
        Vec::new()
    }

    /// The next delivery from the session queue; call only when
    /// [`Self::wants_delivery`]. `packet_id` is set for QoS 1 and 2, and `dup`
    /// for a message sent before (a resumed session, a client that slept).
    pub fn deliver(
        &mut self,
        packet_id: Option<PacketId>,
        delivery: &Delivery,
        dup: bool,
        now: Instant,
    ) -> Actions {
        let name = &delivery.publication.topic;
        if let Some(topic) = self.outgoing_topic(name) {
            return self.send_publish(topic, packet_id, delivery, dup, now);
        }
        let Some(topic_id) = self.topics.assign(name) else {
            // No id left for this client: the message cannot be delivered.
            return packet_id
                .map(|id| Action::Settle(Settle::Discard(id)))
                .into_iter()
                .collect();
        };
        self.topics_changed = true;
        self.held = Some(Held {
            packet_id,
            delivery: delivery.clone(),
            dup,
        });
        let msg_id = self.next_msg_id();
        let register = Message::Register(Register {
            topic_id,
            msg_id,
            topic_name: name.clone(),
        });
        self.expect(register, Expect::RegAck { topic_id, msg_id }, now)
    }

    /// Resends the PUBREL of a QoS 2 delivery whose PUBCOMP never came.
    pub fn redeliver_pubrel(&mut self, packet_id: PacketId, now: Instant) -> Actions {
        let pubrel = Message::PubRel(packet_id.get());
        self.expect(pubrel, Expect::PubComp(packet_id), now)
    }

    /// The session queue is empty. An awake client has had everything: it
    /// gets its PINGRESP and goes back to sleep (§6.14).
    pub fn idle(&mut self, now: Instant) -> Actions {
        if self.status == Status::Awake && self.outstanding.is_none() && self.held.is_none() {
            self.status = Status::Asleep;
            self.last_heard = now;
            return vec![Action::Send(Message::PingResp)];
        }
        Vec::new()
    }

    /// The client answered "rejected: congestion" (§5.3.10): what it refused
    /// stays in the session queue, unacknowledged, and goes again with DUP
    /// after T_WAIT. An awake sleeper gets its PINGRESP now instead, and the
    /// rest on its next wake.
    fn back_off(&mut self, now: Instant) -> Actions {
        self.outstanding = None;
        self.held = None;
        if self.status == Status::Awake {
            return self.idle(now);
        }
        self.paused_until = Some(now + self.config.t_wait);
        Vec::new()
    }

    fn lose(&mut self) -> Actions {
        self.outstanding = None;
        self.held = None;
        self.status = Status::Lost;
        vec![Action::End(Departure::Abnormal)]
    }

    fn next_msg_id(&mut self) -> MsgId {
        self.next_msg_id = self.next_msg_id.checked_add(1).unwrap_or(1);
        self.next_msg_id
    }

    /// Sends `message` and waits for its answer, resending it meanwhile.
    fn expect(&mut self, message: Message, expect: Expect, now: Instant) -> Actions {
        self.outstanding = Some(Outstanding {
            message: message.clone(),
            sent_at: now,
            resends: 0,
            expect,
        });
        vec![Action::Send(message)]
    }

    fn expecting(&self) -> Option<Expect> {
        self.outstanding.as_ref().map(|o| o.expect)
    }

    /// How a topic name reaches this client without a REGISTER, if it can:
    /// as a predefined id, a short name, or an id the client already knows.
    fn outgoing_topic(&self, name: &ByteString) -> Option<Topic> {
        if let Some(id) = self.predefined.id(name) {
            return Some(Topic::Predefined(id));
        }
        if let [a, b] = name.as_bytes()[..] {
            return Some(Topic::Short(ShortName([a, b])));
        }
        self.topics.known_id(name).map(Topic::Normal)
    }

    /// The topic name a client's PUBLISH refers to.
    fn incoming_topic(&self, topic: Topic) -> Option<ByteString> {
        match topic {
            Topic::Normal(id) => self.topics.name(id).cloned(),
            Topic::Predefined(id) => self.predefined.name(id).cloned(),
            Topic::Short(name) => short_name(name),
        }
    }

    fn send_publish(
        &mut self,
        topic: Topic,
        packet_id: Option<PacketId>,
        delivery: &Delivery,
        dup: bool,
        now: Instant,
    ) -> Actions {
        let publish = Message::Publish(Publish {
            dup,
            qos: to_sn(delivery.qos),
            retain: delivery.retain,
            topic,
            msg_id: packet_id.map_or(0, PacketId::get),
            payload: delivery.publication.payload.clone(),
        });
        match (packet_id, delivery.qos) {
            (Some(id), mqtt::QoS::AtLeastOnce) => self.expect(publish, Expect::PubAck(id), now),
            (Some(id), mqtt::QoS::ExactlyOnce) => self.expect(publish, Expect::PubRec(id), now),
            _ => vec![Action::Send(publish)],
        }
    }
}

mod handlers;

#[cfg(test)]
mod tests;
