//! Writing one message as one datagram, with exact sizes: the message is
//! measured and checked first, the buffer grows once, and every octet is
//! written in one pass that cannot fail.

use bytes::{BufMut, BytesMut};

use super::decode::PROTOCOL_ID;
use super::error::EncodeError;
use super::flags::{Flags, QoS, TopicIdType};
use super::header::{MsgType, header_len, put_header};
use super::packet::{Encapsulated, Message, MsgId, SubscribeTopic, Topic, WillTopic};

/// The forwarder encapsulation header's Length octet counts itself, MsgType and
/// Ctrl besides the node id (§5.5).
const ENCAPSULATION_FIXED: usize = 3;

/// Appends `message` to `buf` as one datagram and returns the octets written.
///
/// The Length field takes its 1-octet form while the whole message fits in 255
/// octets and its 3-octet form from 256 up (§5.2.1). An `Encapsulated` message
/// gets the forwarder header, then its inner message. On error `buf` is left
/// as it was.
pub fn encode(message: &Message, buf: &mut BytesMut) -> Result<usize, EncodeError> {
    let (prefix, inner) = match message {
        Message::Encapsulated(encapsulated) => (
            Some(check_encapsulated(encapsulated)?),
            &encapsulated.message,
        ),
        plain => (None, plain),
    };
    let body_len = body_len(inner)?;
    let total = prefix.unwrap_or(0) + header_len(body_len)? + body_len;
    buf.reserve(total);
    if let Message::Encapsulated(encapsulated) = message {
        put_encapsulation_header(buf, encapsulated);
    }
    put_header(buf, inner.msg_type().code(), body_len);
    write_body(inner, buf);
    Ok(total)
}

/// Checks what the encapsulation header can carry; returns its size.
fn check_encapsulated(encapsulated: &Encapsulated) -> Result<usize, EncodeError> {
    if matches!(encapsulated.message, Message::Encapsulated(_)) {
        return Err(EncodeError::NestedEncapsulation);
    }
    let len = ENCAPSULATION_FIXED + encapsulated.node_id.len();
    if len > usize::from(u8::MAX) {
        return Err(EncodeError::NodeIdTooLong);
    }
    Ok(len)
}

/// `Length(1) 0xFE Ctrl(1) WirelessNodeId`, which `check_encapsulated` accepted.
fn put_encapsulation_header(buf: &mut BytesMut, encapsulated: &Encapsulated) {
    let len = ENCAPSULATION_FIXED + encapsulated.node_id.len();
    buf.put_u8(u8::try_from(len).unwrap_or(u8::MAX));
    buf.put_u8(MsgType::Encapsulated.code());
    buf.put_u8(encapsulated.ctrl.0);
    buf.put_slice(&encapsulated.node_id);
}

/// A message id the decoder would refuse as 0 on `msg_type`.
fn nonzero(msg_id: MsgId, msg_type: MsgType) -> Result<(), EncodeError> {
    if msg_id == 0 {
        Err(EncodeError::ZeroMsgId(msg_type))
    } else {
        Ok(())
    }
}

/// The size of everything after MsgType, after refusing what the decoder would refuse.
fn body_len(message: &Message) -> Result<usize, EncodeError> {
    let msg_type = message.msg_type();
    Ok(match message {
        Message::Advertise(_) => 3,
        Message::SearchGw(_) => 1,
        Message::GwInfo(info) => 1 + info.gw_add.len(),
        Message::Connect(connect) => 4 + connect.client_id.len(),
        Message::ConnAck(_) | Message::WillTopicResp(_) | Message::WillMsgResp(_) => 1,
        Message::WillTopicReq | Message::WillMsgReq | Message::PingResp => 0,
        Message::WillTopic(will) | Message::WillTopicUpd(will) => {
            will.as_ref().map_or(0, |will| 1 + will.topic.len())
        }
        Message::WillMsg(will) | Message::WillMsgUpd(will) => will.payload.len(),
        Message::Register(register) => {
            nonzero(register.msg_id, msg_type)?;
            4 + register.topic_name.len()
        }
        Message::RegAck(ack) => {
            nonzero(ack.msg_id, msg_type)?;
            5
        }
        Message::Publish(publish) => {
            if publish.qos.is_acknowledged() {
                nonzero(publish.msg_id, msg_type)?;
            }
            5 + publish.payload.len()
        }
        Message::PubAck(_) => 5,
        Message::PubComp(msg_id)
        | Message::PubRec(msg_id)
        | Message::PubRel(msg_id)
        | Message::UnsubAck(msg_id) => {
            nonzero(*msg_id, msg_type)?;
            2
        }
        Message::Subscribe(subscribe) => {
            nonzero(subscribe.msg_id, msg_type)?;
            3 + subscribe_topic_len(&subscribe.topic)
        }
        Message::SubAck(ack) => {
            nonzero(ack.msg_id, msg_type)?;
            6
        }
        Message::Unsubscribe(unsubscribe) => {
            nonzero(unsubscribe.msg_id, msg_type)?;
            3 + subscribe_topic_len(&unsubscribe.topic)
        }
        Message::PingReq(ping) => match &ping.client_id {
            Some(id) if id.is_empty() => return Err(EncodeError::EmptyClientId),
            Some(id) => id.len(),
            None => 0,
        },
        Message::Disconnect(disconnect) => disconnect.duration.map_or(0, |_| 2),
        Message::Encapsulated(_) => return Err(EncodeError::NestedEncapsulation),
    })
}

fn subscribe_topic_len(topic: &SubscribeTopic) -> usize {
    match topic {
        SubscribeTopic::Name(name) => name.len(),
        SubscribeTopic::Predefined(_) | SubscribeTopic::Short(_) => 2,
    }
}

/// Writes everything after MsgType, in wire order (§5.4); `body_len` checked it.
fn write_body(message: &Message, buf: &mut BytesMut) {
    match message {
        Message::Advertise(advertise) => {
            buf.put_u8(advertise.gw_id);
            buf.put_u16(advertise.duration);
        }
        Message::SearchGw(search) => buf.put_u8(search.radius),
        Message::GwInfo(info) => {
            buf.put_u8(info.gw_id);
            buf.put_slice(&info.gw_add);
        }
        Message::Connect(connect) => {
            let flags = Flags {
                will: connect.will,
                clean_session: connect.clean_session,
                ..Flags::default()
            };
            buf.put_u8(flags.into());
            buf.put_u8(PROTOCOL_ID);
            buf.put_u16(connect.duration);
            buf.put_slice(connect.client_id.as_bytes());
        }
        Message::ConnAck(code) | Message::WillTopicResp(code) | Message::WillMsgResp(code) => {
            buf.put_u8(code.0);
        }
        Message::WillTopicReq | Message::WillMsgReq | Message::PingResp => {}
        Message::WillTopic(will) | Message::WillTopicUpd(will) => {
            put_will_topic(buf, will.as_ref())
        }
        Message::WillMsg(will) | Message::WillMsgUpd(will) => buf.put_slice(&will.payload),
        Message::Register(register) => {
            buf.put_u16(register.topic_id);
            buf.put_u16(register.msg_id);
            buf.put_slice(register.topic_name.as_bytes());
        }
        Message::RegAck(ack) => {
            buf.put_u16(ack.topic_id);
            buf.put_u16(ack.msg_id);
            buf.put_u8(ack.return_code.0);
        }
        Message::Publish(publish) => {
            let flags = Flags {
                dup: publish.dup,
                qos: publish.qos,
                retain: publish.retain,
                topic_id_type: topic_id_type(publish.topic),
                ..Flags::default()
            };
            buf.put_u8(flags.into());
            buf.put_u16(publish.topic.wire_id());
            buf.put_u16(publish.msg_id);
            buf.put_slice(&publish.payload);
        }
        Message::PubAck(ack) => {
            buf.put_u16(ack.topic_id);
            buf.put_u16(ack.msg_id);
            buf.put_u8(ack.return_code.0);
        }
        Message::PubComp(msg_id)
        | Message::PubRec(msg_id)
        | Message::PubRel(msg_id)
        | Message::UnsubAck(msg_id) => buf.put_u16(*msg_id),
        Message::Subscribe(subscribe) => {
            put_subscribe(
                buf,
                subscribe.dup,
                subscribe.qos,
                subscribe.msg_id,
                &subscribe.topic,
            );
        }
        Message::SubAck(ack) => {
            let flags = Flags {
                qos: ack.qos,
                ..Flags::default()
            };
            buf.put_u8(flags.into());
            buf.put_u16(ack.topic_id);
            buf.put_u16(ack.msg_id);
            buf.put_u8(ack.return_code.0);
        }
        Message::Unsubscribe(unsubscribe) => {
            put_subscribe(
                buf,
                false,
                QoS::AtMostOnce,
                unsubscribe.msg_id,
                &unsubscribe.topic,
            );
        }
        Message::PingReq(ping) => {
            if let Some(id) = &ping.client_id {
                buf.put_slice(id.as_bytes());
            }
        }
        Message::Disconnect(disconnect) => {
            if let Some(duration) = disconnect.duration {
                buf.put_u16(duration);
            }
        }
        // body_len refused it.
        Message::Encapsulated(_) => {}
    }
}

fn topic_id_type(topic: Topic) -> TopicIdType {
    match topic {
        Topic::Normal(_) => TopicIdType::Normal,
        Topic::Predefined(_) => TopicIdType::Predefined,
        Topic::Short(_) => TopicIdType::Short,
    }
}

/// WILLTOPIC / WILLTOPICUPD: Flags and WillTopic, or nothing for the empty one.
fn put_will_topic(buf: &mut BytesMut, will: Option<&WillTopic>) {
    if let Some(will) = will {
        let flags = Flags {
            qos: will.qos,
            retain: will.retain,
            ..Flags::default()
        };
        buf.put_u8(flags.into());
        buf.put_slice(will.topic.as_bytes());
    }
}

/// SUBSCRIBE and UNSUBSCRIBE share a layout: Flags, MsgId, topic.
fn put_subscribe(buf: &mut BytesMut, dup: bool, qos: QoS, msg_id: MsgId, topic: &SubscribeTopic) {
    let topic_id_type = match topic {
        SubscribeTopic::Name(_) => TopicIdType::Normal,
        SubscribeTopic::Predefined(_) => TopicIdType::Predefined,
        SubscribeTopic::Short(_) => TopicIdType::Short,
    };
    let flags = Flags {
        dup,
        qos,
        topic_id_type,
        ..Flags::default()
    };
    buf.put_u8(flags.into());
    buf.put_u16(msg_id);
    match topic {
        SubscribeTopic::Name(name) => buf.put_slice(name.as_bytes()),
        SubscribeTopic::Predefined(id) => buf.put_u16(*id),
        SubscribeTopic::Short(name) => buf.put_slice(&name.0),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::packet::{
        Ctrl, Disconnect, PingReq, PubAck, Publish, RegAck, Register, ReturnCode, SubAck,
        Subscribe, Unsubscribe,
    };
    use super::*;

    /// Encoding `message` fails with `error` and leaves the buffer as it was.
    fn fails(message: &Message, error: EncodeError) {
        let mut buf = BytesMut::from(&b"prefix"[..]);
        assert_eq!(encode(message, &mut buf), Err(error), "{message:?}");
        assert_eq!(&buf[..], b"prefix", "a failed encode wrote something");
    }

    fn publish(qos: QoS, msg_id: MsgId, payload_len: usize) -> Message {
        Message::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: Topic::Normal(1),
            msg_id,
            payload: Bytes::from(vec![0; payload_len]),
        })
    }

    fn wrap(node_id_len: usize, message: Message) -> Message {
        Message::Encapsulated(Box::new(Encapsulated {
            ctrl: Ctrl::with_radius(1),
            node_id: Bytes::from(vec![7; node_id_len]),
            message,
        }))
    }

    #[test]
    fn too_large() {
        // 4 header octets + 5 PUBLISH fields + 65,526 = 65,535 fits; one more does not.
        let mut buf = BytesMut::new();
        assert_eq!(
            encode(&publish(QoS::AtMostOnce, 0, 65_526), &mut buf),
            Ok(65_535)
        );
        fails(&publish(QoS::AtMostOnce, 0, 65_527), EncodeError::TooLarge);
        fails(
            &wrap(2, publish(QoS::AtMostOnce, 0, 65_527)),
            EncodeError::TooLarge,
        );
    }

    #[test]
    fn node_id_too_long() {
        let mut buf = BytesMut::new();
        assert_eq!(encode(&wrap(252, Message::PingResp), &mut buf), Ok(257));
        assert_eq!(buf[0], 0xFF);
        fails(&wrap(253, Message::PingResp), EncodeError::NodeIdTooLong);
    }

    #[test]
    fn nested_encapsulation() {
        fails(
            &wrap(1, wrap(1, Message::PingResp)),
            EncodeError::NestedEncapsulation,
        );
    }

    #[test]
    fn empty_client_id() {
        let ping = |id: &str| {
            Message::PingReq(PingReq {
                client_id: Some(id.into()),
            })
        };
        fails(&ping(""), EncodeError::EmptyClientId);
        assert!(encode(&ping("n"), &mut BytesMut::new()).is_ok());
    }

    #[test]
    fn zero_msg_id() {
        use MsgType as T;
        let rc = ReturnCode::ACCEPTED;
        let name = SubscribeTopic::Name("a".into());
        for (message, msg_type) in [
            (publish(QoS::AtLeastOnce, 0, 0), T::Publish),
            (publish(QoS::ExactlyOnce, 0, 0), T::Publish),
            (
                Message::Register(Register {
                    topic_id: 0,
                    msg_id: 0,
                    topic_name: "a".into(),
                }),
                T::Register,
            ),
            (
                Message::RegAck(RegAck {
                    topic_id: 1,
                    msg_id: 0,
                    return_code: rc,
                }),
                T::RegAck,
            ),
            (Message::PubComp(0), T::PubComp),
            (Message::PubRec(0), T::PubRec),
            (Message::PubRel(0), T::PubRel),
            (
                Message::Subscribe(Subscribe {
                    dup: false,
                    qos: QoS::AtMostOnce,
                    msg_id: 0,
                    topic: name.clone(),
                }),
                T::Subscribe,
            ),
            (
                Message::SubAck(SubAck {
                    qos: QoS::AtMostOnce,
                    topic_id: 0,
                    msg_id: 0,
                    return_code: rc,
                }),
                T::SubAck,
            ),
            (
                Message::Unsubscribe(Unsubscribe {
                    msg_id: 0,
                    topic: name,
                }),
                T::Unsubscribe,
            ),
            (Message::UnsubAck(0), T::UnsubAck),
        ] {
            fails(&message, EncodeError::ZeroMsgId(msg_type));
        }
        // Where 0 is allowed.
        let mut buf = BytesMut::new();
        for message in [
            publish(QoS::AtMostOnce, 0, 0),
            publish(QoS::MinusOne, 0, 0),
            Message::PubAck(PubAck {
                topic_id: 1,
                msg_id: 0,
                return_code: ReturnCode::INVALID_TOPIC_ID,
            }),
            Message::Disconnect(Disconnect { duration: Some(0) }),
        ] {
            assert!(encode(&message, &mut buf).is_ok(), "{message:?}");
        }
    }
}
