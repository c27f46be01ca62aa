//! Starting and stopping the whole gateway.
//!
//! [`Server::start`] runs wren on a thread of its own (an actix system with the
//! broker and the listeners, plus one worker thread per core for the
//! connections) and returns once every listener is bound, so `main` and the
//! integration tests start it the same way, on real ports or on port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix::prelude::*;
use anyhow::{Context as _, anyhow};
use tokio::sync::oneshot;
use tracing::info;

use crate::auth::Security;
use crate::broker::Broker;
use crate::broker::messages::Shutdown;
use crate::broker::router::RouterConfig;
use crate::gateway::admission::Admission;
use crate::gateway::datagram;
use crate::gateway::link::SnLink;
use crate::gateway::topics::TopicRegistry;
use crate::gateway::{Gateway, GatewayConfig};
use crate::session::SessionContext;
use crate::session::connect::SessionConfig;
use crate::settings::Settings;
use crate::transport::http::{self, HttpContext};
use crate::transport::limit::ConnectionLimit;
use crate::transport::tls::{self, Certificates};
use crate::transport::workers::Workers;
use crate::transport::{tcp, udp, ws};

/// How long connections get to receive their DISCONNECT before the process exits.
const DRAIN: Duration = Duration::from_millis(300);

/// The addresses wren actually listens on (port 0 resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundAddrs {
    /// `[mqtt] tcp`: MQTT over TCP.
    pub mqtt_tcp: Vec<SocketAddr>,
    /// `[http] listen`: the page and MQTT over WebSocket; empty when off.
    pub http: Vec<SocketAddr>,
    /// MQTT-SN UDP sockets; empty when `[mqttsn] udp = []`.
    pub mqttsn_udp: Vec<SocketAddr>,
    /// `[mqtt] tls`: MQTT over TLS.
    pub mqtt_tls: Vec<SocketAddr>,
    /// `[http] tls_listen`: HTTPS and MQTT over secure WebSocket.
    pub https: Vec<SocketAddr>,
}

/// What SIGHUP reloads: the auth files and the TLS certificate.
#[derive(Clone)]
struct Reloadable {
    security: Arc<Security>,
    certs: Option<Arc<Certificates>>,
}

/// A running gateway.
pub struct Server {
    addrs: BoundAddrs,
    reloadable: Reloadable,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    /// Starts wren with `settings`; returns when it is ready for clients.
    pub fn start(settings: Settings) -> anyhow::Result<Self> {
        let reloadable = Reloadable {
            security: Arc::new(
                Security::load(&settings.auth, settings.tls.use_identity_as_username)
                    .context("[auth]")?,
            ),
            certs: Certificates::load(&settings.tls).context("[tls]")?,
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let shared = reloadable.clone();
        let thread = std::thread::Builder::new()
            .name("wren-broker".into())
            .spawn(move || run_system(settings, shared, ready_tx, stop_rx))
            .context("cannot start the broker thread")?;
        match ready_rx.recv() {
            Ok(Ok(addrs)) => Ok(Self {
                addrs,
                reloadable,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => match thread.join() {
                Ok(Err(error)) => Err(error),
                _ => Err(anyhow!("the broker thread ended before it was ready")),
            },
        }
    }

    /// Where the listeners are.
    pub fn addrs(&self) -> &BoundAddrs {
        &self.addrs
    }

    /// Re-reads the password file, the ACL file and the TLS certificate
    /// (SIGHUP). Connections made from now on use them; on error the old
    /// ones stay in force.
    pub fn reload(&self) -> anyhow::Result<()> {
        self.reloadable.security.reload().context("[auth]")?;
        if let Some(certs) = &self.reloadable.certs {
            certs.reload().context("[tls]")?;
        }
        Ok(())
    }

    /// Closes every connection (v5 clients get DISCONNECT 0x8B) and stops.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| anyhow!("the broker thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

fn run_system(
    settings: Settings,
    reloadable: Reloadable,
    ready: std::sync::mpsc::Sender<anyhow::Result<BoundAddrs>>,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let system = System::new();
    system.block_on(async move {
        let workers = Workers::start(std::thread::available_parallelism().map_or(1, |n| n.get()));
        let started = start_listeners(&settings, &reloadable, &workers).await;
        let (broker, tasks) = match started {
            Ok((addrs, broker, tasks)) => {
                let _ = ready.send(Ok(addrs));
                (broker, tasks)
            }
            Err(error) => {
                let _ = ready.send(Err(error));
                workers.stop();
                return Ok(());
            }
        };
        let _ = stop.await;
        info!("shutting down");
        for task in &tasks {
            task.abort();
        }
        let _ = broker.send(Shutdown).await;
        tokio::time::sleep(DRAIN).await;
        workers.stop();
        Ok(())
    })
}

type Started = (BoundAddrs, Addr<Broker>, Vec<tokio::task::JoinHandle<()>>);

async fn start_listeners(
    settings: &Settings,
    reloadable: &Reloadable,
    workers: &Workers,
) -> anyhow::Result<Started> {
    let broker = Broker::new(RouterConfig {
        max_queued: settings.limits.max_queued,
        retain_available: settings.mqtt.retain_available,
    })
    .start();
    let cx = SessionContext {
        broker: broker.clone(),
        config: Arc::new(session_config(settings)),
        listener: "tcp",
        security: reloadable.security.clone(),
        certificate_name: None,
    };
    let limit = ConnectionLimit::new(settings.limits.max_connections)
        .with_rate(settings.limits.max_connection_rate);
    let tcp_listeners = tcp::bind(&settings.mqtt.tcp, "mqtt.tcp").await?;
    let http_listeners = tcp::bind(&settings.http.listen, "http.listen").await?;
    let tls_listeners = tcp::bind(&settings.mqtt.tls, "mqtt.tls").await?;
    let https_listeners = tcp::bind(&settings.http.tls_listen, "http.tls_listen").await?;
    let mut addrs = BoundAddrs {
        mqtt_tcp: Vec::new(),
        http: Vec::new(),
        mqttsn_udp: Vec::new(),
        mqtt_tls: Vec::new(),
        https: Vec::new(),
    };
    let auth = reloadable.security.current();
    let mut tasks = Vec::new();
    for listener in tcp_listeners {
        let addr = listener.local_addr()?;
        info!(
            "{}",
            auth.describe(&format!("mqtt tcp {addr}"), addr.ip().is_loopback())
        );
        addrs.mqtt_tcp.push(addr);
        tasks.push(actix::spawn(tcp::serve(
            listener,
            cx.clone(),
            workers.picker(),
            limit.clone(),
        )));
    }
    let http_cx = Arc::new(http_context(settings, cx.clone()));
    for listener in http_listeners {
        let addr = listener.local_addr()?;
        info!(
            "{}",
            auth.describe(&format!("websocket {addr}"), addr.ip().is_loopback())
        );
        addrs.http.push(addr);
        tasks.push(actix::spawn(http::serve(
            listener,
            http_cx.clone(),
            workers.picker(),
            limit.clone(),
        )));
    }
    if let Some(certs) = &reloadable.certs {
        let tls_cx = SessionContext {
            listener: "mqtt-tls",
            ..cx.clone()
        };
        for listener in tls_listeners {
            let addr = listener.local_addr()?;
            info!(
                "{}",
                auth.describe(&format!("mqtt tls {addr}"), addr.ip().is_loopback())
            );
            addrs.mqtt_tls.push(addr);
            let serve = tls::serve_mqtt(
                listener,
                tls_cx.clone(),
                certs.clone(),
                workers.picker(),
                limit.clone(),
            );
            tasks.push(actix::spawn(serve));
        }
        let https_cx = Arc::new(http_context(
            settings,
            SessionContext {
                listener: "wss",
                ..cx.clone()
            },
        ));
        for listener in https_listeners {
            let addr = listener.local_addr()?;
            info!(
                "{}",
                auth.describe(&format!("secure websocket {addr}"), addr.ip().is_loopback())
            );
            addrs.https.push(addr);
            let serve = tls::serve_https(
                listener,
                https_cx.clone(),
                certs.clone(),
                workers.picker(),
                limit.clone(),
            );
            tasks.push(actix::spawn(serve));
        }
    }
    addrs.mqttsn_udp = start_mqttsn(settings, &broker, &reloadable.security, workers, &mut tasks)?;
    Ok((addrs, broker, tasks))
}

fn http_context(settings: &Settings, cx: SessionContext) -> HttpContext {
    HttpContext {
        session: SessionContext {
            listener: "ws",
            ..cx
        },
        ws_path: settings.http.ws_path.clone(),
        allowed_origins: settings.http.allowed_origins.clone(),
        request_timeout: settings.limits.connect_timeout,
        ws_config: ws::config(settings.limits.max_packet_size),
    }
}

/// Binds the MQTT-SN sockets and starts one link per socket, and one per
/// `[[radio]]` (its port task goes into `tasks`, stopped at shutdown).
fn start_mqttsn(
    settings: &Settings,
    broker: &Addr<Broker>,
    security: &Arc<Security>,
    workers: &Workers,
    tasks: &mut Vec<tokio::task::JoinHandle<()>>,
) -> anyhow::Result<Vec<SocketAddr>> {
    let sn = &settings.mqttsn;
    let admission = Admission::new(sn.clients.clone(), security.clone());
    if !sn.udp.is_empty() || !settings.radio.is_empty() {
        info!("{}", admission.describe());
    }
    let gateway = Gateway {
        broker: broker.clone(),
        config: Arc::new(GatewayConfig::from_settings(settings)),
        counters: Arc::default(),
        registry: TopicRegistry::default(),
        clients: ConnectionLimit::new(sn.max_clients),
        admission: Arc::new(admission),
    };
    let mut bound = Vec::new();
    let threads = workers.picker();
    for socket in udp::bind(&sn.udp, sn.multicast)? {
        let local = socket.local_addr()?;
        let advertise_to = match sn.multicast {
            Some(group) if group.is_ipv4() == local.is_ipv4() => Some(group),
            Some(_) => None,
            None => udp::broadcast_for(local),
        };
        // The link and its clients share one worker thread: a socket's
        // datagrams arrive in one sequence anyway, and a client's answer then
        // needs no hop to another thread (this halved the CPU per message).
        let gateway = gateway.clone();
        threads.next().spawn_fn(move || {
            match tokio::net::UdpSocket::from_std(socket)
                .and_then(|socket| datagram::udp(socket, advertise_to))
            {
                Ok(transport) => drop(SnLink::start(gateway, transport)),
                Err(error) => tracing::error!(%local, %error, "cannot serve the MQTT-SN socket"),
            }
        });
        bound.push(local);
    }
    // A radio whose port is missing now does not stop wren: its task keeps
    // retrying, and its link serves the nodes once the port appears. Radio
    // links (a few frames a second at most) stay on this thread.
    for radio in &settings.radio {
        let radio = crate::radio::start(radio);
        SnLink::start(gateway.clone(), radio.transport);
        tasks.push(radio.task);
    }
    Ok(bound)
}

fn session_config(settings: &Settings) -> SessionConfig {
    SessionConfig {
        max_packet_size: settings.limits.max_packet_size,
        max_inflight: settings.limits.max_inflight,
        max_topic_alias: settings.mqtt.max_topic_alias,
        retain_available: settings.mqtt.retain_available,
        max_session_expiry: settings.mqtt.max_session_expiry,
        connect_timeout: settings.limits.connect_timeout,
        max_keepalive: settings.limits.max_keepalive,
    }
}
