//! `proptest` strategies for valid messages of every type, plain and
//! encapsulated: exactly the values the encoder can write and the decoder
//! gives back.

use bytes::Bytes;
use bytestring::ByteString;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::strategy::Union;

use super::{
    Advertise, Connect, Ctrl, Disconnect, Encapsulated, GwInfo, Message, MsgId, PingReq, PubAck,
    Publish, QoS, RegAck, Register, ReturnCode, SearchGw, ShortName, SubAck, Subscribe,
    SubscribeTopic, Topic, Unsubscribe, WillMsg, WillTopic,
};

/// Any UTF-8 text, short enough to keep cases fast.
fn text() -> impl Strategy<Value = ByteString> {
    vec(any::<char>(), 0..8)
        .prop_map(|chars| ByteString::from(chars.into_iter().collect::<String>()))
}

/// Mostly short octet strings, sometimes long enough to need the 3-octet Length.
fn octets() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..24),
        1 => vec(any::<u8>(), 240..700),
    ]
    .prop_map(Bytes::from)
}

fn msg_id() -> impl Strategy<Value = MsgId> {
    1..=u16::MAX
}

fn qos() -> impl Strategy<Value = QoS> {
    (0..4u8).prop_map(QoS::from_bits)
}

fn return_code() -> impl Strategy<Value = ReturnCode> {
    any::<u8>().prop_map(ReturnCode)
}

fn short_name() -> impl Strategy<Value = ShortName> {
    any::<[u8; 2]>().prop_map(ShortName)
}

fn topic() -> impl Strategy<Value = Topic> {
    prop_oneof![
        any::<u16>().prop_map(Topic::Normal),
        any::<u16>().prop_map(Topic::Predefined),
        short_name().prop_map(Topic::Short),
    ]
}

fn subscribe_topic() -> impl Strategy<Value = SubscribeTopic> {
    prop_oneof![
        text().prop_map(SubscribeTopic::Name),
        any::<u16>().prop_map(SubscribeTopic::Predefined),
        short_name().prop_map(SubscribeTopic::Short),
    ]
}

fn will_topic() -> impl Strategy<Value = Option<WillTopic>> {
    option::of(
        (qos(), any::<bool>(), text()).prop_map(|(qos, retain, topic)| WillTopic {
            qos,
            retain,
            topic,
        }),
    )
}

fn will_msg() -> impl Strategy<Value = WillMsg> {
    octets().prop_map(|payload| WillMsg { payload })
}

fn publish() -> impl Strategy<Value = Publish> {
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic(),
        any::<u16>(),
        octets(),
    )
        .prop_map(|(dup, qos, retain, topic, msg_id, payload)| Publish {
            dup,
            qos,
            retain,
            topic,
            // QoS 1 and 2 need an id an acknowledgement can name.
            msg_id: if qos.is_acknowledged() {
                msg_id.max(1)
            } else {
                msg_id
            },
            payload,
        })
}

/// Every message type except the encapsulation.
pub(super) fn plain() -> BoxedStrategy<Message> {
    let kinds = vec![
        (any::<u8>(), any::<u16>())
            .prop_map(|(gw_id, duration)| Message::Advertise(Advertise { gw_id, duration }))
            .boxed(),
        any::<u8>()
            .prop_map(|radius| Message::SearchGw(SearchGw { radius }))
            .boxed(),
        (any::<u8>(), octets())
            .prop_map(|(gw_id, gw_add)| Message::GwInfo(GwInfo { gw_id, gw_add }))
            .boxed(),
        (any::<bool>(), any::<bool>(), any::<u16>(), text())
            .prop_map(|(will, clean_session, duration, client_id)| {
                Message::Connect(Connect {
                    will,
                    clean_session,
                    duration,
                    client_id,
                })
            })
            .boxed(),
        return_code().prop_map(Message::ConnAck).boxed(),
        Just(Message::WillTopicReq).boxed(),
        will_topic().prop_map(Message::WillTopic).boxed(),
        Just(Message::WillMsgReq).boxed(),
        will_msg().prop_map(Message::WillMsg).boxed(),
        (any::<u16>(), msg_id(), text())
            .prop_map(|(topic_id, msg_id, topic_name)| {
                Message::Register(Register {
                    topic_id,
                    msg_id,
                    topic_name,
                })
            })
            .boxed(),
        (any::<u16>(), msg_id(), return_code())
            .prop_map(|(topic_id, msg_id, return_code)| {
                Message::RegAck(RegAck {
                    topic_id,
                    msg_id,
                    return_code,
                })
            })
            .boxed(),
        publish().prop_map(Message::Publish).boxed(),
        (any::<u16>(), any::<u16>(), return_code())
            .prop_map(|(topic_id, msg_id, return_code)| {
                Message::PubAck(PubAck {
                    topic_id,
                    msg_id,
                    return_code,
                })
            })
            .boxed(),
        msg_id().prop_map(Message::PubComp).boxed(),
        msg_id().prop_map(Message::PubRec).boxed(),
        msg_id().prop_map(Message::PubRel).boxed(),
        (any::<bool>(), qos(), msg_id(), subscribe_topic())
            .prop_map(|(dup, qos, msg_id, topic)| {
                Message::Subscribe(Subscribe {
                    dup,
                    qos,
                    msg_id,
                    topic,
                })
            })
            .boxed(),
        (qos(), any::<u16>(), msg_id(), return_code())
            .prop_map(|(qos, topic_id, msg_id, return_code)| {
                Message::SubAck(SubAck {
                    qos,
                    topic_id,
                    msg_id,
                    return_code,
                })
            })
            .boxed(),
        (msg_id(), subscribe_topic())
            .prop_map(|(msg_id, topic)| Message::Unsubscribe(Unsubscribe { msg_id, topic }))
            .boxed(),
        msg_id().prop_map(Message::UnsubAck).boxed(),
        option::of(text().prop_filter("an empty id is no id", |id| !id.is_empty()))
            .prop_map(|client_id| Message::PingReq(PingReq { client_id }))
            .boxed(),
        Just(Message::PingResp).boxed(),
        option::of(any::<u16>())
            .prop_map(|duration| Message::Disconnect(Disconnect { duration }))
            .boxed(),
        will_topic().prop_map(Message::WillTopicUpd).boxed(),
        return_code().prop_map(Message::WillTopicResp).boxed(),
        will_msg().prop_map(Message::WillMsgUpd).boxed(),
        return_code().prop_map(Message::WillMsgResp).boxed(),
    ];
    Union::new(kinds).boxed()
}

/// A plain message wrapped by a forwarder, with node ids up to the 252-octet limit.
fn encapsulated() -> impl Strategy<Value = Message> {
    let node_id = prop_oneof![
        8 => vec(any::<u8>(), 0..4),
        1 => vec(any::<u8>(), 0..=252),
    ];
    (any::<u8>(), node_id, plain()).prop_map(|(ctrl, node_id, message)| {
        Message::Encapsulated(Box::new(Encapsulated {
            ctrl: Ctrl(ctrl),
            node_id: Bytes::from(node_id),
            message,
        }))
    })
}

/// Any valid message, a quarter of them encapsulated.
pub(super) fn message() -> impl Strategy<Value = Message> {
    prop_oneof![3 => plain(), 1 => encapsulated()]
}
