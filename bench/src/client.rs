//! A minimal MQTT 3.1.1 client side over raw TCP, speaking through wren's
//! sans-IO codec: connect, subscribe, and encoding or decoding single packets.
//! The load itself (pipelining, windows, pacing) lives in `load`.

use std::num::NonZeroU16;
use std::time::Duration;

use crate::conn::{Conn, Endpoint};
use anyhow::{Context as _, anyhow, bail};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use wren::protocol::mqtt::{
    self, Ack, Connect, Packet, PacketId, Properties, ProtocolVersion, Publish, QoS, Subscribe,
    SubscriptionOptions,
};

/// Every connection speaks MQTT 3.1.1, which both brokers support fully.
pub const VERSION: ProtocolVersion = ProtocolVersion::V311;

/// Largest packet the load generator accepts from a broker.
const MAX_PACKET: u32 = 1 << 20;

/// Keep-alive asked for: longer than any scenario, so no PINGREQ is ever due.
const KEEP_ALIVE_SECS: u16 = 300;

/// How long CONNECT → CONNACK and SUBSCRIBE → SUBACK may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected MQTT client: the connection and what was read past the last packet.
pub struct Client {
    pub stream: Conn,
    pub read_buf: BytesMut,
}

impl Client {
    /// Connects to `endpoint` (TCP or WebSocket) and completes CONNECT/CONNACK with a clean session.
    pub async fn connect(endpoint: Endpoint, client_id: &str) -> anyhow::Result<Self> {
        let stream = Conn::open(endpoint)
            .await
            .with_context(|| format!("{client_id}: connecting to {endpoint:?}"))?;
        let mut client = Self {
            stream,
            read_buf: BytesMut::with_capacity(256),
        };
        let connect = Packet::Connect(Box::new(Connect {
            protocol: VERSION,
            clean_start: true,
            keep_alive: KEEP_ALIVE_SECS,
            client_id: ByteString::from(client_id),
            will: None,
            username: None,
            password: None,
            properties: Properties::default(),
        }));
        client.send(&connect).await?;
        match client.expect_packet().await? {
            Packet::ConnAck(ack) if !ack.code.is_error() => Ok(client),
            Packet::ConnAck(ack) => bail!("{client_id}: connection refused: {:?}", ack.code),
            other => bail!("{client_id}: expected CONNACK, got {other:?}"),
        }
    }

    /// Subscribes to `filter` at `qos` and waits for a granting SUBACK.
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> anyhow::Result<()> {
        let subscribe = Packet::Subscribe(Subscribe {
            packet_id: NonZeroU16::MIN,
            filters: vec![(
                ByteString::from(filter),
                SubscriptionOptions {
                    qos,
                    ..Default::default()
                },
            )],
            properties: Properties::default(),
        });
        self.send(&subscribe).await?;
        match self.expect_packet().await? {
            Packet::SubAck(ack) if ack.reasons.iter().all(|r| !r.is_error()) => Ok(()),
            other => bail!("subscription to {filter} refused: {other:?}"),
        }
    }

    async fn send(&mut self, packet: &Packet) -> anyhow::Result<()> {
        let mut buf = BytesMut::new();
        mqtt::encode(packet, VERSION, &mut buf)?;
        self.stream.write_all(&buf).await?;
        Ok(())
    }

    async fn expect_packet(&mut self) -> anyhow::Result<Packet> {
        let read = read_packet(&mut self.stream, &mut self.read_buf);
        tokio::time::timeout(HANDSHAKE_TIMEOUT, read)
            .await
            .map_err(|_| anyhow!("no answer from the broker within {HANDSHAKE_TIMEOUT:?}"))?
    }
}

/// Reads until one whole packet is in `buf`, and decodes it.
async fn read_packet(stream: &mut Conn, buf: &mut BytesMut) -> anyhow::Result<Packet> {
    loop {
        if let Some(packet) = decode(buf)? {
            return Ok(packet);
        }
        if stream.read_buf(buf).await? == 0 {
            bail!("the broker closed the connection");
        }
    }
}

/// Decodes one packet from the front of `buf`, or `None` until one is whole.
pub fn decode(buf: &mut BytesMut) -> anyhow::Result<Option<Packet>> {
    mqtt::decode(buf, VERSION, MAX_PACKET)
        .map_err(|e| anyhow!("undecodable packet from the broker: {e:?}"))
}

/// Appends one PUBLISH to `out`.
pub fn encode_publish(
    out: &mut BytesMut,
    topic: &ByteString,
    qos: QoS,
    packet_id: Option<PacketId>,
    payload: Bytes,
) -> anyhow::Result<()> {
    let publish = Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic: topic.clone(),
        packet_id,
        properties: Properties::default(),
        payload,
    });
    mqtt::encode(&publish, VERSION, out)?;
    Ok(())
}

/// Appends one PUBACK to `out`.
pub fn encode_puback(out: &mut BytesMut, packet_id: PacketId) -> anyhow::Result<()> {
    mqtt::encode(&Packet::PubAck(Ack::new(packet_id)), VERSION, out)?;
    Ok(())
}

/// The payload of a benchmark message: the send time in nanoseconds since the
/// run's clock base (big-endian u64), the sender's sequence number (u64), then
/// zeros up to `len` (at least 16).
pub fn payload(scratch: &mut BytesMut, len: usize, sent_ns: u64, seq: u64) -> Bytes {
    scratch.reserve(len);
    scratch.extend_from_slice(&sent_ns.to_be_bytes());
    scratch.extend_from_slice(&seq.to_be_bytes());
    scratch.resize(len.max(16), 0);
    scratch.split().freeze()
}

/// The send time written by [`payload`], if the payload is one of ours.
pub fn sent_ns(payload: &[u8]) -> Option<u64> {
    let stamp: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(stamp))
}

/// The sequence number written by [`payload`], if the payload is one of ours.
pub fn seq(payload: &[u8]) -> Option<u64> {
    let seq: [u8; 8] = payload.get(8..16)?.try_into().ok()?;
    Some(u64::from_be_bytes(seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_carries_its_timestamp_and_length() {
        let mut scratch = BytesMut::new();
        let p = payload(&mut scratch, 64, 123_456_789, 7);
        assert_eq!(p.len(), 64);
        assert_eq!(sent_ns(&p), Some(123_456_789));
        assert_eq!(&p[8..16], &7u64.to_be_bytes());
        assert_eq!(seq(&p), Some(7));
        assert_eq!(payload(&mut scratch, 4, 1, 1).len(), 16);
        assert_eq!(sent_ns(b"short"), None);
    }

    #[test]
    fn published_packets_decode_back() {
        let mut wire = BytesMut::new();
        let topic = ByteString::from_static("bench/p0");
        let mut scratch = BytesMut::new();
        let id = NonZeroU16::new(9);
        encode_publish(
            &mut wire,
            &topic,
            QoS::AtLeastOnce,
            id,
            payload(&mut scratch, 64, 5, 0),
        )
        .unwrap();
        encode_puback(&mut wire, NonZeroU16::MIN).unwrap();
        match decode(&mut wire).unwrap() {
            Some(Packet::Publish(p)) => {
                assert_eq!((p.topic.as_ref(), p.packet_id), ("bench/p0", id));
                assert_eq!(sent_ns(&p.payload), Some(5));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode(&mut wire).unwrap(),
            Some(Packet::PubAck(_))
        ));
        assert!(decode(&mut wire).unwrap().is_none());
    }
}
