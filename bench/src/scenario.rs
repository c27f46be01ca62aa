//! The scenarios of issue 5 and how each one is measured against one broker.
//!
//! A scenario is a row in [`ALL`]: a name, what it does, the figures the table
//! shows, the targets, what wren is compared with, and a [`Shape`] saying how to
//! drive the broker. Adding one is one more row, plus a [`Shape`] variant or a
//! [`Transport`] if the load is new (see README.md).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytestring::ByteString;
use serde::Serialize;
use tokio::task::JoinSet;
use wren::protocol::mqtt::QoS;

use crate::broker::{Broker, Listeners, WS_PATH};
use crate::client::Client;
use crate::conn::Endpoint;
use crate::load::{self, Backlog, Clock, Progress, PublisherPlan, PublisherReport, SubscriberPlan};
use crate::procfs;
use crate::sn::{self, SnPlan, SnPublisher};
use crate::stats::{Metric, Target};

/// One scenario of the benchmark.
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub shape: Shape,
    /// Figures shown in the main table, in order.
    pub headline: &'static [Metric],
    pub targets: &'static [(Metric, Target)],
    /// What wren's figures are compared with (the ratio column and the targets).
    pub compare: Compare,
}

/// What a scenario's ratio compares wren with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Mosquitto, measured in the same run: both brokers run the scenario.
    Mosquitto,
    /// wren's own figures in another scenario of the same run (named here): only
    /// wren runs this one, for a load Mosquitto cannot take (MQTT-SN). The ratio is
    /// of throughput only: this scenario's over that one's.
    Wren(&'static str),
}

impl Scenario {
    /// Whether only wren runs this scenario.
    pub fn wren_only(&self) -> bool {
        matches!(self.compare, Compare::Wren(_))
    }

    /// The listeners a broker needs for this scenario besides MQTT over TCP.
    pub fn listeners(&self) -> Listeners {
        match self.shape {
            Shape::PubSub(shape) => Listeners {
                mqttsn: shape.transport == Transport::MqttSn,
                websocket: shape.transport == Transport::WebSocket,
            },
            Shape::Idle | Shape::SnFloor { .. } => Listeners::default(),
        }
    }

    /// Whether the scenario runs without a broker (see [`Shape::SnFloor`]).
    pub fn needs_no_broker(&self) -> bool {
        matches!(self.shape, Shape::SnFloor { .. })
    }
}

/// How a scenario loads the broker.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Publishers and subscribers over MQTT/TCP.
    PubSub(PubSub),
    /// Many connections that connect and then say nothing.
    Idle,
    /// MQTT-SN QoS 1 publishers, stop-and-wait, against a responder inside
    /// this tool that only answers (no broker is started): the round-trip
    /// ceiling of the loopback UDP path on this machine, for any gateway.
    SnFloor { publishers: usize },
}

/// Who publishes to whom.
#[derive(Debug, Clone, Copy)]
pub struct PubSub {
    pub publishers: usize,
    pub subscribers: usize,
    pub topology: Topology,
    /// QoS of the publications and of the subscriptions.
    pub qos: QoS,
    /// Each publisher sends at the fixed `--rate` for `--latency-secs` instead of as fast as it can.
    pub paced: bool,
    /// How the clients reach the broker (the subscribers of an MQTT-SN scenario use MQTT over TCP).
    pub transport: Transport,
}

/// How clients reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// MQTT 3.1.1 over TCP.
    Tcp,
    /// MQTT 3.1.1 over a WebSocket (`ws://127.0.0.1:PORT/mqtt`, subprotocol `mqtt`),
    /// publishers and subscribers alike; each write of the load is one binary frame.
    WebSocket,
    /// MQTT-SN 1.2 over UDP, through wren's gateway: CONNECT, REGISTER, then
    /// PUBLISH to the registered topic id (see `sn`).
    MqttSn,
}

/// Which topics the publishers use and which filters the subscribers hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Publisher i on `bench/in/i`; every subscriber on `bench/#`.
    FanIn,
    /// Every publisher on `bench/out`; every subscriber on `bench/out`.
    FanOut,
    /// Publisher i on `bench/pair/i`; subscriber i on `bench/pair/i` (needs as many of each).
    Pairs,
}

impl PubSub {
    fn topic(&self, publisher: usize) -> String {
        match self.topology {
            Topology::FanIn => format!("bench/in/{publisher}"),
            Topology::FanOut => "bench/out".to_owned(),
            Topology::Pairs => format!("bench/pair/{publisher}"),
        }
    }

    fn filter(&self, subscriber: usize) -> String {
        match self.topology {
            Topology::FanIn => "bench/#".to_owned(),
            Topology::FanOut => "bench/out".to_owned(),
            Topology::Pairs => format!("bench/pair/{subscriber}"),
        }
    }

    /// How many subscribers receive each message.
    fn receivers_per_message(&self) -> usize {
        match self.topology {
            Topology::FanIn | Topology::FanOut => self.subscribers,
            Topology::Pairs => 1,
        }
    }
}

const THROUGHPUT: &[Metric] = &[Metric::Throughput, Metric::LossPct];
const QOS0: QoS = QoS::AtMostOnce;
const QOS1: QoS = QoS::AtLeastOnce;

/// Every scenario, in the order they run.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "fan-in-qos0",
        about: "8 publishers → 1 subscriber on bench/#, QoS 0",
        shape: Shape::PubSub(PubSub {
            publishers: 8,
            subscribers: 1,
            topology: Topology::FanIn,
            qos: QOS0,
            paced: false,
            transport: Transport::Tcp,
        }),
        headline: THROUGHPUT,
        targets: &[(Metric::Throughput, Target::RatioAtLeast(1.5))],
        compare: Compare::Mosquitto,
    },
    Scenario {
        name: "fan-in-qos1",
        about: "8 publishers → 1 subscriber on bench/#, QoS 1 both ways",
        shape: Shape::PubSub(PubSub {
            publishers: 8,
            subscribers: 1,
            topology: Topology::FanIn,
            qos: QOS1,
            paced: false,
            transport: Transport::Tcp,
        }),
        headline: THROUGHPUT,
        targets: &[(Metric::Throughput, Target::RatioAtLeast(3.0))],
        compare: Compare::Mosquitto,
    },
    Scenario {
        name: "ws-fan-in-qos0",
        about: "fan-in-qos0 over WebSocket (ws://127.0.0.1:PORT/mqtt, subprotocol mqtt, binary frames)",
        shape: Shape::PubSub(PubSub {
            publishers: 8,
            subscribers: 1,
            topology: Topology::FanIn,
            qos: QOS0,
            paced: false,
            transport: Transport::WebSocket,
        }),
        headline: THROUGHPUT,
        targets: &[],
        compare: Compare::Mosquitto,
    },
    Scenario {
        name: "ws-fan-in-qos1",
        about: "fan-in-qos1 over WebSocket",
        shape: Shape::PubSub(PubSub {
            publishers: 8,
            subscribers: 1,
            topology: Topology::FanIn,
            qos: QOS1,
            paced: false,
            transport: Transport::WebSocket,
        }),
        headline: THROUGHPUT,
        targets: &[],
        compare: Compare::Mosquitto,
    },
    Scenario {
        name: "fan-out",
        about: "1 publisher → 100 subscribers on one topic, QoS 0",
        shape: Shape::PubSub(PubSub {
            publishers: 1,
            subscribers: 100,
            topology: Topology::FanOut,
            qos: QOS0,
            paced: false,
            transport: Transport::Tcp,
        }),
        headline: THROUGHPUT,
        targets: &[(Metric::Throughput, Target::RatioAtLeast(5.0))],
        compare: Compare::Mosquitto,
    },
    Scenario {
        name: "pairs",
        about: "100 publisher → subscriber pairs, one topic each, QoS 1",
        shape: Shape::PubSub(PubSub {
            publishers: 100,
            subscribers: 100,
            topology: Topology::Pairs,
            qos: QOS1,
            paced: false,
            transport: Transport::Tcp,
        }),
        headline: THROUGHPUT,
        targets: &[(Metric::Throughput, Target::RatioAtLeast(1.5))],
        compare: Compare::Mosquitto,
    },
    Scenario {
        name: "latency",
        about: "8 publishers at a fixed rate each (default 1,000 msg/s) → 1 subscriber on bench/#, QoS 0",
        shape: Shape::PubSub(PubSub {
            publishers: 8,
            subscribers: 1,
            topology: Topology::FanIn,
            qos: QOS0,
            paced: true,
            transport: Transport::Tcp,
        }),
        headline: &[
            Metric::LatencyP50Us,
            Metric::LatencyP99Us,
            Metric::LatencyP999Us,
            Metric::LossPct,
        ],
        targets: &[(Metric::LatencyP99Us, Target::RatioAtLeast(1.0))],
        compare: Compare::Mosquitto,
    },
    Scenario {
        name: "idle",
        about: "--idle-connections (default 10,000) clients connect, then stay silent: connect rate, broker RSS per connection and with none",
        shape: Shape::Idle,
        headline: &[Metric::ConnectRate, Metric::RssPerConn, Metric::IdleRss],
        targets: &[(Metric::RssPerConn, Target::WrenAtMost(4096.0))],
        compare: Compare::Mosquitto,
    },
    Scenario {
        name: "sn-qos0",
        about: "8 MQTT-SN clients over UDP (CONNECT, REGISTER bench/in/i) → 1 MQTT subscriber on bench/#, QoS 0; wren only",
        shape: Shape::PubSub(PubSub {
            publishers: 8,
            subscribers: 1,
            topology: Topology::FanIn,
            qos: QOS0,
            paced: false,
            transport: Transport::MqttSn,
        }),
        headline: THROUGHPUT,
        targets: &[],
        compare: Compare::Wren("fan-in-qos0"),
    },
    Scenario {
        name: "sn-qos1",
        about: "the same at QoS 1 (stop-and-wait: one PUBLISH in flight per client); wren only",
        shape: Shape::PubSub(PubSub {
            publishers: 8,
            subscribers: 1,
            topology: Topology::FanIn,
            qos: QOS1,
            paced: false,
            transport: Transport::MqttSn,
        }),
        headline: THROUGHPUT,
        targets: &[(Metric::Throughput, Target::RatioAtLeast(0.5))],
        compare: Compare::Wren("fan-in-qos1"),
    },
    Scenario {
        name: "sn-qos1-floor",
        about: "the sn-qos1 publishers against a responder in this tool that only answers \
                (CONNACK, REGACK, PUBACK; no broker, no subscriber): the most any gateway could \
                do on this machine; wren's process is not involved",
        shape: Shape::SnFloor { publishers: 8 },
        headline: &[Metric::Throughput],
        targets: &[],
        compare: Compare::Wren("fan-in-qos1"),
    },
    Scenario {
        name: "sn-qos1-32",
        about: "sn-qos1 with 32 MQTT-SN clients; wren only",
        shape: Shape::PubSub(PubSub {
            publishers: 32,
            subscribers: 1,
            topology: Topology::FanIn,
            qos: QOS1,
            paced: false,
            transport: Transport::MqttSn,
        }),
        headline: THROUGHPUT,
        targets: &[],
        compare: Compare::Wren("fan-in-qos1"),
    },
];

/// Finds a scenario by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    ALL.iter().find(|s| s.name == name)
}

/// The knobs shared by every scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    /// Deliveries (messages received, summed over subscribers) a throughput scenario aims for.
    pub messages: u64,
    /// Longest a throughput scenario publishes.
    pub max_secs: f64,
    pub payload_len: usize,
    pub window: usize,
    pub batch: usize,
    /// Most deliveries per subscriber that publishers may run ahead of the subscribers.
    pub backlog_per_subscriber: u64,
    /// Messages per second per publisher in the latency scenario.
    pub rate: u32,
    pub latency_secs: f64,
    pub idle_connections: usize,
    /// Connection attempts in progress at once in the idle scenario.
    pub connect_concurrency: usize,
    /// MQTT-SN at QoS 0: most messages a publisher sends ahead of the last one
    /// the subscriber has received from it.
    pub sn_window: u64,
}

/// The figures of one measurement of one scenario against one broker.
pub type Figures = BTreeMap<Metric, f64>;

/// Measures `scenario` against `broker`.
pub async fn measure(
    scenario: &Scenario,
    broker: &mut Broker,
    load: &Load,
) -> anyhow::Result<Figures> {
    let figures = match scenario.shape {
        Shape::PubSub(shape) => pubsub(shape, broker, load).await?,
        Shape::Idle => idle(broker, load).await?,
        Shape::SnFloor { .. } => bail!("{} runs without a broker", scenario.name),
    };
    broker.check_alive()?;
    Ok(figures)
}

/// Measures a scenario that needs no broker (see [`Scenario::needs_no_broker`]).
pub async fn measure_alone(scenario: &Scenario, load: &Load) -> anyhow::Result<Figures> {
    match scenario.shape {
        Shape::SnFloor { publishers } => crate::sn_floor::floor(publishers, load).await,
        _ => bail!("{} needs a broker", scenario.name),
    }
}

/// CPU seconds of the broker and of this process, read together.
struct CpuMark {
    broker: f64,
    own: f64,
    at: Instant,
}

impl CpuMark {
    fn take(broker: &Broker) -> anyhow::Result<Self> {
        Ok(Self {
            broker: broker.cpu_seconds()?,
            own: procfs::own_cpu_seconds()?,
            at: Instant::now(),
        })
    }

    /// Adds broker CPU, load generator CPU and wall time since `self` to `figures`.
    fn record_since(&self, broker: &Broker, figures: &mut Figures) -> anyhow::Result<()> {
        let now = Self::take(broker)?;
        figures.insert(Metric::BrokerCpuS, now.broker - self.broker);
        figures.insert(Metric::GenCpuS, now.own - self.own);
        figures.insert(Metric::WallS, (now.at - self.at).as_secs_f64());
        Ok(())
    }
}

async fn pubsub(shape: PubSub, broker: &Broker, load: &Load) -> anyhow::Result<Figures> {
    let endpoint = match shape.transport {
        Transport::Tcp | Transport::MqttSn => Endpoint::Tcp(broker.mqtt_tcp()),
        Transport::WebSocket => Endpoint::Ws(broker.websocket()?, WS_PATH),
    };
    let subscribers = connect_all(
        endpoint,
        "wb-s",
        shape.subscribers,
        |i| Some(shape.filter(i)),
        shape.qos,
    )
    .await?;
    let publishers = match shape.transport {
        Transport::Tcp | Transport::WebSocket => Publishers::Mqtt(
            connect_all(endpoint, "wb-p", shape.publishers, |_| None, shape.qos).await?,
        ),
        Transport::MqttSn => Publishers::Sn(connect_sn(broker.mqttsn_udp()?, &shape).await?),
    };

    let per_publisher = if shape.paced {
        (f64::from(load.rate) * load.latency_secs) as u64
    } else {
        let publications = load.messages / shape.receivers_per_message() as u64;
        (publications / shape.publishers as u64).max(1)
    };
    // A paced run is bounded by its count; the deadline is only a backstop.
    let max_secs = if shape.paced {
        load.latency_secs + 2.0
    } else {
        load.max_secs
    };
    let expected_per_subscriber = match shape.topology {
        Topology::FanIn | Topology::FanOut => per_publisher * shape.publishers as u64,
        Topology::Pairs => per_publisher,
    };

    let cpu = CpuMark::take(broker)?;
    let clock = Clock::start();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(max_secs);
    let done = Arc::new(AtomicBool::new(false));
    let backlog = Backlog::new(load.backlog_per_subscriber * shape.subscribers as u64);
    let progress = Progress::new(shape.publishers);
    let paced_on_progress = shape.transport == Transport::MqttSn;
    let expected: Vec<Arc<AtomicU64>> = (0..shape.subscribers)
        .map(|_| Arc::new(AtomicU64::new(expected_per_subscriber)))
        .collect();
    let mut sub_tasks = JoinSet::new();
    for (client, expected) in subscribers.into_iter().zip(&expected) {
        let plan = SubscriberPlan {
            expected: expected.clone(),
            idle_stop: Duration::from_secs(1),
            hard_deadline: deadline + Duration::from_secs(10),
            progress: paced_on_progress.then(|| progress.clone()),
        };
        sub_tasks.spawn(load::subscribe(
            client,
            plan,
            clock,
            done.clone(),
            backlog.clone(),
        ));
    }
    let mut pub_tasks: JoinSet<anyhow::Result<(usize, Held, PublisherReport)>> = JoinSet::new();
    match publishers {
        Publishers::Mqtt(clients) => {
            for (i, client) in clients.into_iter().enumerate() {
                let plan = PublisherPlan {
                    topic: ByteString::from(shape.topic(i)),
                    qos: shape.qos,
                    receivers: shape.receivers_per_message() as u64,
                    count: per_publisher,
                    payload_len: load.payload_len,
                    window: load.window,
                    batch: load.batch,
                    period: shape
                        .paced
                        .then(|| Duration::from_secs_f64(1.0 / f64::from(load.rate))),
                    deadline,
                };
                let backlog = backlog.clone();
                pub_tasks.spawn(async move {
                    let (client, report) = load::publish(client, plan, clock, backlog).await?;
                    anyhow::Ok((i, Held::Mqtt(client), report))
                });
            }
        }
        Publishers::Sn(clients) => {
            for (i, client) in clients.into_iter().enumerate() {
                let plan = SnPlan {
                    index: i,
                    qos: shape.qos,
                    receivers: shape.receivers_per_message() as u64,
                    count: per_publisher,
                    payload_len: load.payload_len,
                    window: load.sn_window.max(1),
                    deadline,
                };
                let (backlog, progress) = (backlog.clone(), progress.clone());
                pub_tasks.spawn(async move {
                    let (client, report) =
                        sn::publish(client, plan, clock, backlog, progress).await?;
                    anyhow::Ok((i, Held::Sn(client), report))
                });
            }
        }
    }

    let (mut sent, mut acked, mut resent, mut congested) = (0, 0, 0, 0);
    let mut finished_publishers = Vec::new();
    while let Some(result) = pub_tasks.join_next().await {
        let (i, client, report) = result.context("publisher task")??;
        finished_publishers.push(client);
        sent += report.sent;
        acked += report.acked;
        resent += report.resent;
        congested += report.congested;
        if shape.topology == Topology::Pairs {
            expected[i].store(report.sent, Ordering::Release);
        }
    }
    if shape.topology != Topology::Pairs {
        expected
            .iter()
            .for_each(|e| e.store(sent, Ordering::Release));
    }
    done.store(true, Ordering::Release);
    let mut received = 0;
    let mut last = start;
    let mut latency = load::latency_histogram()?;
    while let Some(result) = sub_tasks.join_next().await {
        let report = result.context("subscriber task")??;
        received += report.received;
        last = last.max(report.last.unwrap_or(start));
        latency.add(&report.latency)?;
    }

    let mut figures = Figures::new();
    cpu.record_since(broker, &mut figures)?;
    drop(finished_publishers);
    let expected = match shape.topology {
        Topology::FanIn | Topology::FanOut => sent * shape.subscribers as u64,
        Topology::Pairs => sent,
    };
    let elapsed = (last - start).as_secs_f64();
    figures.insert(Metric::Sent, sent as f64);
    figures.insert(Metric::Received, received as f64);
    if shape.transport == Transport::MqttSn {
        figures.insert(Metric::Resent, resent as f64);
        figures.insert(Metric::Congested, congested as f64);
    }
    figures.insert(
        Metric::LossPct,
        100.0 * expected.saturating_sub(received) as f64 / expected.max(1) as f64,
    );
    figures.insert(
        Metric::Throughput,
        if elapsed > 0.0 {
            received as f64 / elapsed
        } else {
            0.0
        },
    );
    if shape.qos == QOS1 && acked < sent {
        anyhow::bail!(
            "{} of {sent} publications were never acknowledged",
            sent - acked
        );
    }
    if received > 0 {
        let broker_cpu = figures.get(&Metric::BrokerCpuS).copied().unwrap_or(0.0);
        figures.insert(
            Metric::BrokerCpuUsPerMsg,
            broker_cpu * 1e6 / received as f64,
        );
        for (metric, q) in [
            (Metric::LatencyP50Us, 0.5),
            (Metric::LatencyP99Us, 0.99),
            (Metric::LatencyP999Us, 0.999),
        ] {
            figures.insert(metric, latency.value_at_quantile(q) as f64 / 1000.0);
        }
    }
    Ok(figures)
}

/// The publishers of a measurement, connected.
enum Publishers {
    Mqtt(Vec<Client>),
    Sn(Vec<SnPublisher>),
}

/// A publisher's connection, kept open until the subscribers are done.
enum Held {
    Mqtt(#[allow(dead_code)] Client),
    Sn(#[allow(dead_code)] SnPublisher),
}

/// Connects `shape.publishers` MQTT-SN clients at once (`wb-sn{i}`), each REGISTERing its topic.
async fn connect_sn(gateway: SocketAddr, shape: &PubSub) -> anyhow::Result<Vec<SnPublisher>> {
    let mut tasks = JoinSet::new();
    for i in 0..shape.publishers {
        let topic = shape.topic(i);
        tasks.spawn(async move {
            let publisher = SnPublisher::connect(gateway, &format!("wb-sn{i}"), &topic).await?;
            anyhow::Ok((i, publisher))
        });
    }
    let mut publishers: Vec<Option<SnPublisher>> = (0..shape.publishers).map(|_| None).collect();
    while let Some(result) = tasks.join_next().await {
        let (i, publisher) = result.context("MQTT-SN connect task")??;
        publishers[i] = Some(publisher);
    }
    Ok(publishers.into_iter().flatten().collect())
}

/// Connects `n` clients at once (`{prefix}{i}`), subscribing each to `filter(i)` if any.
async fn connect_all(
    endpoint: Endpoint,
    prefix: &str,
    n: usize,
    filter: impl Fn(usize) -> Option<String>,
    qos: QoS,
) -> anyhow::Result<Vec<Client>> {
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let id = format!("{prefix}{i}");
        let filter = filter(i);
        tasks.spawn(async move {
            let mut client = Client::connect(endpoint, &id).await?;
            if let Some(filter) = filter {
                client.subscribe(&filter, qos).await?;
            }
            anyhow::Ok((i, client))
        });
    }
    let mut clients: Vec<Option<Client>> = (0..n).map(|_| None).collect();
    while let Some(result) = tasks.join_next().await {
        let (i, client) = result.context("connect task")??;
        clients[i] = Some(client);
    }
    Ok(clients.into_iter().flatten().collect())
}

async fn idle(broker: &Broker, load: &Load) -> anyhow::Result<Figures> {
    // Let the broker finish starting before its baseline is read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = broker.rss_bytes()?;
    let addr = broker.mqtt_tcp();
    let n = load.idle_connections;
    let cpu = CpuMark::take(broker)?;
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let workers = load.connect_concurrency.clamp(1, n.max(1));
    for w in 0..workers {
        tasks.spawn(async move {
            let mut held = Vec::new();
            for i in (w..n).step_by(workers) {
                held.push(Client::connect(Endpoint::Tcp(addr), &format!("wb-idle{i}")).await?);
            }
            anyhow::Ok(held)
        });
    }
    let mut held = Vec::with_capacity(n);
    while let Some(result) = tasks.join_next().await {
        held.extend(result.context("connect task")??);
    }
    let connect_secs = start.elapsed().as_secs_f64();
    let mut figures = Figures::new();
    cpu.record_since(broker, &mut figures)?;
    // Let buffers settle before reading the RSS with every connection open.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let loaded_rss = broker.rss_bytes()?;
    figures.insert(Metric::ConnectRate, held.len() as f64 / connect_secs);
    figures.insert(Metric::IdleRss, idle_rss as f64);
    figures.insert(
        Metric::RssPerConn,
        loaded_rss.saturating_sub(idle_rss) as f64 / held.len().max(1) as f64,
    );
    if let Some(cpu) = figures.get(&Metric::BrokerCpuS).copied() {
        figures.insert(
            Metric::BrokerCpuUsPerMsg,
            cpu * 1e6 / held.len().max(1) as f64,
        );
    }
    drop(held);
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_are_unique_and_found() {
        for scenario in ALL {
            assert_eq!(ALL.iter().filter(|s| s.name == scenario.name).count(), 1);
            assert!(find(scenario.name).is_some());
        }
        assert!(find("nope").is_none());
    }

    #[test]
    fn pairs_have_one_topic_each_and_fan_in_a_wildcard() {
        let Shape::PubSub(pairs) = find("pairs").unwrap().shape else {
            panic!()
        };
        assert_eq!(pairs.publishers, pairs.subscribers);
        assert_eq!(
            (pairs.topic(7), pairs.filter(7)),
            ("bench/pair/7".to_owned(), "bench/pair/7".to_owned())
        );
        assert_eq!(pairs.receivers_per_message(), 1);
        let Shape::PubSub(fan_in) = find("fan-in-qos0").unwrap().shape else {
            panic!()
        };
        assert_eq!(
            (fan_in.topic(3), fan_in.filter(0)),
            ("bench/in/3".to_owned(), "bench/#".to_owned())
        );
    }
}
