//! `wren-bench`: drives wren and Mosquitto with the same load on loopback and
//! compares them (issue 5).
//!
//! # Layout
//!
//! ```text
//! main      command line; runs every scenario against each broker in turn
//! scenario  the scenarios, and measuring one against one broker
//! load      publisher and subscriber tasks on raw sockets (pipelining, QoS 1 windows, pacing)
//! client    MQTT 3.1.1 connect/subscribe and packet helpers over wren's sans-IO codec
//! conn      a client's byte stream: plain TCP, or a hand-rolled WebSocket (RFC 6455)
//! sn        MQTT-SN publishers over UDP through wren's gateway (CONNECT, REGISTER, PUBLISH)
//! sn_floor  the same publishers against a responder that only answers: the machine's ceiling
//! broker    starting each broker on a free 127.0.0.1 port with matching limits; stopping it
//! procfs    CPU seconds and RSS from /proc
//! stats     figures, medians, ratios oriented so that > 1 favours wren, targets
//! report    the Markdown tables and the JSON file
//! ```

mod broker;
mod client;
mod conn;
mod load;
mod procfs;
mod report;
mod scenario;
mod sn;
mod sn_floor;
mod stats;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};

use crate::broker::{Broker, BrokerKind, Launch, Limits};
use crate::report::{Report, Sample};
use crate::scenario::{Load, Scenario};

/// Benchmarks wren against Mosquitto on 127.0.0.1 (issue 5). Both brokers are
/// started by the tool, one fresh process per measurement, and always stopped.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// The wren binary [default: $CARGO_TARGET_DIR/release/wren, else target/release/wren].
    #[arg(long)]
    wren_bin: Option<PathBuf>,
    /// The mosquitto binary [default: mosquitto on PATH or in /usr/sbin].
    #[arg(long)]
    mosquitto_bin: Option<PathBuf>,
    /// Runs per scenario and broker; the table shows medians [default: 3, 1 with --quick].
    #[arg(long)]
    runs: Option<usize>,
    /// Run only these scenarios (repeatable); see --list.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Short smoke run: 20k messages, 2 s caps, 500 idle connections, 1 run.
    #[arg(long)]
    quick: bool,
    /// Which brokers to measure.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    broker: Which,
    /// Write every sample and the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Deliveries a throughput scenario aims for (messages received, summed over subscribers).
    #[arg(long, default_value_t = 500_000)]
    messages: u64,
    /// Longest a throughput scenario publishes, in seconds.
    #[arg(long, default_value_t = 10.0)]
    max_secs: f64,
    /// Payload bytes per message (at least 16: send timestamp and sequence number).
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Most unacknowledged QoS 1 messages per publisher.
    #[arg(long, default_value_t = 128)]
    window: usize,
    /// Most PUBLISH packets per write.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Most deliveries per subscriber the publishers may run ahead of the subscribers
    /// (keeps every broker queue far below --max-queued; see README "Backlog").
    #[arg(long, default_value_t = 10_000)]
    backlog: u64,
    /// Messages per second per publisher in the latency scenario.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds the latency scenario publishes for.
    #[arg(long, default_value_t = 5.0)]
    latency_secs: f64,
    /// Connections in the idle scenario.
    #[arg(long, default_value_t = 10_000)]
    idle_connections: usize,
    /// MQTT-SN at QoS 0: most messages a publisher sends ahead of the last one the
    /// subscriber has received from it (UDP has no backpressure; see README).
    #[arg(long, default_value_t = 64)]
    sn_window: u64,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    client_threads: usize,
    /// Per-client outgoing QoS 1 window given to both brokers.
    #[arg(long, default_value_t = 100)]
    max_inflight: u32,
    /// Per-client queue beyond the window given to both brokers.
    #[arg(long, default_value_t = 100_000)]
    max_queued: u32,
    /// Keep the temporary directory with the brokers' configs and logs, and print where it is.
    #[arg(long)]
    keep_temp: bool,
    /// Run wren under this command, e.g. "valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p".
    #[arg(long, value_name = "COMMAND")]
    wren_wrapper: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Both,
    Wren,
    Mosquitto,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.list {
        for s in scenario::ALL {
            eprintln!("{:<14} {}", s.name, s.about);
        }
        eprintln!(
            "\nwren-only scenarios (MQTT-SN: Mosquitto has no gateway) are compared with wren's own \
             figures in the scenario named in the table, which is run too when not selected."
        );
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.client_threads.max(1))
        .enable_all()
        .build()
        .context("load generator runtime")?;
    runtime.block_on(async {
        tokio::select! {
            result = run(cli) => result,
            // Dropping `run` drops the running Broker, which stops its process.
            _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        }
    })
}

async fn run(mut cli: Cli) -> anyhow::Result<()> {
    if cli.quick {
        cli.messages = cli.messages.min(20_000);
        cli.max_secs = cli.max_secs.min(2.0);
        cli.latency_secs = cli.latency_secs.min(1.0);
        cli.idle_connections = cli.idle_connections.min(500);
    }
    let runs = cli.runs.unwrap_or(if cli.quick { 1 } else { 3 }).max(1);
    if cli.payload < 16 {
        bail!("--payload must be at least 16 bytes (timestamp and sequence number)");
    }
    let scenarios = selected(&cli.scenarios)?;
    let tmp = tempfile::Builder::new().prefix("wren-bench").tempdir()?;
    let launches = launches(&cli, tmp.path())?;
    let wanted_fds = cli.idle_connections as u64 + 1024;
    raise_fd_limit(wanted_fds)?;

    let load = Load {
        messages: cli.messages,
        max_secs: cli.max_secs,
        payload_len: cli.payload,
        window: cli.window.clamp(1, 65_535),
        batch: cli.batch.max(1),
        backlog_per_subscriber: cli.backlog.max(1),
        rate: cli.rate.max(1),
        latency_secs: cli.latency_secs,
        idle_connections: cli.idle_connections,
        connect_concurrency: 64,
        sn_window: cli.sn_window.max(1),
    };
    let limits = Limits {
        max_connections: u32::try_from(cli.idle_connections * 2)
            .unwrap_or(u32::MAX)
            .max(1000),
        max_inflight: cli.max_inflight,
        max_queued: cli.max_queued,
    };

    let mut samples = Vec::new();
    for scenario in &scenarios {
        for run in 0..runs {
            // Alternate which broker goes first, so neither always gets the cooler machine.
            let mut order = launches.clone();
            if run % 2 == 1 {
                order.reverse();
            }
            if scenario.wren_only() {
                order.retain(|launch| launch.kind == BrokerKind::Wren);
            }
            for launch in &order {
                let tag = format!("{}-{}-{run}", scenario.name, launch.kind);
                let result = measure_once(scenario, launch, limits, &load, tmp.path(), &tag).await;
                let sample = match result {
                    Ok(figures) => {
                        eprintln!(
                            "{:<14} run {}/{runs} {:<9} {}",
                            scenario.name,
                            run + 1,
                            launch.kind,
                            brief(scenario, &figures)
                        );
                        Sample {
                            scenario: scenario.name,
                            broker: launch.kind,
                            run,
                            figures: Some(figures),
                            error: None,
                        }
                    }
                    Err(error) => {
                        eprintln!(
                            "{:<14} run {}/{runs} {:<9} FAILED: {error:#}",
                            scenario.name,
                            run + 1,
                            launch.kind
                        );
                        Sample {
                            scenario: scenario.name,
                            broker: launch.kind,
                            run,
                            figures: None,
                            error: Some(format!("{error:#}")),
                        }
                    }
                };
                samples.push(sample);
            }
        }
    }

    if cli.keep_temp {
        eprintln!("broker configs and logs kept in {}", tmp.keep().display());
    }
    let rows = report::summarise(&scenarios, &samples);
    let mut stdout = std::io::stdout().lock();
    report::print_tables(&mut stdout, &scenarios, &rows, runs)?;
    stdout.flush()?;
    if let Some(path) = &cli.json {
        let report = Report {
            tool: concat!("wren-bench ", env!("CARGO_PKG_VERSION")),
            unix_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            wren: version_of(&launches, BrokerKind::Wren, "--version"),
            mosquitto: version_of(&launches, BrokerKind::Mosquitto, "-h"),
            runs,
            load,
            limits,
            summary: rows,
            samples,
        };
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        serde_json::to_writer_pretty(file, &report)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// One fresh broker, one measurement, and the broker stopped again whatever happens.
async fn measure_once(
    scenario: &Scenario,
    launch: &Launch,
    limits: Limits,
    load: &Load,
    dir: &std::path::Path,
    tag: &str,
) -> anyhow::Result<scenario::Figures> {
    if scenario.needs_no_broker() {
        return scenario::measure_alone(scenario, load).await;
    }
    let before = procfs::TcpHealth::read()?;
    if before.under_pressure() {
        eprintln!(
            "warning: TCP memory is under pressure ({} pages in use, threshold {}): some other \
             process holds large socket buffers; loopback packets will be dropped and figures spoiled",
            before.mem_pages, before.pressure_pages
        );
    }
    let listeners = scenario.listeners();
    let mut broker = Broker::start(launch, limits, listeners, dir, tag)?;
    let mut figures = scenario::measure(scenario, &mut broker, load).await?;
    let after = procfs::TcpHealth::read()?;
    let timeouts = after.timeouts.saturating_sub(before.timeouts);
    let drops = after.memory_drops.saturating_sub(before.memory_drops);
    figures.insert(stats::Metric::TcpTimeouts, timeouts as f64);
    if listeners.mqttsn {
        let udp_drops = after
            .udp_rcvbuf_errors
            .saturating_sub(before.udp_rcvbuf_errors);
        figures.insert(stats::Metric::UdpDrops, udp_drops as f64);
    }
    if timeouts > 0 || drops > 0 {
        eprintln!(
            "warning: {tag}: {timeouts} TCP retransmission timeouts and {drops} memory drops on this machine during the measurement"
        );
    }
    Ok(figures)
}

/// The scenarios named (all if none), plus those a wren-only one is compared
/// with, in the order of `scenario::ALL`.
fn selected(names: &[String]) -> anyhow::Result<Vec<&'static Scenario>> {
    if names.is_empty() {
        return Ok(scenario::ALL.iter().collect());
    }
    let mut wanted = Vec::new();
    for name in names {
        let found = scenario::find(name).with_context(|| {
            let known: Vec<&str> = scenario::ALL.iter().map(|s| s.name).collect();
            format!("no scenario {name:?}; known: {}", known.join(", "))
        })?;
        wanted.push(found.name);
        if let scenario::Compare::Wren(baseline) = found.compare {
            wanted.push(baseline);
        }
    }
    Ok(scenario::ALL
        .iter()
        .filter(|s| wanted.contains(&s.name))
        .collect())
}

/// The brokers to run. wren's binary is copied into the run's directory first,
/// so a `cargo build` in the shared target directory cannot swap it mid-run.
fn launches(cli: &Cli, dir: &std::path::Path) -> anyhow::Result<Vec<Launch>> {
    let mut launches = Vec::new();
    if cli.broker != Which::Mosquitto {
        let default = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| PathBuf::from("target"), PathBuf::from)
            .join("release/wren");
        let given = cli.wren_bin.clone().unwrap_or(default);
        let found = broker::locate(
            Some(&given),
            "wren",
            "build it first with `cargo build --release`, or pass --wren-bin",
        )?;
        let copy = dir.join("wren");
        std::fs::copy(&found, &copy).with_context(|| format!("copying {}", found.display()))?;
        eprintln!("wren: {} (copied from {})", copy.display(), found.display());
        let wrapper = cli
            .wren_wrapper
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        launches.push(Launch {
            kind: BrokerKind::Wren,
            bin: copy,
            wrapper,
        });
    }
    if cli.broker != Which::Wren {
        let bin = broker::locate(
            cli.mosquitto_bin.as_deref(),
            "mosquitto",
            "install it (`apt-get install -y mosquitto`) or pass --mosquitto-bin",
        )?;
        eprintln!("mosquitto: {}", bin.display());
        launches.push(Launch {
            kind: BrokerKind::Mosquitto,
            bin,
            wrapper: Vec::new(),
        });
    }
    Ok(launches)
}

/// Raises the open-file limit of this process (and so of the brokers it starts) to at least `wanted`.
fn raise_fd_limit(wanted: u64) -> anyhow::Result<()> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= wanted {
        return Ok(());
    }
    // Raising the hard limit needs privilege; fall back to the hard limit as it is.
    if setrlimit(Resource::RLIMIT_NOFILE, wanted, wanted.max(hard)).is_err() {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
        if hard < wanted {
            bail!(
                "the open-file limit is {hard}, below the {wanted} needed; lower --idle-connections or raise `ulimit -Hn`"
            );
        }
    }
    Ok(())
}

/// The first line a broker prints about its version.
fn version_of(launches: &[Launch], kind: BrokerKind, flag: &str) -> String {
    let Some(launch) = launches.iter().find(|l| l.kind == kind) else {
        return "not run".to_owned();
    };
    Command::new(&launch.bin)
        .arg(flag)
        .output()
        .ok()
        .and_then(|out| {
            let text = [out.stdout, out.stderr].concat();
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A one-line progress note for one measurement.
fn brief(scenario: &Scenario, figures: &scenario::Figures) -> String {
    let mut parts: Vec<String> = scenario
        .headline
        .iter()
        .filter_map(|m| {
            figures
                .get(m)
                .map(|v| format!("{} {}", m.display(*v), m.label()))
        })
        .collect();
    for metric in [stats::Metric::BrokerCpuS, stats::Metric::GenCpuS] {
        if let Some(v) = figures.get(&metric) {
            parts.push(format!("{} {}", metric.display(*v), metric.label()));
        }
    }
    parts.join(", ")
}
