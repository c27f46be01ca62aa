//! The MQTT session actor: one per network connection, over any byte transport.
//!
//! A session reads chunks of bytes (TCP reads, WebSocket binary frames: one
//! packet may span chunks, one chunk may hold many packets), decodes them on
//! its own worker thread, and talks to the [`Broker`] with the messages of
//! [`crate::broker::messages`]. Outgoing messages come from the session's
//! shared queue ([`state::SessionState`]) when the broker wakes it.
//!
//! Files: `connect` (what a CONNECT is granted), `login` (who it is: the
//! `[auth]` check), `inbound` (one handler per packet kind), `outbound` (queue → PUBLISH, redelivery), `aliases` (v5
//! topic aliases), `outlet` (non-blocking writes), `state` (the queue).

mod aliases;
pub mod connect;
mod inbound;
mod login;
mod outbound;
pub mod outlet;
pub mod state;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_util::Stream;
use tracing::{Span, debug, info, warn};

use self::aliases::{InboundAliases, OutboundAliases};
use self::connect::{SessionConfig, Terms};
use self::outlet::{Outlet, Transport};
use self::state::SharedSessionState;
use crate::auth::Security;
use crate::auth::acl::Grants;
use crate::broker::Broker;
use crate::broker::messages::{Disconnected, Publish, ToConnection};
use crate::broker::publication::{ConnId, Publication, SessionKey};
use crate::broker::router::Departure;
use crate::protocol::mqtt::{
    self, DecodeError, Disconnect, Packet, Properties, ProtocolVersion, ReasonCode,
};
use crate::transport::limit::Permit;

/// Any transport's read side, as a stream of byte chunks.
pub type Inlet = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// What a session needs from the server that starts it.
#[derive(Clone)]
pub struct SessionContext {
    pub broker: Addr<Broker>,
    pub config: Arc<SessionConfig>,
    /// The listener kind for logs: `tcp`, `ws`, `mqtt-tls`, `wss`.
    pub listener: &'static str,
    /// The auth rules; each CONNECT checks against the snapshot in force.
    pub security: Arc<Security>,
    /// The name (CN) of the verified TLS client certificate of this
    /// connection, when it presented one.
    pub certificate_name: Option<ByteString>,
}

enum Phase {
    AwaitingConnect,
    Attaching,
    Connected(Box<Live>),
}

/// A connection that has been attached to its session.
struct Live {
    key: SessionKey,
    state: SharedSessionState,
    terms: Terms,
    aliases_in: InboundAliases,
    aliases_out: OutboundAliases,
    departure: Departure,
    expiry_update: Option<u32>,
    /// What the ACL lets this connection do; `None`: everything.
    grants: Option<Arc<Grants>>,
}

/// One MQTT network connection.
pub struct MqttSession {
    cx: SessionContext,
    conn_id: ConnId,
    peer: SocketAddr,
    span: Span,
    outlet: Outlet,
    flushing: bool,
    read_buf: BytesMut,
    version: ProtocolVersion,
    phase: Phase,
    /// Decoding is paused while the session waits for the broker.
    blocked: bool,
    /// An acknowledgement freed a window slot: refill after this read.
    drain_wanted: bool,
    closing: bool,
    batch: Vec<Publication>,
    last_seen: Instant,
    _permit: Option<Permit>,
}

impl MqttSession {
    /// Starts a session on the current arbiter for a connection from `peer`.
    pub fn start(
        cx: SessionContext,
        peer: SocketAddr,
        inlet: Inlet,
        transport: Transport,
        permit: Option<Permit>,
    ) -> Addr<Self> {
        let span = tracing::info_span!("session", %peer, listener = cx.listener, client_id = tracing::field::Empty);
        MqttSession::create(move |ctx| {
            ctx.add_stream(inlet);
            MqttSession {
                cx,
                conn_id: ConnId::next(),
                peer,
                span,
                outlet: Outlet::new(transport),
                flushing: false,
                read_buf: BytesMut::new(),
                version: ProtocolVersion::V311,
                phase: Phase::AwaitingConnect,
                blocked: false,
                drain_wanted: false,
                closing: false,
                batch: Vec::new(),
                last_seen: Instant::now(),
                _permit: permit,
            }
        })
    }

    /// Decodes and handles every whole packet in the read buffer, unless
    /// waiting for the broker; then hands the publications to the broker and
    /// writes the answers.
    fn process_input(&mut self, ctx: &mut Context<Self>) {
        let span = self.span.clone();
        let _entered = span.enter();
        while !self.blocked && !self.closing {
            match mqtt::decode(
                &mut self.read_buf,
                self.version,
                self.cx.config.max_packet_size,
            ) {
                Ok(Some(packet)) => self.on_packet(packet, ctx),
                Ok(None) => break,
                Err(error) => {
                    warn!(%error, "malformed packet, closing");
                    if matches!(self.phase, Phase::AwaitingConnect)
                        && let DecodeError::UnsupportedProtocolVersion(_) = error
                    {
                        // MQTT 3.1.1 §3.1.2.2: answer with return code 0x01, then close.
                        self.write(&Packet::ConnAck(connect::refused(error.reason_code())));
                    }
                    self.close(ctx, error.reason_code());
                }
            }
        }
        // Even with no spare capacity an empty view still pins the buffer of
        // the last packet read (a whole WebSocket message, say): let it go.
        if self.read_buf.is_empty() {
            self.read_buf = BytesMut::new();
        }
        self.send_batch(ctx);
        // Not while a SUBSCRIBE awaits its answer: the retained messages it
        // queues must follow the SUBACK.
        if !self.blocked && std::mem::take(&mut self.drain_wanted) {
            self.drain(ctx);
        } else {
            self.flush(ctx);
        }
    }

    /// Hands the decoded publications to the broker; waits (pausing reads)
    /// only when the broker's mailbox is full.
    fn send_batch(&mut self, ctx: &mut Context<Self>) {
        if self.batch.is_empty() {
            return;
        }
        let batch = Publish(std::mem::take(&mut self.batch));
        match self.cx.broker.try_send(batch) {
            Ok(()) => {}
            Err(SendError::Full(batch)) => {
                self.blocked = true;
                let sent = self
                    .cx
                    .broker
                    .send(batch)
                    .into_actor(self)
                    .map(|_, session, ctx| {
                        session.blocked = false;
                        session.process_input(ctx);
                    });
                ctx.wait(sent);
            }
            Err(SendError::Closed(_)) => self.close(ctx, ReasonCode::SERVER_UNAVAILABLE),
        }
    }

    /// Writes what it can now; the rest when the transport has room. True
    /// when everything was written.
    fn flush(&mut self, ctx: &mut Context<Self>) -> bool {
        if self.flushing {
            return false;
        }
        match self.outlet.try_flush() {
            Poll::Ready(Ok(())) => true,
            Poll::Ready(Err(error)) => {
                debug!(%error, "write failed");
                self.closing = true;
                ctx.stop();
                false
            }
            Poll::Pending => {
                self.flushing = true;
                ctx.spawn(FlushWhenWritable);
                false
            }
        }
    }

    /// Appends one packet to the write buffer.
    fn write(&mut self, packet: &Packet) {
        if let Err(error) = mqtt::encode(packet, self.version, self.outlet.buffer()) {
            warn!(%error, "could not encode packet");
        }
    }

    /// Closes the connection for a reason the server found: v5 clients are
    /// told with DISCONNECT (MQTT 5.0 §4.13); the will is published.
    fn close(&mut self, ctx: &mut Context<Self>, reason: ReasonCode) {
        if self.closing {
            return;
        }
        if self.version.is_v5() && matches!(self.phase, Phase::Connected(_)) {
            self.write(&Packet::Disconnect(Disconnect {
                reason,
                properties: Properties::default(),
            }));
        }
        self.closing = true;
        self.flush(ctx);
        ctx.stop();
    }

    fn live(&mut self) -> Option<&mut Live> {
        match &mut self.phase {
            Phase::Connected(live) => Some(live),
            _ => None,
        }
    }

    fn check_keepalive(&mut self, ctx: &mut Context<Self>, keep_alive: u16) {
        // MQTT 3.1.1 §3.1.2.10: one and a half times the keepalive.
        let limit = Duration::from_millis(u64::from(keep_alive) * 1500);
        if self.last_seen.elapsed() > limit {
            let _entered = self.span.clone().entered();
            info!(keep_alive, "keepalive expired, closing");
            self.close(ctx, ReasonCode::KEEP_ALIVE_TIMEOUT);
        }
    }
}

impl Actor for MqttSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_later(self.cx.config.connect_timeout, |session, ctx| {
            if matches!(session.phase, Phase::AwaitingConnect) {
                let _entered = session.span.clone().entered();
                info!("no CONNECT in time, closing");
                session.closing = true;
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        // The broker hears of the departure before the client can see the
        // close, so a client that reconnects at once finds it already handled.
        if let Phase::Connected(live) = &self.phase {
            let _entered = self.span.enter();
            info!(how = ?live.departure, "disconnected");
            self.cx.broker.do_send(Disconnected {
                key: live.key,
                conn_id: self.conn_id,
                how: live.departure,
                expiry: live.expiry_update,
            });
        }
        self.outlet.shutdown();
    }
}

impl StreamHandler<io::Result<Bytes>> for MqttSession {
    fn handle(&mut self, chunk: io::Result<Bytes>, ctx: &mut Self::Context) {
        match chunk {
            Ok(chunk) => {
                self.last_seen = Instant::now();
                if self.read_buf.is_empty() {
                    // Usually the chunk's only owner: reuse it without copying.
                    self.read_buf = chunk
                        .try_into_mut()
                        .unwrap_or_else(|chunk| BytesMut::from(&chunk[..]));
                } else {
                    self.read_buf.extend_from_slice(&chunk);
                }
                self.process_input(ctx);
            }
            Err(error) => {
                let _entered = self.span.clone().entered();
                debug!(%error, "read failed");
                self.closing = true;
                ctx.stop();
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        // The peer closed its side: without a DISCONNECT first, this is abnormal.
        self.closing = true;
        ctx.stop();
    }
}

impl Handler<ToConnection> for MqttSession {
    type Result = ();

    fn handle(&mut self, msg: ToConnection, ctx: &mut Self::Context) {
        match msg {
            ToConnection::Wake => self.drain(ctx),
            ToConnection::Kick(reason) => {
                let _entered = self.span.clone().entered();
                info!(reason = ?reason, "closed by the server");
                self.close(ctx, reason);
            }
        }
    }
}

/// Finishes a flush the transport could not take at once, then refills the
/// write buffer from the queue.
struct FlushWhenWritable;

impl ActorFuture<MqttSession> for FlushWhenWritable {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        session: &mut MqttSession,
        ctx: &mut Context<MqttSession>,
        task: &mut std::task::Context<'_>,
    ) -> Poll<()> {
        match session.outlet.poll_flush(task) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                session.flushing = false;
                if result.is_err() {
                    session.closing = true;
                    ctx.stop();
                } else {
                    session.drain(ctx);
                }
                Poll::Ready(())
            }
        }
    }
}
