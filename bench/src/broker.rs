//! Starting the brokers under test on loopback, and always stopping them.
//!
//! Each measurement gets a fresh broker process on a fresh ephemeral port of
//! 127.0.0.1, with a config file written into the run's temporary directory.
//! [`Broker`] kills its process when dropped, so every path out of a
//! measurement (error, panic, Ctrl-C dropping the future) stops it.

use std::fmt;
use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::Serialize;

use crate::procfs;

/// Which broker a measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    Wren,
    Mosquitto,
}

impl fmt::Display for BrokerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Wren => "wren",
            Self::Mosquitto => "mosquitto",
        })
    }
}

/// Limits given to both brokers alike, so neither is favoured by a default.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Limits {
    /// Connections accepted at once (above the idle scenario's count).
    pub max_connections: u32,
    /// Outgoing QoS 1 messages in flight per client: wren `max_inflight`,
    /// Mosquitto `max_inflight_messages`.
    pub max_inflight: u32,
    /// Messages queued per client beyond those in flight: wren `max_queued`,
    /// Mosquitto `max_queued_messages`.
    pub max_queued: u32,
}

/// Listeners a scenario needs besides MQTT over TCP (which every broker gets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Listeners {
    /// wren's MQTT-SN gateway on a UDP port of 127.0.0.1 (wren only: Mosquitto has none).
    pub mqttsn: bool,
    /// MQTT over WebSocket on a TCP port of 127.0.0.1, at [`WS_PATH`].
    pub websocket: bool,
}

/// The path WebSocket clients connect to (wren's `ws_path`; Mosquitto takes any).
pub const WS_PATH: &str = "/mqtt";

/// How to start one broker.
#[derive(Debug, Clone)]
pub struct Launch {
    pub kind: BrokerKind,
    pub bin: PathBuf,
    /// A command the broker is run under (`valgrind --tool=callgrind …`); may be empty.
    pub wrapper: Vec<String>,
}

/// A running broker process. Dropping it stops the process.
pub struct Broker {
    kind: BrokerKind,
    child: Child,
    addr: SocketAddr,
    mqttsn: Option<SocketAddr>,
    websocket: Option<SocketAddr>,
    log: PathBuf,
    /// How long a SIGTERM gets before SIGKILL (longer under a profiler, which writes its output then).
    grace: Duration,
}

impl Broker {
    /// Starts a broker on a free port of 127.0.0.1 (and the `listeners` asked for,
    /// each on a free port of its own) and waits until it accepts MQTT connections.
    pub fn start(
        launch: &Launch,
        limits: Limits,
        listeners: Listeners,
        dir: &Path,
        tag: &str,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mqttsn = match (listeners.mqttsn, launch.kind) {
            (false, _) => None,
            (true, BrokerKind::Wren) => {
                Some(SocketAddr::from((Ipv4Addr::LOCALHOST, free_udp_port()?)))
            }
            (true, BrokerKind::Mosquitto) => bail!("Mosquitto has no MQTT-SN gateway"),
        };
        let websocket = match listeners.websocket {
            false => None,
            true => Some(SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?))),
        };
        let config = dir.join(format!("{tag}.conf"));
        let log = dir.join(format!("{tag}.log"));
        let extra = ExtraPorts {
            mqttsn: mqttsn.map(|a| a.port()),
            websocket: websocket.map(|a| a.port()),
        };
        let text = config_text(launch.kind, port, limits, extra);
        fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
        let (program, mut args) = match launch.wrapper.split_first() {
            Some((first, rest)) => {
                let mut args = rest.to_vec();
                args.push(launch.bin.display().to_string());
                (PathBuf::from(first), args)
            }
            None => (launch.bin.clone(), Vec::new()),
        };
        args.extend(match launch.kind {
            BrokerKind::Wren => ["--config".to_owned(), config.display().to_string()],
            BrokerKind::Mosquitto => ["-c".to_owned(), config.display().to_string()],
        });
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            // Its own process group, so a wrapper and the broker under it are stopped together.
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {} ({})", launch.kind, program.display()))?;
        let profiled = !launch.wrapper.is_empty();
        let mut broker = Self {
            kind: launch.kind,
            child,
            addr,
            mqttsn,
            websocket,
            log,
            grace: if profiled {
                Duration::from_secs(60)
            } else {
                Duration::from_secs(3)
            },
        };
        let ready_within = if profiled {
            Duration::from_secs(60)
        } else {
            Duration::from_secs(10)
        };
        broker.wait_ready(broker.addr, ready_within)?;
        if let Some(ws) = broker.websocket {
            broker.wait_ready(ws, ready_within)?;
        }
        Ok(broker)
    }

    /// Where the broker listens for MQTT over TCP.
    pub fn mqtt_tcp(&self) -> SocketAddr {
        self.addr
    }

    /// Where wren's MQTT-SN gateway listens, if it was asked for.
    pub fn mqttsn_udp(&self) -> anyhow::Result<SocketAddr> {
        self.mqttsn
            .ok_or_else(|| anyhow!("{} was started without an MQTT-SN listener", self.kind))
    }

    /// Where the broker listens for MQTT over WebSocket, if it was asked to.
    pub fn websocket(&self) -> anyhow::Result<SocketAddr> {
        self.websocket
            .ok_or_else(|| anyhow!("{} was started without a WebSocket listener", self.kind))
    }

    /// The broker's process id (the wrapper's, when one is used).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds the broker has used so far.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        procfs::cpu_seconds(self.pid())
    }

    /// The broker's resident memory now, in bytes.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        procfs::rss_bytes(self.pid())
    }

    /// Fails, with the end of the broker's log, if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!(
                "{} exited ({status}); its log ends:\n{}",
                self.kind,
                self.log_tail()
            ),
        }
    }

    /// Waits until the broker accepts TCP connections on `addr`.
    fn wait_ready(&mut self, addr: SocketAddr, within: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            self.check_alive()?;
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if start.elapsed() > within {
                bail!(
                    "{} did not listen on {addr} within {within:?}; its log ends:\n{}",
                    self.kind,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // The whole process group: the broker, and a wrapper such as strace if any.
        let group = i32::try_from(self.child.id()).ok().map(Pid::from_raw);
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM first, so a profiler wrapping the broker writes its output.
            if let Some(group) = group {
                let _ = killpg(group, Signal::SIGTERM);
            }
            let deadline = Instant::now() + self.grace;
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if let Some(group) = group {
            // Whatever is left of the group (nothing, normally).
            let _ = killpg(group, Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago. The broker binds it right after; on
/// loopback with an ephemeral port nothing else races for it in practice.
fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("no free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// A UDP port that was free a moment ago (the same reasoning as [`free_port`]).
fn free_udp_port() -> anyhow::Result<u16> {
    let socket =
        UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("no free UDP port on 127.0.0.1")?;
    Ok(socket.local_addr()?.port())
}

/// Ports of 127.0.0.1 for the listeners besides MQTT over TCP; `None` turns one off.
#[derive(Debug, Clone, Copy, Default)]
struct ExtraPorts {
    mqttsn: Option<u16>,
    websocket: Option<u16>,
}

/// The config file for `kind`: loopback only, persistence off, the same limits for both.
/// wren's MQTT-SN gateway and HTTP listener are off (by default they bind UDP
/// 0.0.0.0:1884 and TCP 0.0.0.0:8080) unless their ports are given: then each
/// listens on its port of 127.0.0.1 only.
fn config_text(kind: BrokerKind, port: u16, limits: Limits, extra: ExtraPorts) -> String {
    let Limits {
        max_connections,
        max_inflight,
        max_queued,
    } = limits;
    let on_loopback =
        |port: Option<u16>| port.map_or_else(String::new, |p| format!("\"127.0.0.1:{p}\""));
    match kind {
        BrokerKind::Wren => {
            let udp = on_loopback(extra.mqttsn);
            let http = on_loopback(extra.websocket);
            format!(
                "[mqtt]\ntcp = \"127.0.0.1:{port}\"\n\n\
                 [http]\nlisten = [{http}]\nws_path = \"{WS_PATH}\"\n\n\
                 [limits]\nmax_connections = {max_connections}\nmax_inflight = {max_inflight}\n\
                 max_queued = {max_queued}\n\n[mqttsn]\nudp = [{udp}]\n\n[log]\nlevel = \"warn\"\n"
            )
        }
        // TCP_NODELAY is on because wren always sets it; without it Nagle's
        // algorithm would add delay to Mosquitto's small writes in the latency scenario.
        BrokerKind::Mosquitto => {
            let mut text = format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_connections {max_connections}\nmax_inflight_messages {max_inflight}\n\
                 max_queued_messages {max_queued}\nset_tcp_nodelay true\nlog_dest none\n"
            );
            // Debian's 2.0.11 binds a websockets listener to [::] (all interfaces)
            // whatever address it is given, unless told to use IPv4 only.
            if let Some(ws) = extra.websocket {
                text.push_str(&format!(
                    "\nlistener {ws} 127.0.0.1\nprotocol websockets\nsocket_domain ipv4\n"
                ));
            }
            text
        }
    }
}

/// Finds the broker binary: the path given, or `name` on `PATH` and in `/usr/sbin`.
pub fn locate(given: Option<&Path>, name: &str, hint: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        bail!("{} not found: {hint}", path.display());
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| anyhow!("{name} not found on PATH or in /usr/sbin: {hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_connections: 20_000,
        max_inflight: 100,
        max_queued: 100_000,
    };

    #[test]
    fn both_configs_carry_the_same_limits() {
        let none = ExtraPorts::default();
        let wren = config_text(BrokerKind::Wren, 5000, LIMITS, none);
        assert!(wren.contains("tcp = \"127.0.0.1:5000\""));
        assert!(wren.contains("max_inflight = 100\n") && wren.contains("max_queued = 100000\n"));
        let settings = wren::settings::Settings::from_toml(&wren).unwrap();
        assert!(settings.http.listen.is_empty() && settings.mqttsn.udp.is_empty());
        let mosquitto = config_text(BrokerKind::Mosquitto, 5000, LIMITS, none);
        assert!(mosquitto.contains("listener 5000 127.0.0.1\n"));
        assert!(mosquitto.contains("max_inflight_messages 100\n"));
        assert!(mosquitto.contains("max_queued_messages 100000\n"));
        assert!(mosquitto.contains("persistence false\n"));
        assert!(!mosquitto.contains("websockets"));
    }

    #[test]
    fn extra_listeners_are_on_loopback_only_and_only_when_asked() {
        let extra = ExtraPorts {
            mqttsn: Some(5001),
            websocket: Some(5002),
        };
        let wren = config_text(BrokerKind::Wren, 5000, LIMITS, extra);
        assert!(
            wren.contains("[mqttsn]\nudp = [\"127.0.0.1:5001\"]\n"),
            "{wren}"
        );
        assert!(
            wren.contains("[http]\nlisten = [\"127.0.0.1:5002\"]\nws_path = \"/mqtt\"\n"),
            "{wren}"
        );
        let settings = wren::settings::Settings::from_toml(&wren).unwrap();
        assert_eq!(settings.http.ws_path, "/mqtt");
        assert_eq!(settings.mqttsn.udp.len(), 1);
        assert_eq!(settings.http.listen.len(), 1);
        let mosquitto = config_text(BrokerKind::Mosquitto, 5000, LIMITS, extra);
        assert!(
            mosquitto
                .contains("listener 5002 127.0.0.1\nprotocol websockets\nsocket_domain ipv4\n"),
            "{mosquitto}"
        );
    }

    #[test]
    fn a_missing_binary_is_a_clear_error() {
        let error = locate(
            Some(Path::new("/nonexistent/mosquitto")),
            "mosquitto",
            "apt-get install mosquitto",
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("apt-get install mosquitto"), "{error}");
    }
}
