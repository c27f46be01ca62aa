//! MQTT-SN publishers over UDP, through wren's gateway, speaking through wren's
//! sans-IO MQTT-SN codec (`wren::protocol::mqttsn`).
//!
//! Each publisher is one UDP socket on 127.0.0.1, connected to the gateway. It
//! CONNECTs (clean session), REGISTERs its topic name and publishes to the topic
//! id it gets back, the path a sensor node takes. At QoS 1 MQTT-SN allows one
//! PUBLISH in flight per client (MQTT-SN 1.2 §6.13), so a publisher is
//! stop-and-wait: it sends the next message only after the PUBACK of the last,
//! sends again (with DUP) when no PUBACK comes within [`RETRY`], and again after
//! a short pause when the gateway answers "congestion". At QoS 0 nothing comes
//! back, so a publisher keeps at most `window` messages ahead of the last one
//! the subscriber has received from it (see [`Progress`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::net::UdpSocket;
use tokio::time::timeout;
use wren::protocol::mqttsn::{
    self, Connect, Message, MsgId, Publish, QoS, Register, ReturnCode, Topic, TopicId,
};

use crate::client;
use crate::load::{Backlog, Clock, Progress, PublisherReport};

/// How long a publisher waits for a PUBACK (or CONNACK, REGACK) before sending again.
/// Far above a loopback round trip, also on a loaded 2-core machine.
const RETRY: Duration = Duration::from_millis(250);

/// How long CONNECT → CONNACK and REGISTER → REGACK may take in all, resends included.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Pause after a PUBACK "congestion" before the PUBLISH is sent again.
const CONGESTION_PAUSE: Duration = Duration::from_millis(5);

/// How long past its deadline a QoS 1 publisher keeps trying to get its last PUBACK.
const ACK_GRACE: Duration = Duration::from_secs(5);

/// Keep-alive asked for: longer than any scenario, so no PINGREQ is ever due.
const KEEP_ALIVE_SECS: u16 = 300;

/// Largest datagram read; MQTT-SN's 3-octet length allows up to 65,535.
const RECV_BUFFER: usize = 65_536;

/// A connected MQTT-SN client with a registered topic.
pub struct SnPublisher {
    socket: UdpSocket,
    topic_id: TopicId,
    recv: Vec<u8>,
}

impl SnPublisher {
    /// Binds a UDP socket on 127.0.0.1, CONNECTs to `gateway` as `client_id` with a
    /// clean session, and REGISTERs `topic`.
    pub async fn connect(
        gateway: SocketAddr,
        client_id: &str,
        topic: &str,
    ) -> anyhow::Result<Self> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("binding a UDP socket on 127.0.0.1")?;
        socket
            .connect(gateway)
            .await
            .with_context(|| format!("connecting a UDP socket to {gateway}"))?;
        let mut publisher = Self {
            socket,
            topic_id: 0,
            recv: vec![0; RECV_BUFFER],
        };
        let connect = Message::Connect(Connect {
            will: false,
            clean_session: true,
            duration: KEEP_ALIVE_SECS,
            client_id: ByteString::from(client_id),
        });
        // The gateway may bind its UDP socket a moment after the TCP listener the
        // tool waits for: CONNECT is simply sent again until it answers.
        publisher
            .exchange(&connect, |message| match message {
                Message::ConnAck(code) if code.is_accepted() => Ok(Some(())),
                Message::ConnAck(code) => bail!("{client_id}: CONNECT refused: {code:?}"),
                _ => Ok(None),
            })
            .await
            .with_context(|| format!("{client_id}: CONNECT"))?;
        let msg_id: MsgId = 1;
        let register = Message::Register(Register {
            topic_id: 0,
            msg_id,
            topic_name: ByteString::from(topic),
        });
        publisher.topic_id = publisher
            .exchange(&register, |message| match message {
                Message::RegAck(ack) if ack.msg_id == msg_id && ack.return_code.is_accepted() => {
                    Ok(Some(ack.topic_id))
                }
                Message::RegAck(ack) if ack.msg_id == msg_id => {
                    bail!(
                        "{client_id}: REGISTER {topic} refused: {:?}",
                        ack.return_code
                    )
                }
                _ => Ok(None),
            })
            .await
            .with_context(|| format!("{client_id}: REGISTER {topic}"))?;
        Ok(publisher)
    }

    /// Sends `request` until `answer` accepts a message from the gateway, every [`RETRY`].
    async fn exchange<T>(
        &mut self,
        request: &Message,
        mut answer: impl FnMut(Message) -> anyhow::Result<Option<T>>,
    ) -> anyhow::Result<T> {
        let datagram = encode(request)?;
        let give_up = Instant::now() + HANDSHAKE_TIMEOUT;
        while Instant::now() < give_up {
            match self.socket.send(&datagram).await {
                Ok(_) => {}
                // Nobody on the port yet: ICMP port unreachable surfaces on a connected socket.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e).context("UDP send"),
            }
            let until = Instant::now() + RETRY;
            while let Some(message) = self.receive_until(until).await? {
                if let Some(value) = answer(message)? {
                    return Ok(value);
                }
            }
            // A refused send returns at once: still one try per RETRY.
            tokio::time::sleep_until(until.into()).await;
        }
        Err(anyhow!(
            "no answer from the gateway within {HANDSHAKE_TIMEOUT:?}"
        ))
    }

    /// The next message from the gateway, or `None` once `until` has passed.
    async fn receive_until(&mut self, until: Instant) -> anyhow::Result<Option<Message>> {
        let now = Instant::now();
        if now >= until {
            return Ok(None);
        }
        match timeout(until - now, self.socket.recv(&mut self.recv)).await {
            Err(_) => Ok(None),
            // Nobody on the port yet (ICMP port unreachable): as good as no answer.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(None),
            Ok(Err(e)) => Err(e).context("UDP receive"),
            Ok(Ok(n)) => {
                let datagram = Bytes::copy_from_slice(&self.recv[..n]);
                mqttsn::decode(&datagram)
                    .map(Some)
                    .map_err(|e| anyhow!("undecodable datagram from the gateway: {e:?}"))
            }
        }
    }
}

/// What one MQTT-SN publisher sends.
pub struct SnPlan {
    /// This publisher's index among the scenario's publishers (carried in its sequence numbers).
    pub index: usize,
    pub qos: wren::protocol::mqtt::QoS,
    /// Subscribers that receive each message (for the backlog).
    pub receivers: u64,
    /// Messages to send, unless the deadline comes first.
    pub count: u64,
    pub payload_len: usize,
    /// QoS 0: most messages sent ahead of the last one the subscriber got from this publisher.
    pub window: u64,
    pub deadline: Instant,
}

/// Sends `plan.count` messages (or until the deadline) and hands the client back.
pub async fn publish(
    mut publisher: SnPublisher,
    plan: SnPlan,
    clock: Clock,
    backlog: Arc<Backlog>,
    progress: Arc<Progress>,
) -> anyhow::Result<(SnPublisher, PublisherReport)> {
    let report = match plan.qos {
        wren::protocol::mqtt::QoS::AtMostOnce => {
            publish_qos0(&mut publisher, &plan, clock, &backlog, &progress).await?
        }
        wren::protocol::mqtt::QoS::AtLeastOnce => {
            // Stop-and-wait on a thread of its own, with a blocking socket:
            // the answer wakes this thread directly, at two system calls per
            // message (send, receive). A task on the load generator's runtime
            // paid a failed receive, an epoll wait and a cross-thread wake-up
            // per message on top, as much CPU as the gateway spent on it.
            let topic_id = publisher.topic_id;
            let socket = publisher.socket.into_std()?;
            let handle = tokio::runtime::Handle::current();
            let (socket, report) = tokio::task::spawn_blocking(move || {
                let report = publish_qos1(&socket, topic_id, &plan, clock, &backlog, &handle);
                (socket, report)
            })
            .await
            .context("MQTT-SN publisher thread")?;
            socket.set_nonblocking(true)?;
            publisher.socket = UdpSocket::from_std(socket)?;
            report?
        }
        other => bail!("MQTT-SN publishers send at QoS 0 or 1, not {other:?}"),
    };
    Ok((publisher, report))
}

/// How long a QoS 0 publisher waits for the subscriber to see more of its
/// messages before it takes the missing ones for lost and sends on.
const STALL: Duration = Duration::from_millis(50);

async fn publish_qos0(
    publisher: &mut SnPublisher,
    plan: &SnPlan,
    clock: Clock,
    backlog: &Backlog,
    progress: &Progress,
) -> anyhow::Result<PublisherReport> {
    let mut report = PublisherReport::default();
    let mut scratch = BytesMut::new();
    let mut out = BytesMut::new();
    while report.sent < plan.count && Instant::now() < plan.deadline {
        let seen = progress.seen(plan.index);
        if report.sent.saturating_sub(seen) >= plan.window {
            let wanted = report.sent + 1 - plan.window;
            let until = (Instant::now() + STALL).min(plan.deadline);
            progress.wait_for(plan.index, wanted, until).await;
        }
        let seq = Progress::tag(plan.index, report.sent);
        let payload = client::payload(&mut scratch, plan.payload_len, clock.now_ns(), seq);
        backlog.published(plan.receivers);
        encode_publish(
            &mut out,
            QoS::AtMostOnce,
            publisher.topic_id,
            0,
            false,
            payload,
        )?;
        publisher
            .socket
            .send(&out)
            .await
            .context("MQTT-SN publisher send")?;
        report.sent += 1;
    }
    Ok(report)
}

fn publish_qos1(
    socket: &std::net::UdpSocket,
    topic_id: TopicId,
    plan: &SnPlan,
    clock: Clock,
    backlog: &Backlog,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<PublisherReport> {
    socket.set_nonblocking(false)?;
    let mut report = PublisherReport::default();
    let mut scratch = BytesMut::new();
    let mut out = BytesMut::new();
    let mut recv = vec![0; RECV_BUFFER];
    let mut msg_id: MsgId = 1; // 1 went to REGISTER
    while report.sent < plan.count && Instant::now() < plan.deadline {
        if !backlog.has_room() && !runtime.block_on(backlog.wait_for_room(plan.deadline)) {
            break;
        }
        msg_id = msg_id.checked_add(1).unwrap_or(1);
        let seq = Progress::tag(plan.index, report.sent);
        let payload = client::payload(&mut scratch, plan.payload_len, clock.now_ns(), seq);
        backlog.published(plan.receivers);
        report.sent += 1;
        let mut dup = false;
        loop {
            encode_publish(
                &mut out,
                QoS::AtLeastOnce,
                topic_id,
                msg_id,
                dup,
                payload.clone(),
            )?;
            socket.send(&out).context("MQTT-SN publisher send")?;
            let until = Instant::now() + RETRY;
            match wait_for_puback(socket, &mut recv, msg_id, until)? {
                Some(code) if code.is_accepted() => {
                    report.acked += 1;
                    break;
                }
                Some(ReturnCode::CONGESTION) => {
                    report.congested += 1;
                    std::thread::sleep(CONGESTION_PAUSE);
                }
                Some(code) => bail!("the gateway refused a QoS 1 PUBLISH: {code:?}"),
                None => {
                    report.resent += 1;
                    dup = true;
                }
            }
            if Instant::now() > plan.deadline + ACK_GRACE {
                // Left unacknowledged: reported as sent − acked.
                return Ok(report);
            }
        }
    }
    Ok(report)
}

/// The return code of the PUBACK for `msg_id`, or `None` if none came by `until`.
/// PUBACKs of earlier messages (answers to resends) are skipped.
fn wait_for_puback(
    socket: &std::net::UdpSocket,
    recv: &mut [u8],
    msg_id: MsgId,
    until: Instant,
) -> anyhow::Result<Option<ReturnCode>> {
    loop {
        let now = Instant::now();
        if now >= until {
            return Ok(None);
        }
        socket.set_read_timeout(Some(until - now))?;
        let n = match socket.recv(recv) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            // Nobody on the port (ICMP port unreachable): as good as no answer.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                std::thread::sleep(until.saturating_duration_since(Instant::now()));
                return Ok(None);
            }
            Err(e) => return Err(e).context("UDP receive"),
        };
        let datagram = Bytes::copy_from_slice(&recv[..n]);
        match mqttsn::decode(&datagram) {
            Ok(Message::PubAck(ack)) if ack.msg_id == msg_id => return Ok(Some(ack.return_code)),
            Ok(Message::PubAck(_)) => {}
            Ok(Message::Disconnect(_)) => bail!("the gateway disconnected an MQTT-SN publisher"),
            Ok(other) => bail!("an MQTT-SN publisher got an unexpected {other:?}"),
            Err(e) => bail!("undecodable datagram from the gateway: {e:?}"),
        }
    }
}

/// Encodes one PUBLISH to a registered topic id into `out` (cleared first).
fn encode_publish(
    out: &mut BytesMut,
    qos: QoS,
    topic_id: TopicId,
    msg_id: MsgId,
    dup: bool,
    payload: Bytes,
) -> anyhow::Result<()> {
    out.clear();
    let message = Message::Publish(Publish {
        dup,
        qos,
        retain: false,
        topic: Topic::Normal(topic_id),
        msg_id,
        payload,
    });
    mqttsn::encode(&message, out).map_err(|e| anyhow!("cannot encode MQTT-SN PUBLISH: {e:?}"))?;
    Ok(())
}

fn encode(message: &Message) -> anyhow::Result<BytesMut> {
    let mut out = BytesMut::new();
    mqttsn::encode(message, &mut out)
        .map_err(|e| anyhow!("cannot encode MQTT-SN {:?}: {e:?}", message.msg_type()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_encodes_as_the_spec_lays_it_out() {
        let mut out = BytesMut::new();
        let payload = Bytes::from_static(b"hi");
        encode_publish(&mut out, QoS::AtLeastOnce, 0x0102, 0x0304, true, payload).unwrap();
        // Length, MsgType PUBLISH, flags DUP|QoS 1|normal id, TopicId, MsgId, data (§5.4.12).
        assert_eq!(&out[..], &[9, 0x0C, 0xA0, 1, 2, 3, 4, b'h', b'i']);
        let decoded = mqttsn::decode(&out.freeze()).unwrap();
        assert!(matches!(decoded, Message::Publish(p) if p.msg_id == 0x0304 && p.dup));
    }

    /// A gateway played by the test: answers CONNECT and REGISTER, drops the
    /// first PUBLISH, answers the second try with "congestion", accepts the third.
    async fn fake_gateway(socket: UdpSocket) -> Vec<Message> {
        let mut buf = vec![0; 1024];
        let mut seen = Vec::new();
        let mut publishes = 0;
        while publishes < 3 {
            let (n, peer) = socket.recv_from(&mut buf).await.unwrap();
            let message = mqttsn::decode(&Bytes::copy_from_slice(&buf[..n])).unwrap();
            seen.push(message.clone());
            let answer = match message {
                Message::Connect(_) => Some(Message::ConnAck(ReturnCode::ACCEPTED)),
                Message::Register(r) => Some(Message::RegAck(mqttsn::RegAck {
                    topic_id: 7,
                    msg_id: r.msg_id,
                    return_code: ReturnCode::ACCEPTED,
                })),
                Message::Publish(p) => {
                    publishes += 1;
                    let code = match publishes {
                        1 => None,
                        2 => Some(ReturnCode::CONGESTION),
                        _ => Some(ReturnCode::ACCEPTED),
                    };
                    code.map(|return_code| {
                        Message::PubAck(mqttsn::PubAck {
                            topic_id: 7,
                            msg_id: p.msg_id,
                            return_code,
                        })
                    })
                }
                _ => None,
            };
            if let Some(answer) = answer {
                socket
                    .send_to(&encode(&answer).unwrap(), peer)
                    .await
                    .unwrap();
            }
        }
        seen
    }

    #[tokio::test]
    async fn qos1_is_sent_again_after_a_lost_datagram_and_after_congestion() {
        let gateway = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = gateway.local_addr().unwrap();
        let gateway = tokio::spawn(fake_gateway(gateway));
        let publisher = SnPublisher::connect(addr, "wb-sn0", "bench/in/0")
            .await
            .unwrap();
        assert_eq!(publisher.topic_id, 7);
        let plan = SnPlan {
            index: 3,
            qos: wren::protocol::mqtt::QoS::AtLeastOnce,
            receivers: 1,
            count: 1,
            payload_len: 64,
            window: 1,
            deadline: Instant::now() + Duration::from_secs(10),
        };
        let backlog = Backlog::new(10);
        let (_, report) = publish(publisher, plan, Clock::start(), backlog, Progress::new(4))
            .await
            .unwrap();
        assert_eq!(
            (report.sent, report.acked, report.resent, report.congested),
            (1, 1, 1, 1)
        );
        let seen = gateway.await.unwrap();
        let publishes: Vec<(bool, MsgId, u64)> = seen
            .iter()
            .filter_map(|m| match m {
                Message::Publish(p) => Some((p.dup, p.msg_id, client::seq(&p.payload).unwrap())),
                _ => None,
            })
            .collect();
        // The same message each time (same id, same tagged sequence number), DUP once resent.
        let seq = Progress::tag(3, 0);
        assert_eq!(publishes, [(false, 2, seq), (true, 2, seq), (true, 2, seq)]);
    }
}
