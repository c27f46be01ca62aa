//! Byte vectors for every message type, checked in both directions.
//!
//! `radio_*` tests use the bytes in `shared/notes/radio.md` (§1.4, §3, §4.2),
//! which were produced by Paho's MQTTSNPacket serializer, not by this codec.
//! The others are written by hand from the field tables of MQTT-SN 1.2 §5.4.

use bytes::Bytes;
use bytestring::ByteString;

use super::testing::{both_ways, datagram, encoded, wire};
use super::{
    Advertise, Connect, Ctrl, Disconnect, Encapsulated, GwInfo, Message, PingReq, PubAck, Publish,
    QoS, RegAck, Register, ReturnCode, SearchGw, ShortName, SubAck, Subscribe, SubscribeTopic,
    Topic, Unsubscribe, WillMsg, WillTopic, decode,
};

fn s(text: &str) -> ByteString {
    ByteString::from(text.to_owned())
}

fn b(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

fn publish(qos: QoS, topic: Topic, msg_id: u16, payload: &[u8]) -> Message {
    Message::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic,
        msg_id,
        payload: b(payload),
    })
}

fn forwarded(ctrl: u8, node_id: &[u8], message: Message) -> Message {
    Message::Encapsulated(Box::new(Encapsulated {
        ctrl: Ctrl(ctrl),
        node_id: b(node_id),
        message,
    }))
}

#[test]
fn radio_discovery() {
    both_ways("03 01 01", Message::SearchGw(SearchGw { radius: 1 }));
    both_ways(
        "03 02 01",
        Message::GwInfo(GwInfo {
            gw_id: 1,
            gw_add: Bytes::new(),
        }),
    );
}

#[test]
fn radio_connect_and_connack() {
    both_ways(
        "0B 04 04 01 00 3C 6E 6F 64 65 31",
        Message::Connect(Connect {
            will: false,
            clean_session: true,
            duration: 60,
            client_id: s("node1"),
        }),
    );
    both_ways("03 05 00", Message::ConnAck(ReturnCode::ACCEPTED));
}

#[test]
fn radio_register_and_regack() {
    both_ways(
        "0C 0A 00 00 00 01 68 6F 6D 65 2F 74",
        Message::Register(Register {
            topic_id: 0,
            msg_id: 1,
            topic_name: s("home/t"),
        }),
    );
    both_ways(
        "07 0B 00 01 00 01 00",
        Message::RegAck(RegAck {
            topic_id: 1,
            msg_id: 1,
            return_code: ReturnCode::ACCEPTED,
        }),
    );
}

#[test]
fn radio_publish_every_qos() {
    both_ways(
        "0B 0C 00 00 01 00 00 32 31 2E 35",
        publish(QoS::AtMostOnce, Topic::Normal(1), 0, b"21.5"),
    );
    both_ways(
        "09 0C 20 00 13 7E 7D 6F 6E",
        publish(QoS::AtLeastOnce, Topic::Normal(0x13), 0x7E7D, b"on"),
    );
    both_ways(
        "0A 0C 61 00 05 00 00 4F 4E 21",
        publish(QoS::MinusOne, Topic::Predefined(5), 0, b"ON!"),
    );
    // The note gives the header `10 0C 22 74 74 00 01` of a 9-octet payload; the payload is ours.
    both_ways(
        "10 0C 22 74 74 00 01 32 33 2E 35 20 64 65 67 43",
        publish(
            QoS::AtLeastOnce,
            Topic::Short(ShortName(*b"tt")),
            1,
            b"23.5 degC",
        ),
    );
    both_ways(
        "07 0D 74 74 00 01 00",
        Message::PubAck(PubAck {
            topic_id: 0x7474,
            msg_id: 1,
            return_code: ReturnCode::ACCEPTED,
        }),
    );
}

#[test]
fn radio_sleep_and_wake() {
    both_ways(
        "04 18 0E 10",
        Message::Disconnect(Disconnect {
            duration: Some(3600),
        }),
    );
    both_ways("02 18", Message::Disconnect(Disconnect { duration: None }));
    both_ways(
        "07 16 6E 6F 64 65 31",
        Message::PingReq(PingReq {
            client_id: Some(s("node1")),
        }),
    );
}

#[test]
fn radio_forwarder_encapsulation() {
    both_ways(
        "05 FE 01 05 00 0B 0C 00 00 01 00 00 32 31 2E 35",
        forwarded(
            0x01,
            &[0x05, 0x00],
            publish(QoS::AtMostOnce, Topic::Normal(1), 0, b"21.5"),
        ),
    );
    both_ways(
        "05 FE 01 C0 DB 07 0C 00 00 01 00 00",
        forwarded(
            0x01,
            &[0xC0, 0xDB],
            publish(QoS::AtMostOnce, Topic::Normal(1), 0, b""),
        ),
    );
}

#[test]
fn advertise_and_gwinfo_from_a_client() {
    both_ways(
        "05 00 01 03 84",
        Message::Advertise(Advertise {
            gw_id: 1,
            duration: 900,
        }),
    );
    both_ways(
        "07 02 01 7F 00 00 01",
        Message::GwInfo(GwInfo {
            gw_id: 1,
            gw_add: b(&[0x7F, 0, 0, 1]),
        }),
    );
}

#[test]
fn connect_with_will_and_rejections() {
    both_ways(
        "07 04 08 01 00 00 73",
        Message::Connect(Connect {
            will: true,
            clean_session: false,
            duration: 0,
            client_id: s("s"),
        }),
    );
    both_ways("03 05 01", Message::ConnAck(ReturnCode::CONGESTION));
    both_ways("03 05 03", Message::ConnAck(ReturnCode::NOT_SUPPORTED));
}

#[test]
fn will_flow() {
    let will = |qos, retain, topic: &str| WillTopic {
        qos,
        retain,
        topic: s(topic),
    };
    both_ways("02 06", Message::WillTopicReq);
    both_ways(
        "07 07 30 77 69 6C 6C",
        Message::WillTopic(Some(will(QoS::AtLeastOnce, true, "will"))),
    );
    // Empty WILLTOPIC: no Flags, no WillTopic (§5.4.7).
    both_ways("02 07", Message::WillTopic(None));
    // Flags present, topic empty: not the same message.
    both_ways(
        "03 07 00",
        Message::WillTopic(Some(will(QoS::AtMostOnce, false, ""))),
    );
    both_ways("02 08", Message::WillMsgReq);
    both_ways(
        "05 09 62 79 65",
        Message::WillMsg(WillMsg { payload: b(b"bye") }),
    );
    both_ways("02 09", Message::WillMsg(WillMsg::default()));
}

#[test]
fn will_updates() {
    both_ways(
        "0B 1A 40 77 69 6C 6C 2F 6E 65 77",
        Message::WillTopicUpd(Some(WillTopic {
            qos: QoS::ExactlyOnce,
            retain: false,
            topic: s("will/new"),
        })),
    );
    both_ways("02 1A", Message::WillTopicUpd(None));
    both_ways("03 1B 00", Message::WillTopicResp(ReturnCode::ACCEPTED));
    both_ways(
        "06 1C 67 6F 6E 65",
        Message::WillMsgUpd(WillMsg {
            payload: b(b"gone"),
        }),
    );
    both_ways("03 1D 03", Message::WillMsgResp(ReturnCode::NOT_SUPPORTED));
}

#[test]
fn register_from_the_gateway_and_a_rejected_regack() {
    both_ways(
        "0F 0A 00 2A 00 07 68 6F 6D 65 2F 6C 61 6D 70",
        Message::Register(Register {
            topic_id: 0x2A,
            msg_id: 7,
            topic_name: s("home/lamp"),
        }),
    );
    both_ways(
        "07 0B 00 00 00 07 01",
        Message::RegAck(RegAck {
            topic_id: 0,
            msg_id: 7,
            return_code: ReturnCode::CONGESTION,
        }),
    );
}

#[test]
fn publish_qos2_flow() {
    both_ways(
        "08 0C D0 00 2A 01 02 78",
        Message::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: Topic::Normal(0x2A),
            msg_id: 0x0102,
            payload: b(b"x"),
        }),
    );
    both_ways("04 0F 01 02", Message::PubRec(0x0102));
    both_ways("04 10 01 02", Message::PubRel(0x0102));
    both_ways("04 0E 01 02", Message::PubComp(0x0102));
    // PUBACK 0x02 for a QoS 0 PUBLISH to an unknown id carries message id 0.
    both_ways(
        "07 0D 00 09 00 00 02",
        Message::PubAck(PubAck {
            topic_id: 9,
            msg_id: 0,
            return_code: ReturnCode::INVALID_TOPIC_ID,
        }),
    );
}

#[test]
fn subscribe_every_topic_kind() {
    let subscribe = |dup, qos, msg_id, topic| {
        Message::Subscribe(Subscribe {
            dup,
            qos,
            msg_id,
            topic,
        })
    };
    both_ways(
        "0B 12 20 00 02 68 6F 6D 65 2F 23",
        subscribe(
            false,
            QoS::AtLeastOnce,
            2,
            SubscribeTopic::Name(s("home/#")),
        ),
    );
    both_ways(
        "07 12 01 00 03 00 05",
        subscribe(false, QoS::AtMostOnce, 3, SubscribeTopic::Predefined(5)),
    );
    both_ways(
        "07 12 C2 00 04 74 74",
        subscribe(
            true,
            QoS::ExactlyOnce,
            4,
            SubscribeTopic::Short(ShortName(*b"tt")),
        ),
    );
    // Wildcard filter: granted, topic id 0x0000 (§6.9).
    both_ways(
        "08 13 20 00 00 00 02 00",
        Message::SubAck(SubAck {
            qos: QoS::AtLeastOnce,
            topic_id: 0,
            msg_id: 2,
            return_code: ReturnCode::ACCEPTED,
        }),
    );
    both_ways(
        "08 13 00 00 00 00 03 02",
        Message::SubAck(SubAck {
            qos: QoS::AtMostOnce,
            topic_id: 0,
            msg_id: 3,
            return_code: ReturnCode::INVALID_TOPIC_ID,
        }),
    );
}

#[test]
fn unsubscribe_every_topic_kind() {
    let unsubscribe = |msg_id, topic| Message::Unsubscribe(Unsubscribe { msg_id, topic });
    both_ways(
        "0B 14 00 00 05 68 6F 6D 65 2F 23",
        unsubscribe(5, SubscribeTopic::Name(s("home/#"))),
    );
    both_ways(
        "07 14 01 00 06 00 05",
        unsubscribe(6, SubscribeTopic::Predefined(5)),
    );
    both_ways(
        "07 14 02 00 07 74 74",
        unsubscribe(7, SubscribeTopic::Short(ShortName(*b"tt"))),
    );
    both_ways("04 15 00 05", Message::UnsubAck(5));
}

#[test]
fn keep_alive() {
    both_ways("02 16", Message::PingReq(PingReq { client_id: None }));
    both_ways("02 17", Message::PingResp);
}

#[test]
fn forwarder_replies_and_empty_node_ids() {
    // Gateway → forwarder: CONNACK for node 7, broadcast radius 2.
    both_ways(
        "04 FE 02 07 03 05 00",
        forwarded(0x02, &[0x07], Message::ConnAck(ReturnCode::ACCEPTED)),
    );
    both_ways("03 FE 00 02 17", forwarded(0x00, &[], Message::PingResp));
    // Reserved Ctrl bits are carried as they came.
    let message = decode(&datagram("03 FE FD 02 17")).unwrap();
    let Message::Encapsulated(encapsulated) = &message else {
        panic!("{message:?}")
    };
    assert_eq!(encapsulated.ctrl.radius(), 1);
    assert_eq!(encoded(&message), wire("03 FE FD 02 17"));
}

/// A PUBLISH to topic 1 with a payload of `len` octets.
fn publish_of(len: usize) -> Message {
    publish(QoS::AtMostOnce, Topic::Normal(1), 0, &vec![0xAB; len])
}

/// `header` then the PUBLISH fields and `len` payload octets, as hex.
fn publish_hex(header: &str, len: usize) -> String {
    format!("{header} 0C 00 00 01 00 00{}", " AB".repeat(len))
}

#[test]
fn three_octet_length() {
    // 2 + 5 + 248 = 255 octets: the last size the 1-octet form can say.
    both_ways(&publish_hex("FF", 248), publish_of(248));
    // 256 octets in the 1-octet form become 258 in the 3-octet form.
    both_ways(&publish_hex("01 01 02", 249), publish_of(249));
    both_ways(&publish_hex("01 01 35", 300), publish_of(300));
    // The largest message: 65,535 octets.
    both_ways(&publish_hex("01 FF FF", 65_526), publish_of(65_526));
    // Inside an encapsulation too.
    both_ways(
        &format!("04 FE 00 09 {}", publish_hex("01 01 35", 300)),
        forwarded(0, &[0x09], publish_of(300)),
    );
}

#[test]
fn three_octet_form_is_accepted_for_short_messages() {
    // "Messages with lengths smaller than 256 octets may use the shorter
    // 1-octet format" (§5.2.1): may, so the long form is valid too.
    let message = decode(&datagram("01 00 05 05 00")).unwrap();
    assert_eq!(message, Message::ConnAck(ReturnCode::ACCEPTED));
    assert_eq!(encoded(&message), wire("03 05 00"));
}

#[test]
fn unused_flag_bits_are_ignored() {
    // CONNECT uses Will and CleanSession only (§5.4.4).
    let message = decode(&datagram("07 04 FF 01 00 0A 73")).unwrap();
    assert_eq!(
        message,
        Message::Connect(Connect {
            will: true,
            clean_session: true,
            duration: 10,
            client_id: s("s"),
        })
    );
    assert_eq!(encoded(&message), wire("07 04 0C 01 00 0A 73"));
    // UNSUBSCRIBE uses TopicIdType only; SUBACK uses QoS only.
    let message = decode(&datagram("07 14 F9 00 06 00 05")).unwrap();
    assert_eq!(encoded(&message), wire("07 14 01 00 06 00 05"));
    let message = decode(&datagram("08 13 BF 00 00 00 02 00")).unwrap();
    assert_eq!(encoded(&message), wire("08 13 20 00 00 00 02 00"));
}

#[test]
fn qos0_message_id_is_carried_as_it_came() {
    both_ways(
        "07 0C 00 00 01 12 34",
        publish(QoS::AtMostOnce, Topic::Normal(1), 0x1234, b""),
    );
}

#[test]
fn decoded_fields_share_the_datagram() {
    let bytes = datagram("0B 0C 00 00 01 00 00 32 31 2E 35");
    let Ok(Message::Publish(publish)) = decode(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(publish.payload.as_ptr(), bytes[7..].as_ptr());
}

#[test]
fn debug_never_shows_payloads() {
    let message = publish(QoS::AtMostOnce, Topic::Normal(1), 0, b"secret");
    let debug = format!("{message:?}");
    assert!(
        !debug.contains("secret") && debug.contains("payload_len: 6"),
        "{debug}"
    );
    let will = format!(
        "{:?}",
        WillMsg {
            payload: b(b"secret")
        }
    );
    assert!(!will.contains("secret"), "{will}");
    assert_eq!(format!("{:?}", ShortName(*b"tt")), "ShortName(\"tt\")");
    assert_eq!(format!("{:?}", ReturnCode(0x80)), "ReturnCode(0x80)");
}
