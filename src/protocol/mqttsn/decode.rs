//! Reading one message from one datagram.

use bytes::{Buf, Bytes};
use bytestring::ByteString;

use super::error::DecodeError;
use super::flags::{Flags, TopicIdType};
use super::header::{MsgType, THREE_OCTET_FORM, split};
use super::packet::{
    Advertise, Connect, Ctrl, Disconnect, Encapsulated, GwInfo, Message, MsgId, PingReq, PubAck,
    Publish, RegAck, Register, ReturnCode, SearchGw, ShortName, SubAck, Subscribe, SubscribeTopic,
    Topic, Unsubscribe, WillMsg, WillTopic,
};

/// The ProtocolId of MQTT-SN 1.2 in CONNECT (§5.3.8).
pub(super) const PROTOCOL_ID: u8 = 0x01;

/// Decodes `datagram` as exactly one MQTT-SN message, or one forwarder
/// encapsulation around one (§5.5).
///
/// A datagram is a whole message, so there is no "need more bytes" case: the
/// Length field must equal the datagram's size, and anything else, octets past
/// the announced length included, is `LengthMismatch`. Inside the message,
/// octets after the last field its type can hold are `TooLong`. Flag bits a
/// message does not use are ignored. Payloads, names and ids are slices of
/// `datagram`, not copies.
pub fn decode(datagram: &Bytes) -> Result<Message, DecodeError> {
    if is_encapsulated(datagram) {
        read_encapsulated(datagram)
    } else {
        decode_plain(datagram)
    }
}

/// The encapsulation header has a 1-octet Length followed by 0xFE; a first
/// octet of 0x01 instead announces a plain message's 3-octet Length.
fn is_encapsulated(datagram: &[u8]) -> bool {
    matches!(datagram, [first, 0xFE, ..] if *first != THREE_OCTET_FORM)
}

/// `Length(1) 0xFE Ctrl(1) WirelessNodeId(Length − 3) message` (§5.5): the
/// Length octet covers the header up to the end of the node id.
fn read_encapsulated(datagram: &Bytes) -> Result<Message, DecodeError> {
    let [header_len, _, ctrl, ..] = datagram.as_ref() else {
        return Err(DecodeError::BadForwarder);
    };
    let (header_len, ctrl) = (usize::from(*header_len), Ctrl(*ctrl));
    if header_len < 3 || header_len > datagram.len() {
        return Err(DecodeError::BadForwarder);
    }
    let inner = datagram.slice(header_len..);
    if is_encapsulated(&inner) {
        return Err(DecodeError::NestedEncapsulation);
    }
    Ok(Message::Encapsulated(Box::new(Encapsulated {
        ctrl,
        node_id: datagram.slice(3..header_len),
        message: decode_plain(&inner)?,
    })))
}

/// Decodes a message that is not an encapsulation.
fn decode_plain(datagram: &Bytes) -> Result<Message, DecodeError> {
    let (code, body) = split(datagram)?;
    let msg_type = MsgType::from_code(code).ok_or(DecodeError::UnknownType(code))?;
    let mut r = Reader { body, msg_type };
    let message = read_body(&mut r)?;
    r.finish()?;
    Ok(message)
}

/// Reads the fields of `r.msg_type`, in wire order (§5.4).
fn read_body(r: &mut Reader) -> Result<Message, DecodeError> {
    use MsgType as T;
    Ok(match r.msg_type {
        T::Advertise => Message::Advertise(Advertise {
            gw_id: r.u8()?,
            duration: r.u16()?,
        }),
        T::SearchGw => Message::SearchGw(SearchGw { radius: r.u8()? }),
        T::GwInfo => Message::GwInfo(GwInfo {
            gw_id: r.u8()?,
            gw_add: r.rest(),
        }),
        T::Connect => Message::Connect(read_connect(r)?),
        T::ConnAck => Message::ConnAck(r.return_code()?),
        T::WillTopicReq => Message::WillTopicReq,
        T::WillTopic => Message::WillTopic(read_will_topic(r)?),
        T::WillMsgReq => Message::WillMsgReq,
        T::WillMsg => Message::WillMsg(WillMsg { payload: r.rest() }),
        T::Register => Message::Register(Register {
            topic_id: r.u16()?,
            msg_id: r.msg_id()?,
            topic_name: r.text()?,
        }),
        T::RegAck => Message::RegAck(RegAck {
            topic_id: r.u16()?,
            msg_id: r.msg_id()?,
            return_code: r.return_code()?,
        }),
        T::Publish => Message::Publish(read_publish(r)?),
        // May carry message id 0: the answer to a QoS 0 PUBLISH (§6.5).
        T::PubAck => Message::PubAck(PubAck {
            topic_id: r.u16()?,
            msg_id: r.u16()?,
            return_code: r.return_code()?,
        }),
        T::PubComp => Message::PubComp(r.msg_id()?),
        T::PubRec => Message::PubRec(r.msg_id()?),
        T::PubRel => Message::PubRel(r.msg_id()?),
        T::Subscribe => Message::Subscribe(read_subscribe(r)?),
        T::SubAck => Message::SubAck(SubAck {
            qos: r.flags()?.qos,
            topic_id: r.u16()?,
            msg_id: r.msg_id()?,
            return_code: r.return_code()?,
        }),
        T::Unsubscribe => Message::Unsubscribe(read_unsubscribe(r)?),
        T::UnsubAck => Message::UnsubAck(r.msg_id()?),
        T::PingReq => Message::PingReq(PingReq {
            client_id: if r.body.is_empty() {
                None
            } else {
                Some(r.text()?)
            },
        }),
        T::PingResp => Message::PingResp,
        T::Disconnect => Message::Disconnect(Disconnect {
            duration: if r.body.is_empty() {
                None
            } else {
                Some(r.u16()?)
            },
        }),
        T::WillTopicUpd => Message::WillTopicUpd(read_will_topic(r)?),
        T::WillTopicResp => Message::WillTopicResp(r.return_code()?),
        T::WillMsgUpd => Message::WillMsgUpd(WillMsg { payload: r.rest() }),
        T::WillMsgResp => Message::WillMsgResp(r.return_code()?),
        // Only a 3-octet Length can put 0xFE here; the encapsulation header has none.
        T::Encapsulated => return Err(DecodeError::BadForwarder),
    })
}

/// CONNECT: Flags, ProtocolId, Duration, ClientId (§5.4.4).
fn read_connect(r: &mut Reader) -> Result<Connect, DecodeError> {
    let flags = r.flags()?;
    let protocol_id = r.u8()?;
    let duration = r.u16()?;
    if protocol_id != PROTOCOL_ID {
        return Err(DecodeError::UnsupportedProtocolId(protocol_id));
    }
    Ok(Connect {
        will: flags.will,
        clean_session: flags.clean_session,
        duration,
        client_id: r.text()?,
    })
}

/// WILLTOPIC and WILLTOPICUPD: Flags and WillTopic, or nothing at all (§5.4.7).
fn read_will_topic(r: &mut Reader) -> Result<Option<WillTopic>, DecodeError> {
    if r.body.is_empty() {
        return Ok(None);
    }
    let flags = r.flags()?;
    Ok(Some(WillTopic {
        qos: flags.qos,
        retain: flags.retain,
        topic: r.text()?,
    }))
}

/// PUBLISH: Flags, TopicId, MsgId, Data (§5.4.12).
fn read_publish(r: &mut Reader) -> Result<Publish, DecodeError> {
    let flags = r.flags()?;
    let topic = r.pair()?;
    let msg_id = r.u16()?;
    let topic = match flags.topic_id_type {
        TopicIdType::Normal => Topic::Normal(u16::from_be_bytes(topic)),
        TopicIdType::Predefined => Topic::Predefined(u16::from_be_bytes(topic)),
        TopicIdType::Short => Topic::Short(ShortName(topic)),
        TopicIdType::Reserved => return Err(DecodeError::InvalidTopicIdType),
    };
    if flags.qos.is_acknowledged() && msg_id == 0 {
        return Err(DecodeError::ZeroMsgId(MsgType::Publish));
    }
    Ok(Publish {
        dup: flags.dup,
        qos: flags.qos,
        retain: flags.retain,
        topic,
        msg_id,
        payload: r.rest(),
    })
}

/// SUBSCRIBE: Flags, MsgId, then a topic name, predefined id or short name (§5.4.15).
fn read_subscribe(r: &mut Reader) -> Result<Subscribe, DecodeError> {
    let flags = r.flags()?;
    let msg_id = r.msg_id()?;
    Ok(Subscribe {
        dup: flags.dup,
        qos: flags.qos,
        msg_id,
        topic: read_subscribe_topic(r, flags.topic_id_type)?,
    })
}

/// UNSUBSCRIBE: the same layout as SUBSCRIBE; only TopicIdType counts in its flags (§5.4.17).
fn read_unsubscribe(r: &mut Reader) -> Result<Unsubscribe, DecodeError> {
    let flags = r.flags()?;
    let msg_id = r.msg_id()?;
    Ok(Unsubscribe {
        msg_id,
        topic: read_subscribe_topic(r, flags.topic_id_type)?,
    })
}

fn read_subscribe_topic(
    r: &mut Reader,
    topic_id_type: TopicIdType,
) -> Result<SubscribeTopic, DecodeError> {
    Ok(match topic_id_type {
        TopicIdType::Normal => SubscribeTopic::Name(r.text()?),
        TopicIdType::Predefined => SubscribeTopic::Predefined(r.u16()?),
        TopicIdType::Short => SubscribeTopic::Short(ShortName(r.pair()?)),
        TopicIdType::Reserved => return Err(DecodeError::InvalidTopicIdType),
    })
}

/// A cursor over the body of one message (everything after MsgType). Running
/// out is `TooShort` for the message's type; slices share the datagram.
struct Reader {
    body: Bytes,
    msg_type: MsgType,
}

impl Reader {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        if self.body.is_empty() {
            return Err(DecodeError::TooShort(self.msg_type));
        }
        Ok(self.body.get_u8())
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.pair()?))
    }

    /// Two octets as they are: a short topic name, or a field read big-endian.
    fn pair(&mut self) -> Result<[u8; 2], DecodeError> {
        if self.body.len() < 2 {
            return Err(DecodeError::TooShort(self.msg_type));
        }
        let pair = [self.body[0], self.body[1]];
        self.body.advance(2);
        Ok(pair)
    }

    fn flags(&mut self) -> Result<Flags, DecodeError> {
        self.u8().map(Flags::from)
    }

    fn return_code(&mut self) -> Result<ReturnCode, DecodeError> {
        self.u8().map(ReturnCode)
    }

    /// A message id that an acknowledgement will be matched to, so never 0.
    fn msg_id(&mut self) -> Result<MsgId, DecodeError> {
        match self.u16()? {
            0 => Err(DecodeError::ZeroMsgId(self.msg_type)),
            id => Ok(id),
        }
    }

    /// The rest of the message: a payload or an address.
    fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.body)
    }

    /// The rest of the message as UTF-8 text: a topic name or a client id.
    fn text(&mut self) -> Result<ByteString, DecodeError> {
        ByteString::try_from(self.rest()).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// Fails if octets are left after every field the type holds.
    fn finish(&self) -> Result<(), DecodeError> {
        if self.body.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TooLong(self.msg_type))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::datagram;
    use super::*;

    /// Decoding `hex` fails with `error`.
    fn fails(hex: &str, error: DecodeError) {
        assert_eq!(decode(&datagram(hex)), Err(error), "{hex}");
    }

    #[test]
    fn truncated() {
        fails("", DecodeError::Truncated);
        fails("02", DecodeError::Truncated);
        // The 3-octet form needs four octets before MsgType is known.
        fails("01", DecodeError::Truncated);
        fails("01 00 04", DecodeError::Truncated);
    }

    #[test]
    fn length_mismatch() {
        let mismatch = |declared, actual| DecodeError::LengthMismatch { declared, actual };
        // A trailing octet after a whole CONNACK is refused, not ignored.
        fails("03 05 00 00", mismatch(3, 4));
        fails("04 05 00", mismatch(4, 3));
        fails("00 17", mismatch(0, 2));
        fails("01 00 06 05 00", mismatch(6, 5));
        fails("01 00 04 05 00", mismatch(4, 5));
    }

    #[test]
    fn unknown_type() {
        for code in [0x03, 0x11, 0x19, 0x1E, 0x80, 0xFD, 0xFF] {
            fails(&format!("02 {code:02X}"), DecodeError::UnknownType(code));
        }
    }

    #[test]
    fn too_short() {
        use MsgType as T;
        fails("04 00 01 00", DecodeError::TooShort(T::Advertise));
        fails("02 01", DecodeError::TooShort(T::SearchGw));
        fails("02 05", DecodeError::TooShort(T::ConnAck));
        fails("05 04 04 01 00", DecodeError::TooShort(T::Connect));
        fails("06 0C 00 00 01 00", DecodeError::TooShort(T::Publish));
        fails("06 0B 00 01 00 01", DecodeError::TooShort(T::RegAck));
        fails("03 0E 00", DecodeError::TooShort(T::PubComp));
        fails("06 12 01 00 01 05", DecodeError::TooShort(T::Subscribe));
        fails("06 14 02 00 01 74", DecodeError::TooShort(T::Unsubscribe));
        // Half a Duration.
        fails("03 18 0E", DecodeError::TooShort(T::Disconnect));
    }

    #[test]
    fn too_long() {
        use MsgType as T;
        fails("04 05 00 00", DecodeError::TooLong(T::ConnAck));
        fails("03 17 00", DecodeError::TooLong(T::PingResp));
        fails("03 06 00", DecodeError::TooLong(T::WillTopicReq));
        fails("05 18 0E 10 00", DecodeError::TooLong(T::Disconnect));
        fails("05 0F 00 01 00", DecodeError::TooLong(T::PubRec));
        fails(
            "08 12 01 00 01 00 05 00",
            DecodeError::TooLong(T::Subscribe),
        );
        fails("08 0D 00 01 00 01 00 00", DecodeError::TooLong(T::PubAck));
    }

    #[test]
    fn invalid_topic_id_type() {
        fails("07 0C 03 00 01 00 00", DecodeError::InvalidTopicIdType);
        fails("07 12 23 00 01 00 05", DecodeError::InvalidTopicIdType);
        fails("07 14 03 00 01 00 05", DecodeError::InvalidTopicIdType);
        // Messages that do not use the field ignore it.
        assert!(decode(&datagram("08 13 23 00 00 00 01 00")).is_ok());
    }

    #[test]
    fn invalid_utf8() {
        fails("08 04 04 01 00 3C C3 28", DecodeError::InvalidUtf8);
        fails("08 0A 00 00 00 01 FF FE", DecodeError::InvalidUtf8);
        fails("07 12 00 00 01 C3 28", DecodeError::InvalidUtf8);
        fails("06 14 00 00 01 80", DecodeError::InvalidUtf8);
        fails("04 07 00 C3", DecodeError::InvalidUtf8);
        fails("04 1A 00 C3", DecodeError::InvalidUtf8);
        fails("03 16 FF", DecodeError::InvalidUtf8);
    }

    #[test]
    fn unsupported_protocol_id() {
        fails(
            "0B 04 04 02 00 3C 6E 6F 64 65 31",
            DecodeError::UnsupportedProtocolId(0x02),
        );
        fails(
            "06 04 04 00 00 3C",
            DecodeError::UnsupportedProtocolId(0x00),
        );
    }

    #[test]
    fn zero_msg_id() {
        use MsgType as T;
        fails("07 0C 20 00 01 00 00", DecodeError::ZeroMsgId(T::Publish));
        fails("07 0C 40 00 01 00 00", DecodeError::ZeroMsgId(T::Publish));
        fails("07 0A 00 00 00 00 61", DecodeError::ZeroMsgId(T::Register));
        fails("07 0B 00 01 00 00 00", DecodeError::ZeroMsgId(T::RegAck));
        fails("04 0E 00 00", DecodeError::ZeroMsgId(T::PubComp));
        fails("04 0F 00 00", DecodeError::ZeroMsgId(T::PubRec));
        fails("04 10 00 00", DecodeError::ZeroMsgId(T::PubRel));
        fails("06 12 00 00 00 61", DecodeError::ZeroMsgId(T::Subscribe));
        fails("08 13 00 00 01 00 00 00", DecodeError::ZeroMsgId(T::SubAck));
        fails("06 14 00 00 00 61", DecodeError::ZeroMsgId(T::Unsubscribe));
        fails("04 15 00 00", DecodeError::ZeroMsgId(T::UnsubAck));
        // Allowed: QoS 0 and −1 PUBLISH, and the PUBACK that rejects a QoS 0 PUBLISH.
        assert!(decode(&datagram("07 0C 00 00 01 00 00")).is_ok());
        assert!(decode(&datagram("07 0C 61 00 01 00 00")).is_ok());
        assert!(decode(&datagram("07 0D 00 09 00 00 02")).is_ok());
    }

    #[test]
    fn bad_forwarder() {
        // Length octet below 3: no room for MsgType and Ctrl.
        fails("02 FE 00 03 05 00", DecodeError::BadForwarder);
        fails("00 FE", DecodeError::BadForwarder);
        // Length octet past the datagram.
        fails("09 FE 00 05 00 03 05 00", DecodeError::BadForwarder);
        // Too short for Ctrl.
        fails("03 FE", DecodeError::BadForwarder);
        // 0xFE after a 3-octet Length.
        fails("01 00 05 FE 00", DecodeError::BadForwarder);
        // A whole header with nothing inside: the inner message is what is short.
        fails("04 FE 00 05", DecodeError::Truncated);
    }

    #[test]
    fn nested_encapsulation() {
        fails(
            "04 FE 00 05 04 FE 00 06 03 05 00",
            DecodeError::NestedEncapsulation,
        );
    }
}
