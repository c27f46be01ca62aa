//! One handler per message a client sends (MQTT-SN 1.2 §6).

use std::time::{Duration, Instant};

use super::{
    Action, Actions, ClientState, Expect, Pending, Receipt, Settle, Status, WillDraft, puback,
    publication, to_mqtt,
};
use crate::broker::publication::Publication;
use crate::broker::router::{Departure, Will};
use crate::protocol::mqttsn::{
    Connect, Disconnect, Message, MsgId, PubAck, Publish, QoS, RegAck, Register, ReturnCode,
    SubAck, Subscribe, SubscribeTopic, Unsubscribe, WillMsg, WillTopic,
};
use crate::protocol::topic;

use super::super::topics::short_name;

impl ClientState {
    /// CONNECT (§6.2), from any state. A client still attached with the same
    /// client id and clean session off resumes its session (asleep, awake or
    /// active); any other CONNECT leaves the old session and starts anew.
    pub(super) fn on_connect(&mut self, connect: Connect, now: Instant) -> Actions {
        let mut actions = Vec::new();
        let resume = self.attached && connect.client_id == self.client_id && !connect.clean_session;
        if self.attached && !resume {
            actions.push(Action::Detach);
            self.attached = false;
            self.key = None;
        }
        // What was in flight stays in the session queue's inflight list and is
        // sent again, with DUP, once the client is active.
        self.outstanding = None;
        self.held = None;
        if !resume {
            self.incoming_qos2.clear();
            if connect.clean_session || connect.client_id != self.client_id {
                self.topics = Default::default();
                self.topics_changed = true;
            }
        }
        self.predefined = self.config.predefined.for_client(&connect.client_id);
        self.client_id = connect.client_id;
        self.clean_session = connect.clean_session;
        self.keep_alive = Duration::from_secs(u64::from(connect.duration));
        self.status = Status::Connecting;
        self.pending = Some(Pending { resume });
        self.will = WillDraft::default();
        if connect.will {
            actions.extend(self.expect(Message::WillTopicReq, Expect::WillTopic, now));
        } else {
            actions.extend(self.finish_connect());
        }
        actions
    }

    /// WILLTOPIC (§6.3); an empty one means no will after all.
    pub(super) fn on_will_topic(&mut self, topic: Option<WillTopic>, now: Instant) -> Actions {
        if !matches!(self.expecting(), Some(Expect::WillTopic | Expect::WillMsg)) {
            return Vec::new();
        }
        let Some(topic) = topic else {
            self.outstanding = None;
            return self.finish_connect();
        };
        if topic::validate_topic_name(&topic.topic).is_err() {
            self.outstanding = None;
            self.status = Status::Disconnected;
            return vec![
                Action::Send(Message::ConnAck(ReturnCode::NOT_SUPPORTED)),
                Action::End(Departure::Clean),
            ];
        }
        self.will.topic = Some(topic);
        self.expect(Message::WillMsgReq, Expect::WillMsg, now)
    }

    /// WILLMSG (§6.3): the will is complete.
    pub(super) fn on_will_msg(&mut self, msg: WillMsg, _now: Instant) -> Actions {
        if self.expecting() != Some(Expect::WillMsg) {
            return Vec::new();
        }
        self.outstanding = None;
        self.will.payload = msg.payload;
        self.finish_connect()
    }

    fn finish_connect(&mut self) -> Actions {
        let will = self.will_of();
        if self.pending.is_some_and(|p| p.resume) {
            self.pending = None;
            self.status = Status::Active;
            return vec![
                Action::SetWill(will),
                Action::Send(Message::ConnAck(ReturnCode::ACCEPTED)),
            ];
        }
        vec![Action::Attach {
            client_id: self.client_id.clone(),
            clean_session: self.clean_session,
            will,
        }]
    }

    fn will_of(&self) -> Option<Will> {
        let topic = self.will.topic.as_ref()?;
        Some(Will {
            publication: Publication {
                topic: topic.topic.clone(),
                payload: self.will.payload.clone(),
                qos: to_mqtt(topic.qos),
                retain: topic.retain,
                properties: None,
                expires_at: None,
                origin: None,
            },
            delay: 0,
        })
    }

    /// REGISTER from the client (§6.5): the id of a topic name, for its PUBLISHes.
    pub(super) fn on_register(&mut self, register: Register) -> Actions {
        let regack = |topic_id, return_code| {
            Action::Send(Message::RegAck(RegAck {
                topic_id,
                msg_id: register.msg_id,
                return_code,
            }))
        };
        if topic::validate_topic_name(&register.topic_name).is_err() {
            return vec![regack(0, ReturnCode::INVALID_TOPIC_ID)];
        }
        match self.topics.assign(&register.topic_name) {
            Some(id) => {
                self.topics.mark_known(id);
                self.topics_changed = true;
                vec![regack(id, ReturnCode::ACCEPTED)]
            }
            None => vec![regack(0, ReturnCode::NOT_SUPPORTED)],
        }
    }

    /// REGACK of our REGISTER (§6.10): the held PUBLISH can go now.
    pub(super) fn on_regack(&mut self, ack: RegAck, now: Instant) -> Actions {
        let Some(Expect::RegAck { topic_id, msg_id }) = self.expecting() else {
            return Vec::new();
        };
        if msg_id != ack.msg_id {
            return Vec::new();
        }
        if ack.return_code == ReturnCode::CONGESTION {
            // Registered again with the message, once the pause is over.
            return self.back_off(now);
        }
        self.outstanding = None;
        let Some(held) = self.held.take() else {
            return Vec::new();
        };
        if !ack.return_code.is_accepted() {
            return held
                .packet_id
                .map(|id| Action::Settle(Settle::Discard(id)))
                .into_iter()
                .collect();
        }
        self.topics.mark_known(topic_id);
        self.topics_changed = true;
        let topic = crate::protocol::mqttsn::Topic::Normal(topic_id);
        self.send_publish(topic, held.packet_id, &held.delivery, held.dup, now)
    }

    /// PUBLISH from the client (§6.6, §6.7): forwarded to the broker; an
    /// unknown topic id is answered with PUBACK 0x02 whatever the QoS.
    pub(super) fn on_publish(&mut self, publish: Publish) -> Actions {
        let wire_id = publish.topic.wire_id();
        let Some(topic) = self.incoming_topic(publish.topic) else {
            return vec![Action::Send(puback(
                wire_id,
                publish.msg_id,
                ReturnCode::INVALID_TOPIC_ID,
            ))];
        };
        let receipt = match publish.qos {
            QoS::AtLeastOnce => Receipt::PubAck {
                topic_id: wire_id,
                msg_id: publish.msg_id,
            },
            QoS::ExactlyOnce => {
                if !self.incoming_qos2.insert(publish.msg_id) {
                    // A resent QoS 2 message: acknowledged again, forwarded once.
                    return vec![Action::Send(Message::PubRec(publish.msg_id))];
                }
                Receipt::PubRec {
                    topic_id: wire_id,
                    msg_id: publish.msg_id,
                }
            }
            QoS::AtMostOnce | QoS::MinusOne => Receipt::None,
        };
        vec![Action::Forward {
            publication: publication(topic, &publish, self.key),
            receipt,
        }]
    }

    /// PUBACK of our QoS 1 PUBLISH, or a rejection of our QoS 2 one.
    pub(super) fn on_puback(&mut self, ack: PubAck, now: Instant) -> Actions {
        let (Some(Expect::PubAck(id)) | Some(Expect::PubRec(id))) = self.expecting() else {
            return Vec::new();
        };
        if id.get() != ack.msg_id {
            return Vec::new();
        }
        if ack.return_code == ReturnCode::CONGESTION {
            return self.back_off(now);
        }
        if ack.return_code == ReturnCode::INVALID_TOPIC_ID {
            // The client lost its topic table (a reboot): register again next time.
            self.topics.mark_unknown(ack.topic_id);
        }
        let settle = if self.expecting() == Some(Expect::PubAck(id)) {
            Settle::PubAck(id)
        } else {
            Settle::Discard(id)
        };
        self.outstanding = None;
        vec![Action::Settle(settle)]
    }

    pub(super) fn on_pubrec(&mut self, msg_id: MsgId, now: Instant) -> Actions {
        match self.expecting() {
            Some(Expect::PubRec(id)) if id.get() == msg_id => {
                let mut actions = vec![Action::Settle(Settle::PubRec(id))];
                actions.extend(self.redeliver_pubrel(id, now));
                actions
            }
            // Our PUBREL was lost and the client repeats PUBREC.
            Some(Expect::PubComp(id)) if id.get() == msg_id => {
                vec![Action::Send(Message::PubRel(msg_id))]
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn on_pubcomp(&mut self, msg_id: MsgId) -> Actions {
        match self.expecting() {
            Some(Expect::PubComp(id)) if id.get() == msg_id => {
                self.outstanding = None;
                vec![Action::Settle(Settle::PubComp(id))]
            }
            _ => Vec::new(),
        }
    }

    /// SUBSCRIBE (§6.9) by topic name or filter, predefined id or short name.
    /// A name without wildcards gets its id in the SUBACK; a filter gets 0,
    /// and each topic it matches is REGISTERed before its first PUBLISH.
    pub(super) fn on_subscribe(&mut self, subscribe: Subscribe) -> Actions {
        let refuse = |return_code| {
            vec![Action::Send(Message::SubAck(SubAck {
                qos: QoS::AtMostOnce,
                topic_id: 0,
                msg_id: subscribe.msg_id,
                return_code,
            }))]
        };
        if subscribe.qos == QoS::MinusOne {
            return refuse(ReturnCode::NOT_SUPPORTED);
        }
        let (filter, topic_id) = match &subscribe.topic {
            SubscribeTopic::Name(filter) => {
                if topic::validate_topic_filter(filter).is_err() {
                    return refuse(ReturnCode::INVALID_TOPIC_ID);
                }
                if filter.contains(['+', '#']) {
                    (filter.clone(), 0)
                } else {
                    let Some(id) = self.topics.assign(filter) else {
                        return refuse(ReturnCode::NOT_SUPPORTED);
                    };
                    self.topics.mark_known(id);
                    self.topics_changed = true;
                    (filter.clone(), id)
                }
            }
            SubscribeTopic::Predefined(id) => match self.predefined.name(*id) {
                Some(name) => (name.clone(), *id),
                None => return refuse(ReturnCode::INVALID_TOPIC_ID),
            },
            SubscribeTopic::Short(name) => match short_name(*name) {
                Some(name) if topic::validate_topic_filter(&name).is_ok() => (name, 0),
                _ => return refuse(ReturnCode::INVALID_TOPIC_ID),
            },
        };
        vec![Action::Subscribe {
            msg_id: subscribe.msg_id,
            filter,
            qos: to_mqtt(subscribe.qos),
            topic_id,
        }]
    }

    pub(super) fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe) -> Actions {
        let filter = match unsubscribe.topic {
            SubscribeTopic::Name(filter) => Some(filter),
            SubscribeTopic::Predefined(id) => self.predefined.name(id).cloned(),
            SubscribeTopic::Short(name) => short_name(name),
        };
        match filter {
            Some(filter) => vec![Action::Unsubscribe {
                msg_id: unsubscribe.msg_id,
                filter,
            }],
            // Nothing it could be subscribed to: nothing to remove.
            None => vec![Action::Send(Message::UnsubAck(unsubscribe.msg_id))],
        }
    }

    /// PINGREQ (§6.11, §6.14): a keep-alive while active; a sleeping client
    /// waking up to collect what was buffered for it, PINGRESP coming last.
    pub(super) fn on_pingreq(&mut self) -> Actions {
        match self.status {
            Status::Asleep => {
                self.status = Status::Awake;
                Vec::new()
            }
            // Still sending what was buffered: PINGRESP comes at the end.
            Status::Awake => Vec::new(),
            _ => vec![Action::Send(Message::PingResp)],
        }
    }

    /// DISCONNECT (§6.12, §6.14): with a duration, the client goes to sleep
    /// and its messages are kept; without, it leaves (its will is discarded).
    pub(super) fn on_disconnect(&mut self, disconnect: Disconnect) -> Actions {
        let ack = Action::Send(Message::Disconnect(Disconnect::default()));
        match disconnect.duration {
            Some(seconds) if seconds > 0 => {
                self.status = Status::Asleep;
                self.sleep = Duration::from_secs(u64::from(seconds));
                // Whatever was in flight stays in the session's inflight list
                // and is sent again, with DUP, when the client wakes.
                self.outstanding = None;
                self.held = None;
                vec![ack]
            }
            _ => {
                self.status = Status::Disconnected;
                vec![ack, Action::End(Departure::Clean)]
            }
        }
    }

    /// WILLTOPICUPD (§6.4): a new will topic (the message is kept); an empty one deletes the will.
    pub(super) fn on_will_topic_update(&mut self, topic: Option<WillTopic>) -> Actions {
        let resp = |rc| Action::Send(Message::WillTopicResp(rc));
        match topic {
            None => self.will = WillDraft::default(),
            Some(topic) if topic::validate_topic_name(&topic.topic).is_err() => {
                return vec![resp(ReturnCode::NOT_SUPPORTED)];
            }
            Some(topic) => self.will.topic = Some(topic),
        }
        vec![Action::SetWill(self.will_of()), resp(ReturnCode::ACCEPTED)]
    }

    /// WILLMSGUPD (§6.4): a new will message for the current will topic.
    pub(super) fn on_will_msg_update(&mut self, msg: WillMsg) -> Actions {
        self.will.payload = msg.payload;
        vec![
            Action::SetWill(self.will_of()),
            Action::Send(Message::WillMsgResp(ReturnCode::ACCEPTED)),
        ]
    }
}
