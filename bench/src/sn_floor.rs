//! The `sn-qos1-floor` scenario: the `sn-qos1` publishers against a responder
//! inside this tool that only answers, with no broker and no subscriber.
//!
//! Why: MQTT-SN QoS 1 is stop-and-wait, so its throughput is bounded by the
//! UDP round trip between the publishers and whatever answers them. This
//! scenario measures that bound on the machine at hand: what a gateway that
//! did nothing at all would reach. wren's `sn-qos1` figure reads against it.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::{Bytes, BytesMut};
use tokio::task::JoinSet;
use wren::protocol::mqttsn::{self, Message, PubAck, RegAck, ReturnCode};

use crate::load::{Backlog, Clock, Progress};
use crate::procfs;
use crate::scenario::{Figures, Load};
use crate::sn::{self, SnPlan, SnPublisher};
use crate::stats::Metric;

/// How often the responder looks at its stop flag while nothing arrives.
const POLL: Duration = Duration::from_millis(100);

/// A thread answering CONNECT, REGISTER and QoS 1 PUBLISH, nothing more.
struct Responder {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    fn start() -> anyhow::Result<Self> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("binding the responder")?;
        socket.set_read_timeout(Some(POLL))?;
        let addr = socket.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sn-responder".into())
            .spawn(move || answer_until(&socket, &flag))?;
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer_until(socket: &UdpSocket, stop: &AtomicBool) {
    let mut buf = vec![0u8; 2048];
    let mut out = BytesMut::new();
    while !stop.load(Ordering::Acquire) {
        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
            continue; // the poll timeout: look at the flag again
        };
        let answer = match mqttsn::decode(&Bytes::copy_from_slice(&buf[..n])) {
            Ok(Message::Connect(_)) => Message::ConnAck(ReturnCode::ACCEPTED),
            Ok(Message::Register(register)) => Message::RegAck(RegAck {
                topic_id: 1,
                msg_id: register.msg_id,
                return_code: ReturnCode::ACCEPTED,
            }),
            Ok(Message::Publish(publish)) => Message::PubAck(PubAck {
                topic_id: publish.topic.wire_id(),
                msg_id: publish.msg_id,
                return_code: ReturnCode::ACCEPTED,
            }),
            _ => continue,
        };
        out.clear();
        if mqttsn::encode(&answer, &mut out).is_ok() {
            let _ = socket.send_to(&out, peer);
        }
    }
}

/// Runs `publishers` stop-and-wait QoS 1 publishers against a [`Responder`].
pub async fn floor(publishers: usize, load: &Load) -> anyhow::Result<Figures> {
    let responder = Responder::start()?;
    let mut clients = Vec::with_capacity(publishers);
    for i in 0..publishers {
        let client_id = format!("floor-{i}");
        clients.push(SnPublisher::connect(responder.addr, &client_id, "bench/floor").await?);
    }
    let per_publisher = load.messages.div_ceil(publishers.max(1) as u64);
    let deadline = Instant::now() + Duration::from_secs_f64(load.max_secs);
    let (clock, backlog, progress) = (Clock::start(), Backlog::new(0), Progress::new(publishers));
    let cpu_before = procfs::own_cpu_seconds()?;
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, client) in clients.into_iter().enumerate() {
        let plan = SnPlan {
            index,
            qos: wren::protocol::mqtt::QoS::AtLeastOnce,
            // Nobody receives: the backlog never holds a publisher back.
            receivers: 0,
            count: per_publisher,
            payload_len: load.payload_len,
            window: 1,
            deadline,
        };
        let (backlog, progress) = (backlog.clone(), progress.clone());
        tasks.spawn(async move { sn::publish(client, plan, clock, backlog, progress).await });
    }
    let (mut sent, mut acked, mut resent) = (0, 0, 0);
    while let Some(result) = tasks.join_next().await {
        let (_client, report) = result.context("publisher task")??;
        (sent, acked, resent) = (
            sent + report.sent,
            acked + report.acked,
            resent + report.resent,
        );
    }
    let wall = start.elapsed().as_secs_f64();
    let mut figures = Figures::new();
    figures.insert(Metric::Throughput, acked as f64 / wall.max(1e-9));
    figures.insert(Metric::Sent, sent as f64);
    figures.insert(Metric::Received, acked as f64);
    figures.insert(Metric::GenCpuS, procfs::own_cpu_seconds()? - cpu_before);
    figures.insert(Metric::WallS, wall);
    figures.insert(Metric::Resent, resent as f64);
    Ok(figures)
}
