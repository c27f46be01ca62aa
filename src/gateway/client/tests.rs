//! The state machine with time passed in: no runtime, no sleeps.

use std::collections::BTreeMap;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::broker::publication::{Delivery, Publication, SessionKey};
use crate::gateway::topics::PredefinedTopics;
use crate::protocol::mqtt;
use crate::protocol::mqttsn::{
    Connect, Disconnect, Message, PingReq, PubAck, Publish, QoS, RegAck, Register, ReturnCode,
    ShortName, SubAck, Subscribe, SubscribeTopic, Topic, WillMsg, WillTopic,
};

const T_RETRY: Duration = Duration::from_secs(10);
const T_WAIT: Duration = Duration::from_secs(300);

fn config() -> ClientConfig {
    ClientConfig {
        t_retry: T_RETRY,
        t_wait: T_WAIT,
        n_retry: 2,
        predefined: Arc::new(PredefinedTopics::new(
            &BTreeMap::from([(5, "home/temp".to_owned())]),
            // A node whose firmware has other ids: 5 is its garage sensor,
            // and it knows "home/temp" as 6.
            &BTreeMap::from([(
                "garage-node".to_owned(),
                BTreeMap::from([(5, "garage/temp".to_owned()), (6, "home/temp".to_owned())]),
            )]),
        )),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn connect_msg(id: &str, clean: bool, will: bool, duration: u16) -> Message {
    Message::Connect(Connect {
        will,
        clean_session: clean,
        duration,
        client_id: id.into(),
    })
}

/// A client past CONNACK, with a keep-alive of `duration` seconds.
fn active(t0: Instant, duration: u16) -> ClientState {
    let mut c = ClientState::new(config(), t0);
    let actions = c.on_message(connect_msg("node", true, false, duration), t0);
    assert!(
        matches!(actions.as_slice(), [Action::Attach { .. }]),
        "{actions:?}"
    );
    assert_eq!(
        c.on_attached(SessionKey(1), t0),
        [Action::Send(Message::ConnAck(ReturnCode::ACCEPTED))]
    );
    assert_eq!(c.status(), Status::Active);
    c
}

fn delivery(topic: &str, qos: mqtt::QoS) -> Delivery {
    Delivery {
        publication: Arc::new(Publication {
            topic: topic.into(),
            payload: Bytes::from_static(b"21.5"),
            qos,
            retain: false,
            properties: Default::default(),
            expires_at: None,
            origin: None,
        }),
        qos,
        retain: false,
        subscription_ids: Vec::new(),
    }
}

fn pid(n: u16) -> PacketId {
    NonZeroU16::new(n).unwrap()
}

fn sent(actions: &[Action]) -> Vec<Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn publish_msg(topic: Topic) -> Message {
    Message::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic,
        msg_id: 0,
        payload: Bytes::from_static(b"x"),
    })
}

fn publish_of(actions: &[Action]) -> Publish {
    match sent(actions).as_slice() {
        [Message::Publish(p)] => p.clone(),
        other => panic!("expected one PUBLISH, got {other:?}"),
    }
}

#[test]
fn message_before_connect_is_answered_with_disconnect() {
    let t0 = Instant::now();
    let mut c = ClientState::new(config(), t0);
    let actions = c.on_message(Message::PingReq(PingReq::default()), t0);
    assert_eq!(sent(&actions), [Message::Disconnect(Disconnect::default())]);
}

#[test]
fn will_flow_asks_for_topic_then_message_then_attaches_with_the_will() {
    let t0 = Instant::now();
    let mut c = ClientState::new(config(), t0);
    let actions = c.on_message(connect_msg("node", true, true, 60), t0);
    assert_eq!(sent(&actions), [Message::WillTopicReq]);
    // Not answered: asked again after T_retry.
    assert!(c.on_tick(t0 + secs(9)).is_empty());
    assert_eq!(sent(&c.on_tick(t0 + T_RETRY)), [Message::WillTopicReq]);
    let topic = WillTopic {
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: "nodes/node/status".into(),
    };
    let actions = c.on_message(Message::WillTopic(Some(topic)), t0 + secs(11));
    assert_eq!(sent(&actions), [Message::WillMsgReq]);
    let will = WillMsg {
        payload: Bytes::from_static(b"gone"),
    };
    let actions = c.on_message(Message::WillMsg(will), t0 + secs(12));
    let [
        Action::Attach {
            will: Some(will),
            client_id,
            clean_session: true,
        },
    ] = actions.as_slice()
    else {
        panic!("expected an attach with a will: {actions:?}");
    };
    assert_eq!(client_id, "node");
    assert_eq!(will.publication.topic, "nodes/node/status");
    assert_eq!(will.publication.payload, "gone");
    assert_eq!(will.publication.qos, mqtt::QoS::AtLeastOnce);
    assert!(will.publication.retain);
    // No resend once the flow is over.
    assert!(c.on_tick(t0 + secs(40)).is_empty());
}

#[test]
fn will_flow_gives_up_after_n_retry() {
    let t0 = Instant::now();
    let mut c = ClientState::new(config(), t0);
    c.on_message(connect_msg("node", true, true, 60), t0);
    assert_eq!(sent(&c.on_tick(t0 + secs(10))), [Message::WillTopicReq]);
    assert_eq!(sent(&c.on_tick(t0 + secs(20))), [Message::WillTopicReq]);
    assert_eq!(c.on_tick(t0 + secs(30)), [Action::End(Departure::Abnormal)]);
    assert_eq!(c.status(), Status::Lost);
}

#[test]
fn empty_will_topic_means_no_will() {
    let t0 = Instant::now();
    let mut c = ClientState::new(config(), t0);
    c.on_message(connect_msg("node", true, true, 60), t0);
    let actions = c.on_message(Message::WillTopic(None), t0);
    assert!(matches!(
        actions.as_slice(),
        [Action::Attach { will: None, .. }]
    ));
}

#[test]
fn client_register_then_publish_by_id_and_unknown_id_gets_puback_0x02() {
    let t0 = Instant::now();
    let mut c = active(t0, 60);
    let register = Register {
        topic_id: 0,
        msg_id: 3,
        topic_name: "home/hall/temp".into(),
    };
    let actions = c.on_message(Message::Register(register), t0);
    let [
        Message::RegAck(RegAck {
            topic_id,
            msg_id: 3,
            return_code,
        }),
    ] = sent(&actions)[..]
    else {
        panic!("{actions:?}");
    };
    assert!(return_code.is_accepted());
    let publish = |topic, qos, msg_id| {
        Message::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic,
            msg_id,
            payload: Bytes::from_static(b"x"),
        })
    };
    let actions = c.on_message(publish(Topic::Normal(topic_id), QoS::AtLeastOnce, 4), t0);
    let [
        Action::Forward {
            publication,
            receipt,
        },
    ] = actions.as_slice()
    else {
        panic!("{actions:?}");
    };
    assert_eq!(publication.topic, "home/hall/temp");
    assert_eq!(publication.origin, Some(SessionKey(1)));
    assert_eq!(
        *receipt,
        Receipt::PubAck {
            topic_id,
            msg_id: 4
        }
    );
    let actions = c.on_message(publish(Topic::Normal(99), QoS::AtMostOnce, 0), t0);
    assert_eq!(
        sent(&actions),
        [Message::PubAck(PubAck {
            topic_id: 99,
            msg_id: 0,
            return_code: ReturnCode::INVALID_TOPIC_ID
        })]
    );
    // Predefined and short topics need no REGISTER.
    let actions = c.on_message(publish(Topic::Predefined(5), QoS::AtMostOnce, 0), t0);
    assert!(
        matches!(&actions[..], [Action::Forward { publication, .. }] if publication.topic == "home/temp")
    );
    let actions = c.on_message(
        publish(Topic::Short(ShortName(*b"ab")), QoS::AtMostOnce, 0),
        t0,
    );
    assert!(
        matches!(&actions[..], [Action::Forward { publication, .. }] if publication.topic == "ab")
    );
}

#[test]
fn qos2_from_the_client_is_forwarded_once() {
    let t0 = Instant::now();
    let mut c = active(t0, 60);
    let publish = |dup| {
        Message::Publish(Publish {
            dup,
            qos: QoS::ExactlyOnce,
            retain: false,
            topic: Topic::Predefined(5),
            msg_id: 9,
            payload: Bytes::from_static(b"x"),
        })
    };
    let first = c.on_message(publish(false), t0);
    assert!(matches!(
        first.as_slice(),
        [Action::Forward {
            receipt: Receipt::PubRec { msg_id: 9, .. },
            ..
        }]
    ));
    assert_eq!(sent(&c.on_message(publish(true), t0)), [Message::PubRec(9)]);
    assert_eq!(
        sent(&c.on_message(Message::PubRel(9), t0)),
        [Message::PubComp(9)]
    );
    assert!(matches!(
        c.on_message(publish(false), t0).as_slice(),
        [Action::Forward { .. }]
    ));
}

#[test]
fn gateway_registers_a_topic_before_its_first_publish() {
    let t0 = Instant::now();
    let mut c = active(t0, 60);
    assert!(c.wants_delivery());
    let actions = c.deliver(
        None,
        &delivery("home/kitchen/temp", mqtt::QoS::AtMostOnce),
        false,
        t0,
    );
    let [
        Message::Register(Register {
            topic_id,
            msg_id,
            ref topic_name,
        }),
    ] = sent(&actions)[..]
    else {
        panic!("{actions:?}");
    };
    assert_eq!(topic_name, "home/kitchen/temp");
    assert!(!c.wants_delivery(), "the PUBLISH waits for REGACK");
    // A REGACK for another message id changes nothing.
    let wrong = RegAck {
        topic_id,
        msg_id: msg_id + 1,
        return_code: ReturnCode::ACCEPTED,
    };
    assert!(c.on_message(Message::RegAck(wrong), t0).is_empty());
    let ack = RegAck {
        topic_id,
        msg_id,
        return_code: ReturnCode::ACCEPTED,
    };
    let publish = publish_of(&c.on_message(Message::RegAck(ack), t0));
    assert_eq!(publish.topic, Topic::Normal(topic_id));
    assert_eq!(publish.payload, "21.5");
    assert!(c.wants_delivery(), "QoS 0 needs no acknowledgement");
    // The id is known now: the next message goes straight out.
    let again = c.deliver(
        None,
        &delivery("home/kitchen/temp", mqtt::QoS::AtMostOnce),
        false,
        t0,
    );
    assert_eq!(publish_of(&again).topic, Topic::Normal(topic_id));
    // Predefined topics and short names are never registered.
    let predefined = c.deliver(
        None,
        &delivery("home/temp", mqtt::QoS::AtMostOnce),
        false,
        t0,
    );
    assert_eq!(publish_of(&predefined).topic, Topic::Predefined(5));
    let short = c.deliver(None, &delivery("ab", mqtt::QoS::AtMostOnce), false, t0);
    assert_eq!(publish_of(&short).topic, Topic::Short(ShortName(*b"ab")));
}

#[test]
fn a_client_with_its_own_predefined_ids_uses_them_both_ways() {
    let t0 = Instant::now();
    let mut c = ClientState::new(config(), t0);
    c.on_message(connect_msg("garage-node", true, false, 60), t0);
    c.on_attached(SessionKey(1), t0);
    let actions = c.on_message(publish_msg(Topic::Predefined(5)), t0);
    assert!(
        matches!(&actions[..], [Action::Forward { publication, .. }] if publication.topic == "garage/temp"),
        "{actions:?}"
    );
    let out = c.deliver(
        None,
        &delivery("home/temp", mqtt::QoS::AtMostOnce),
        false,
        t0,
    );
    assert_eq!(publish_of(&out).topic, Topic::Predefined(6));
    // Another client on the same gateway keeps the shared table.
    let mut other = active(t0, 60);
    let actions = other.on_message(publish_msg(Topic::Predefined(5)), t0);
    assert!(
        matches!(&actions[..], [Action::Forward { publication, .. }] if publication.topic == "home/temp")
    );
}

#[test]
fn register_refused_for_congestion_is_tried_again_after_t_wait() {
    let t0 = Instant::now();
    let mut c = active(t0, 0);
    let actions = c.deliver(
        Some(pid(1)),
        &delivery("a/b", mqtt::QoS::AtLeastOnce),
        false,
        t0,
    );
    let [
        Message::Register(Register {
            topic_id, msg_id, ..
        }),
    ] = sent(&actions)[..]
    else {
        panic!("{actions:?}");
    };
    let busy = RegAck {
        topic_id,
        msg_id,
        return_code: ReturnCode::CONGESTION,
    };
    assert!(
        c.on_message(Message::RegAck(busy), t0).is_empty(),
        "not discarded"
    );
    assert!(!c.wants_delivery());
    c.on_tick(t0 + T_WAIT);
    assert!(c.wants_delivery());
    let again = c.deliver(
        Some(pid(1)),
        &delivery("a/b", mqtt::QoS::AtLeastOnce),
        true,
        t0 + T_WAIT,
    );
    assert!(
        matches!(sent(&again)[..], [Message::Register(Register { topic_id: id, .. })] if id == topic_id),
        "{again:?}"
    );
}

#[test]
fn rejected_register_discards_the_held_message() {
    let t0 = Instant::now();
    let mut c = active(t0, 60);
    let actions = c.deliver(
        Some(pid(1)),
        &delivery("a/b", mqtt::QoS::AtLeastOnce),
        false,
        t0,
    );
    let [
        Message::Register(Register {
            topic_id, msg_id, ..
        }),
    ] = sent(&actions)[..]
    else {
        panic!("{actions:?}");
    };
    let nack = RegAck {
        topic_id,
        msg_id,
        return_code: ReturnCode::NOT_SUPPORTED,
    };
    assert_eq!(
        c.on_message(Message::RegAck(nack), t0),
        [Action::Settle(Settle::Discard(pid(1)))]
    );
    assert!(c.wants_delivery());
}

#[test]
fn one_publish_in_flight_resent_with_dup_then_client_lost_after_n_retry() {
    let t0 = Instant::now();
    let mut c = active(t0, 600);
    let first = publish_of(&c.deliver(
        Some(pid(7)),
        &delivery("ab", mqtt::QoS::AtLeastOnce),
        false,
        t0,
    ));
    assert_eq!(
        (first.dup, first.msg_id, first.qos),
        (false, 7, QoS::AtLeastOnce)
    );
    assert!(!c.wants_delivery(), "one message in flight");
    assert!(c.on_tick(t0 + secs(9)).is_empty());
    let again = publish_of(&c.on_tick(t0 + secs(10)));
    assert!(again.dup, "a resend carries DUP");
    assert_eq!(again.msg_id, 7);
    assert!(publish_of(&c.on_tick(t0 + secs(20))).dup);
    assert_eq!(c.on_tick(t0 + secs(30)), [Action::End(Departure::Abnormal)]);
    assert_eq!(c.status(), Status::Lost);
}

fn congestion(topic_id: u16, msg_id: u16) -> Message {
    Message::PubAck(PubAck {
        topic_id,
        msg_id,
        return_code: ReturnCode::CONGESTION,
    })
}

#[test]
fn congestion_from_the_client_pauses_deliveries_for_t_wait_and_keeps_the_message() {
    let t0 = Instant::now();
    let mut c = active(t0, 0);
    let sent_first = publish_of(&c.deliver(
        Some(pid(7)),
        &delivery("ab", mqtt::QoS::AtLeastOnce),
        false,
        t0,
    ));
    let refused = c.on_message(congestion(sent_first.topic.wire_id(), 7), t0 + secs(1));
    assert!(
        refused.is_empty(),
        "not settled: it stays in the session queue, unacknowledged ({refused:?})"
    );
    assert!(!c.wants_delivery(), "paused");
    assert!(c.on_tick(t0 + secs(1) + T_WAIT - secs(1)).is_empty());
    assert!(!c.wants_delivery(), "still paused just before T_WAIT");
    assert!(c.on_tick(t0 + secs(1) + T_WAIT).is_empty());
    assert!(c.wants_delivery(), "T_WAIT is over");
    // The session queue hands it back as a resend.
    let again = publish_of(&c.deliver(
        Some(pid(7)),
        &delivery("ab", mqtt::QoS::AtLeastOnce),
        true,
        t0 + secs(1) + T_WAIT,
    ));
    assert_eq!((again.dup, again.msg_id), (true, 7));
    assert_eq!(c.status(), Status::Active, "congestion is not a failure");
}

#[test]
fn congestion_during_a_wake_ends_it_with_pingresp() {
    let t0 = Instant::now();
    let mut c = active(t0, 10);
    c.on_message(Message::Disconnect(Disconnect { duration: Some(60) }), t0);
    let wake = PingReq {
        client_id: Some("node".into()),
    };
    c.on_message(Message::PingReq(wake), t0 + secs(5));
    assert_eq!(c.status(), Status::Awake);
    let publish = publish_of(&c.deliver(
        Some(pid(1)),
        &delivery("ab", mqtt::QoS::AtLeastOnce),
        false,
        t0 + secs(5),
    ));
    let answer = c.on_message(congestion(publish.topic.wire_id(), 1), t0 + secs(6));
    assert_eq!(
        sent(&answer),
        [Message::PingResp],
        "back to sleep; the message waits"
    );
    assert_eq!(c.status(), Status::Asleep);
}

#[test]
fn puback_settles_the_message_and_frees_the_slot() {
    let t0 = Instant::now();
    let mut c = active(t0, 60);
    c.deliver(
        Some(pid(7)),
        &delivery("ab", mqtt::QoS::AtLeastOnce),
        false,
        t0,
    );
    let ack = |msg_id| {
        Message::PubAck(PubAck {
            topic_id: 0,
            msg_id,
            return_code: ReturnCode::ACCEPTED,
        })
    };
    assert!(c.on_message(ack(8), t0).is_empty(), "another message id");
    assert_eq!(
        c.on_message(ack(7), t0),
        [Action::Settle(Settle::PubAck(pid(7)))]
    );
    assert!(c.wants_delivery());
    assert!(
        c.on_tick(t0 + secs(30)).is_empty(),
        "nothing left to resend"
    );
}

#[test]
fn qos2_to_the_client_goes_through_pubrec_pubrel_pubcomp() {
    let t0 = Instant::now();
    let mut c = active(t0, 60);
    c.deliver(
        Some(pid(2)),
        &delivery("ab", mqtt::QoS::ExactlyOnce),
        false,
        t0,
    );
    let actions = c.on_message(Message::PubRec(2), t0);
    assert_eq!(
        actions,
        [
            Action::Settle(Settle::PubRec(pid(2))),
            Action::Send(Message::PubRel(2))
        ]
    );
    // PUBREL is resent until PUBCOMP comes.
    assert_eq!(sent(&c.on_tick(t0 + T_RETRY)), [Message::PubRel(2)]);
    assert_eq!(
        c.on_message(Message::PubComp(2), t0),
        [Action::Settle(Settle::PubComp(pid(2)))]
    );
    assert!(c.wants_delivery());
}

#[test]
fn puback_invalid_topic_id_makes_the_gateway_register_again() {
    let t0 = Instant::now();
    let mut c = active(t0, 60);
    let actions = c.deliver(
        Some(pid(1)),
        &delivery("a/b", mqtt::QoS::AtLeastOnce),
        false,
        t0,
    );
    let [
        Message::Register(Register {
            topic_id, msg_id, ..
        }),
    ] = sent(&actions)[..]
    else {
        panic!();
    };
    c.on_message(
        Message::RegAck(RegAck {
            topic_id,
            msg_id,
            return_code: ReturnCode::ACCEPTED,
        }),
        t0,
    );
    let nack = PubAck {
        topic_id,
        msg_id: 1,
        return_code: ReturnCode::INVALID_TOPIC_ID,
    };
    c.on_message(Message::PubAck(nack), t0);
    let actions = c.deliver(
        Some(pid(2)),
        &delivery("a/b", mqtt::QoS::AtLeastOnce),
        false,
        t0,
    );
    assert!(matches!(sent(&actions)[..], [Message::Register(_)]));
}

#[test]
fn keepalive_expiry_after_one_and_a_half_durations_loses_the_client() {
    let t0 = Instant::now();
    let mut c = active(t0, 10);
    assert!(
        c.on_tick(t0 + secs(15)).is_empty(),
        "1.5 × 10 s not yet exceeded"
    );
    c.on_message(Message::PingReq(PingReq::default()), t0 + secs(15));
    assert!(
        c.on_tick(t0 + secs(30)).is_empty(),
        "the PINGREQ restarted the timer"
    );
    assert_eq!(
        c.on_tick(t0 + Duration::from_millis(30_001)),
        [Action::End(Departure::Abnormal)]
    );
    assert_eq!(c.status(), Status::Lost);
}

#[test]
fn keepalive_zero_never_expires() {
    let t0 = Instant::now();
    let mut c = active(t0, 0);
    assert!(c.on_tick(t0 + secs(100_000)).is_empty());
}

#[test]
fn sleeping_client_gets_its_buffered_messages_then_pingresp() {
    let t0 = Instant::now();
    let mut c = active(t0, 10);
    let actions = c.on_message(Message::Disconnect(Disconnect { duration: Some(60) }), t0);
    assert_eq!(sent(&actions), [Message::Disconnect(Disconnect::default())]);
    assert_eq!(c.status(), Status::Asleep);
    assert!(
        !c.wants_delivery(),
        "messages stay in the session queue while asleep"
    );
    // The keep-alive no longer applies; the sleep duration does.
    assert!(c.on_tick(t0 + secs(80)).is_empty());
    let wake = PingReq {
        client_id: Some("node".into()),
    };
    assert!(
        c.on_message(Message::PingReq(wake), t0 + secs(80))
            .is_empty()
    );
    assert_eq!(c.status(), Status::Awake);
    assert!(c.wants_delivery());
    let publish = publish_of(&c.deliver(
        Some(pid(1)),
        &delivery("ab", mqtt::QoS::AtLeastOnce),
        false,
        t0,
    ));
    assert!(c.idle(t0).is_empty(), "no PINGRESP before the PUBACK");
    c.on_message(
        Message::PubAck(PubAck {
            topic_id: publish.topic.wire_id(),
            msg_id: 1,
            return_code: ReturnCode::ACCEPTED,
        }),
        t0 + secs(81),
    );
    c.deliver(None, &delivery("ab", mqtt::QoS::AtMostOnce), false, t0);
    assert_eq!(c.idle(t0 + secs(81)), [Action::Send(Message::PingResp)]);
    assert_eq!(c.status(), Status::Asleep);
}

#[test]
fn silent_past_the_sleep_duration_is_lost() {
    let t0 = Instant::now();
    let mut c = active(t0, 10);
    c.on_message(Message::Disconnect(Disconnect { duration: Some(20) }), t0);
    assert!(c.on_tick(t0 + secs(30)).is_empty());
    assert_eq!(c.on_tick(t0 + secs(31)), [Action::End(Departure::Abnormal)]);
    assert_eq!(c.status(), Status::Lost);
}

#[test]
fn connect_while_asleep_resumes_without_leaving_the_session() {
    let t0 = Instant::now();
    let mut c = ClientState::new(config(), t0);
    c.on_message(connect_msg("node", false, false, 10), t0);
    c.on_attached(SessionKey(1), t0);
    let register = Register {
        topic_id: 0,
        msg_id: 1,
        topic_name: "a/b".into(),
    };
    c.on_message(Message::Register(register), t0);
    c.on_message(Message::Disconnect(Disconnect { duration: Some(60) }), t0);
    let actions = c.on_message(connect_msg("node", false, false, 10), t0 + secs(30));
    assert_eq!(
        actions,
        [
            Action::SetWill(None),
            Action::Send(Message::ConnAck(ReturnCode::ACCEPTED))
        ]
    );
    assert_eq!(c.status(), Status::Active);
    assert!(c.wants_delivery());
    let publish = c.deliver(None, &delivery("a/b", mqtt::QoS::AtMostOnce), false, t0);
    assert!(
        matches!(publish_of(&publish).topic, Topic::Normal(_)),
        "topic ids survive"
    );
    // A clean CONNECT leaves the old session and starts anew.
    c.on_message(Message::Disconnect(Disconnect { duration: Some(60) }), t0);
    let actions = c.on_message(connect_msg("node", true, false, 10), t0 + secs(40));
    assert!(matches!(
        actions.as_slice(),
        [
            Action::Detach,
            Action::Attach {
                clean_session: true,
                ..
            }
        ]
    ));
}

#[test]
fn disconnect_without_duration_ends_cleanly() {
    let t0 = Instant::now();
    let mut c = active(t0, 10);
    let actions = c.on_message(Message::Disconnect(Disconnect::default()), t0);
    assert_eq!(
        actions,
        [
            Action::Send(Message::Disconnect(Disconnect::default())),
            Action::End(Departure::Clean)
        ]
    );
}

#[test]
fn subscribe_by_name_filter_predefined_and_short() {
    let t0 = Instant::now();
    let mut c = active(t0, 60);
    let subscribe = |topic, msg_id| {
        Message::Subscribe(Subscribe {
            dup: false,
            qos: QoS::AtLeastOnce,
            msg_id,
            topic,
        })
    };
    let by_name = c.on_message(subscribe(SubscribeTopic::Name("home/door".into()), 1), t0);
    let [
        Action::Subscribe {
            topic_id,
            ref filter,
            qos: mqtt::QoS::AtLeastOnce,
            msg_id: 1,
        },
    ] = by_name[..]
    else {
        panic!("{by_name:?}");
    };
    assert_eq!(filter, "home/door");
    assert_ne!(topic_id, 0);
    // The id from the SUBACK is used for deliveries: no REGISTER.
    let publish = c.deliver(
        None,
        &delivery("home/door", mqtt::QoS::AtMostOnce),
        false,
        t0,
    );
    assert_eq!(publish_of(&publish).topic, Topic::Normal(topic_id));
    let wildcard = c.on_message(subscribe(SubscribeTopic::Name("home/+/temp".into()), 2), t0);
    assert!(matches!(
        &wildcard[..],
        [Action::Subscribe { topic_id: 0, .. }]
    ));
    let predefined = c.on_message(subscribe(SubscribeTopic::Predefined(5), 3), t0);
    assert!(
        matches!(&predefined[..], [Action::Subscribe { topic_id: 5, filter, .. }] if filter == "home/temp")
    );
    let short = c.on_message(subscribe(SubscribeTopic::Short(ShortName(*b"ab")), 4), t0);
    assert!(
        matches!(&short[..], [Action::Subscribe { topic_id: 0, filter, .. }] if filter == "ab")
    );
    let unknown = c.on_message(subscribe(SubscribeTopic::Predefined(6), 5), t0);
    assert_eq!(
        sent(&unknown),
        [Message::SubAck(SubAck {
            qos: QoS::AtMostOnce,
            topic_id: 0,
            msg_id: 5,
            return_code: ReturnCode::INVALID_TOPIC_ID
        })]
    );
    let bad = c.on_message(subscribe(SubscribeTopic::Name("a/#/b".into()), 6), t0);
    assert!(matches!(
        sent(&bad)[..],
        [Message::SubAck(SubAck {
            return_code: ReturnCode::INVALID_TOPIC_ID,
            ..
        })]
    ));
}

#[test]
fn will_updates_replace_or_delete_the_will() {
    let t0 = Instant::now();
    let mut c = active(t0, 60);
    let topic = WillTopic {
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "w".into(),
    };
    let actions = c.on_message(Message::WillTopicUpd(Some(topic)), t0);
    let [
        Action::SetWill(Some(will)),
        Action::Send(Message::WillTopicResp(rc)),
    ] = &actions[..]
    else {
        panic!("{actions:?}");
    };
    assert!(rc.is_accepted());
    assert_eq!(will.publication.topic, "w");
    let actions = c.on_message(
        Message::WillMsgUpd(WillMsg {
            payload: Bytes::from_static(b"bye"),
        }),
        t0,
    );
    assert!(
        matches!(&actions[..], [Action::SetWill(Some(w)), Action::Send(Message::WillMsgResp(_))] if w.publication.payload == "bye")
    );
    let actions = c.on_message(Message::WillTopicUpd(None), t0);
    assert!(matches!(
        &actions[..],
        [
            Action::SetWill(None),
            Action::Send(Message::WillTopicResp(_))
        ]
    ));
}
