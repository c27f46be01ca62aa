//! MQTT-SN from the test's side: datagrams written by hand from the spec
//! (MQTT-SN 1.2 §5), not with wren's codec, and a UDP client with bounded waits.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::{Broker, WAIT};

/// Message types (§5.2.2).
pub mod kind {
    pub const ADVERTISE: u8 = 0x00;
    pub const SEARCHGW: u8 = 0x01;
    pub const GWINFO: u8 = 0x02;
    pub const CONNECT: u8 = 0x04;
    pub const CONNACK: u8 = 0x05;
    pub const WILLTOPICREQ: u8 = 0x06;
    pub const WILLTOPIC: u8 = 0x07;
    pub const WILLMSGREQ: u8 = 0x08;
    pub const WILLMSG: u8 = 0x09;
    pub const REGISTER: u8 = 0x0A;
    pub const REGACK: u8 = 0x0B;
    pub const PUBLISH: u8 = 0x0C;
    pub const PUBACK: u8 = 0x0D;
    pub const PUBCOMP: u8 = 0x0E;
    pub const PUBREC: u8 = 0x0F;
    pub const PUBREL: u8 = 0x10;
    pub const SUBSCRIBE: u8 = 0x12;
    pub const SUBACK: u8 = 0x13;
    pub const UNSUBSCRIBE: u8 = 0x14;
    pub const UNSUBACK: u8 = 0x15;
    pub const PINGREQ: u8 = 0x16;
    pub const PINGRESP: u8 = 0x17;
    pub const DISCONNECT: u8 = 0x18;
    pub const WILLTOPICUPD: u8 = 0x1A;
    pub const WILLTOPICRESP: u8 = 0x1B;
    pub const WILLMSGUPD: u8 = 0x1C;
    pub const WILLMSGRESP: u8 = 0x1D;
}

/// Flags octet bits (§5.3.4).
pub mod flag {
    pub const DUP: u8 = 0x80;
    pub const QOS1: u8 = 0x20;
    pub const QOS2: u8 = 0x40;
    pub const QOS_MINUS_ONE: u8 = 0x60;
    pub const RETAIN: u8 = 0x10;
    pub const WILL: u8 = 0x08;
    pub const CLEAN: u8 = 0x04;
    pub const NORMAL: u8 = 0x00;
    pub const PREDEFINED: u8 = 0x01;
    pub const SHORT: u8 = 0x02;
}

/// One message: Length (1 octet, or 0x01 + 2 octets from 256 up), MsgType, body.
pub fn message(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() + 2;
    let mut out = if len <= 255 {
        vec![len as u8]
    } else {
        let len = (len + 2) as u16;
        vec![0x01, (len >> 8) as u8, len as u8]
    };
    out.push(msg_type);
    out.extend_from_slice(body);
    out
}

fn be(n: u16) -> [u8; 2] {
    n.to_be_bytes()
}

pub fn connect(flags: u8, duration: u16, client_id: &str) -> Vec<u8> {
    let mut body = vec![flags, 0x01];
    body.extend(be(duration));
    body.extend(client_id.as_bytes());
    message(kind::CONNECT, &body)
}

pub fn will_topic(flags: u8, topic: &str) -> Vec<u8> {
    let mut body = vec![flags];
    body.extend(topic.as_bytes());
    message(kind::WILLTOPIC, &body)
}

pub fn will_msg(payload: &[u8]) -> Vec<u8> {
    message(kind::WILLMSG, payload)
}

pub fn will_topic_upd(flags: u8, topic: &str) -> Vec<u8> {
    let mut body = vec![flags];
    body.extend(topic.as_bytes());
    message(kind::WILLTOPICUPD, &body)
}

pub fn will_msg_upd(payload: &[u8]) -> Vec<u8> {
    message(kind::WILLMSGUPD, payload)
}

pub fn register(topic_id: u16, msg_id: u16, name: &str) -> Vec<u8> {
    let mut body = be(topic_id).to_vec();
    body.extend(be(msg_id));
    body.extend(name.as_bytes());
    message(kind::REGISTER, &body)
}

pub fn regack(topic_id: u16, msg_id: u16, rc: u8) -> Vec<u8> {
    let mut body = be(topic_id).to_vec();
    body.extend(be(msg_id));
    body.push(rc);
    message(kind::REGACK, &body)
}

/// PUBLISH; `topic` is the two TopicId octets (an id, or a short name's letters).
pub fn publish(flags: u8, topic: [u8; 2], msg_id: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![flags];
    body.extend(topic);
    body.extend(be(msg_id));
    body.extend(payload);
    message(kind::PUBLISH, &body)
}

pub fn puback(topic: [u8; 2], msg_id: u16, rc: u8) -> Vec<u8> {
    let mut body = topic.to_vec();
    body.extend(be(msg_id));
    body.push(rc);
    message(kind::PUBACK, &body)
}

pub fn pubrec(msg_id: u16) -> Vec<u8> {
    message(kind::PUBREC, &be(msg_id))
}

pub fn pubrel(msg_id: u16) -> Vec<u8> {
    message(kind::PUBREL, &be(msg_id))
}

pub fn pubcomp(msg_id: u16) -> Vec<u8> {
    message(kind::PUBCOMP, &be(msg_id))
}

/// SUBSCRIBE by topic name or filter (flags' TopicIdType 0b00).
pub fn subscribe_name(flags: u8, msg_id: u16, filter: &str) -> Vec<u8> {
    let mut body = vec![flags];
    body.extend(be(msg_id));
    body.extend(filter.as_bytes());
    message(kind::SUBSCRIBE, &body)
}

/// SUBSCRIBE by predefined id or short name (flags say which).
pub fn subscribe_id(flags: u8, msg_id: u16, topic: [u8; 2]) -> Vec<u8> {
    let mut body = vec![flags];
    body.extend(be(msg_id));
    body.extend(topic);
    message(kind::SUBSCRIBE, &body)
}

pub fn unsubscribe_name(msg_id: u16, filter: &str) -> Vec<u8> {
    let mut body = vec![0];
    body.extend(be(msg_id));
    body.extend(filter.as_bytes());
    message(kind::UNSUBSCRIBE, &body)
}

pub fn pingreq(client_id: Option<&str>) -> Vec<u8> {
    message(kind::PINGREQ, client_id.unwrap_or("").as_bytes())
}

pub fn disconnect(duration: Option<u16>) -> Vec<u8> {
    match duration {
        Some(d) => message(kind::DISCONNECT, &be(d)),
        None => message(kind::DISCONNECT, &[]),
    }
}

pub fn searchgw(radius: u8) -> Vec<u8> {
    message(kind::SEARCHGW, &[radius])
}

/// The TopicId octets of a numeric id.
pub fn id(n: u16) -> [u8; 2] {
    be(n)
}

/// A received message, split into type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct In {
    pub kind: u8,
    pub body: Vec<u8>,
}

impl In {
    /// Splits one datagram, checking its Length field.
    pub fn parse(datagram: &[u8]) -> Self {
        let (len, header) = if datagram[0] == 0x01 {
            (u16::from_be_bytes([datagram[1], datagram[2]]) as usize, 3)
        } else {
            (datagram[0] as usize, 1)
        };
        assert_eq!(len, datagram.len(), "Length field of {datagram:02x?}");
        Self {
            kind: datagram[header],
            body: datagram[header + 1..].to_vec(),
        }
    }

    fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.body[at], self.body[at + 1]])
    }

    /// PUBLISH fields: (flags, topic id octets, msg id, payload).
    pub fn publish(&self) -> (u8, [u8; 2], u16, Vec<u8>) {
        assert_eq!(self.kind, kind::PUBLISH, "not a PUBLISH: {self:02x?}");
        (
            self.body[0],
            [self.body[1], self.body[2]],
            self.u16_at(3),
            self.body[5..].to_vec(),
        )
    }

    /// REGISTER fields: (topic id, msg id, name).
    pub fn register(&self) -> (u16, u16, String) {
        assert_eq!(self.kind, kind::REGISTER, "not a REGISTER: {self:02x?}");
        let name = String::from_utf8(self.body[4..].to_vec()).unwrap();
        (self.u16_at(0), self.u16_at(2), name)
    }

    /// SUBACK fields: (flags, topic id, msg id, return code).
    pub fn suback(&self) -> (u8, u16, u16, u8) {
        assert_eq!(self.kind, kind::SUBACK, "not a SUBACK: {self:02x?}");
        (self.body[0], self.u16_at(1), self.u16_at(3), self.body[5])
    }

    /// REGACK / PUBACK fields: (topic id, msg id, return code).
    pub fn ack(&self) -> (u16, u16, u8) {
        assert!(
            self.kind == kind::REGACK || self.kind == kind::PUBACK,
            "not a REGACK or PUBACK: {self:02x?}"
        );
        (self.u16_at(0), self.u16_at(2), self.body[4])
    }
}

/// The gateway's UDP address in a running test broker.
pub fn gateway(broker: &Broker) -> SocketAddr {
    broker.server.as_ref().unwrap().addrs().mqttsn_udp[0]
}

/// An MQTT-SN node on its own UDP socket. With `node` set it sits behind a
/// forwarder: every message goes out wrapped in the 0xFE encapsulation with
/// that node id, and every answer must come back wrapped for the same node.
pub struct Sn {
    pub socket: UdpSocket,
    pub gateway: SocketAddr,
    pub node: Option<Vec<u8>>,
}

impl Sn {
    /// A node with a fresh socket; sends nothing.
    pub async fn open(gateway: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        Self {
            socket,
            gateway,
            node: None,
        }
    }

    /// Opens a node and connects it (clean session), asserting CONNACK accepted.
    pub async fn connect(gateway: SocketAddr, client_id: &str, duration: u16) -> Self {
        let mut sn = Self::open(gateway).await;
        sn.send(&connect(flag::CLEAN, duration, client_id)).await;
        sn.expect(&[0x03, kind::CONNACK, 0x00]).await;
        sn
    }

    /// Sends one message (wrapped for the forwarder when `node` is set).
    pub async fn send(&self, bytes: &[u8]) {
        let datagram = match &self.node {
            Some(node) => {
                let mut out = vec![(3 + node.len()) as u8, 0xFE, 0x00];
                out.extend(node);
                out.extend(bytes);
                out
            }
            None => bytes.to_vec(),
        };
        self.send_raw(&datagram).await;
    }

    /// Sends bytes exactly as given.
    pub async fn send_raw(&self, datagram: &[u8]) {
        self.socket.send_to(datagram, self.gateway).await.unwrap();
    }

    /// The next message within `within`, unwrapped (and checked) when behind a forwarder.
    pub async fn try_recv(&mut self, within: Duration) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 70_000];
        let (n, from) = timeout(within, self.socket.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        assert_eq!(from, self.gateway, "datagram from elsewhere");
        let datagram = buf[..n].to_vec();
        Some(match &self.node {
            Some(node) => {
                assert_eq!(
                    datagram[1], 0xFE,
                    "answer not encapsulated: {datagram:02x?}"
                );
                let header = datagram[0] as usize;
                assert_eq!(
                    &datagram[3..header],
                    node.as_slice(),
                    "answer for another node"
                );
                datagram[header..].to_vec()
            }
            None => datagram,
        })
    }

    /// The next message as bytes; panics after the usual timeout.
    pub async fn recv(&mut self) -> Vec<u8> {
        match self.try_recv(WAIT).await {
            Some(bytes) => bytes,
            None => panic!("no MQTT-SN message within {WAIT:?}"),
        }
    }

    /// The next message, parsed.
    pub async fn recv_in(&mut self) -> In {
        In::parse(&self.recv().await)
    }

    /// The next message, whose type must be `msg_type`.
    pub async fn recv_kind(&mut self, msg_type: u8) -> In {
        let got = self.recv_in().await;
        assert_eq!(got.kind, msg_type, "unexpected message {got:02x?}");
        got
    }

    /// Asserts the next message is exactly `bytes`.
    pub async fn expect(&mut self, bytes: &[u8]) {
        let got = self.recv().await;
        assert_eq!(got, bytes, "expected {bytes:02x?}, got {got:02x?}");
    }

    /// Asserts nothing arrives for `quiet`.
    pub async fn expect_nothing(&mut self, quiet: Duration) {
        if let Some(got) = self.try_recv(quiet).await {
            panic!("expected nothing, got {got:02x?}");
        }
    }

    /// REGISTERs `name` and returns the topic id from the accepting REGACK.
    pub async fn register(&mut self, msg_id: u16, name: &str) -> u16 {
        self.send(&register(0, msg_id, name)).await;
        let (topic_id, acked, rc) = self.recv_kind(kind::REGACK).await.ack();
        assert_eq!((acked, rc), (msg_id, 0), "REGACK for {name}");
        topic_id
    }
}
