//! The `SnLink` actor: one per datagram transport (a UDP socket here; serial
//! radios later), generic over [`LinkTransport`].
//!
//! It decodes each datagram, unwraps forwarder encapsulation (the client's
//! address is then the forwarder's address plus the wireless node id), and
//! hands the message to that address's `SnClient`, starting one on CONNECT.
//! What needs no client it answers itself: SEARCHGW (rate-limited), QoS −1
//! PUBLISH (straight to the broker), and anything else from an address it
//! does not know (DISCONNECT). A bad datagram is logged at debug level and
//! counted; it never stops the link.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use tracing::{Span, debug, info};

use super::client::publication;
use super::datagram::{ClientAddr, Datagram, DatagramSink, DatagramSource, LinkTransport, Peer};
use super::discovery::{self, GwInfoLimit};
use super::outbox::Outbox;
use super::sn_client::{ClientGone, Inbound, Route, SnClient};
use super::topics::resolve_unregistered;
use super::{Counters, Gateway};
use crate::protocol::mqttsn::{self, Ctrl, Disconnect, Message, Publish, QoS, ReturnCode};

/// One datagram transport and the clients reached through it.
pub struct SnLink {
    gw: Gateway,
    name: Arc<str>,
    inbound: Option<DatagramSource>,
    sink: Arc<dyn DatagramSink>,
    outbox: Outbox,
    advertise_to: Option<Peer>,
    clients: HashMap<ClientAddr, (u64, Addr<SnClient>)>,
    next_generation: u64,
    gwinfo: GwInfoLimit,
    span: Span,
}

impl SnLink {
    /// Starts a link on the current arbiter.
    pub fn start(gw: Gateway, transport: LinkTransport) -> Addr<Self> {
        let name: Arc<str> = transport.name.into();
        let span = tracing::info_span!("mqttsn", link = %name);
        let outbox = Outbox::new(
            gw.broker.clone(),
            transport.outbound.clone(),
            gw.counters.clone(),
        );
        SnLink {
            gw,
            name,
            inbound: Some(transport.inbound),
            sink: transport.outbound,
            outbox,
            advertise_to: transport.advertise_to,
            clients: HashMap::new(),
            next_generation: 1,
            gwinfo: GwInfoLimit::new(Instant::now()),
            span,
        }
        .start()
    }

    fn reply(&self, addr: &ClientAddr, ctrl: Ctrl, message: &Message) {
        super::send(self.sink.as_ref(), &self.gw.counters, addr, ctrl, message);
    }

    fn on_datagram(&mut self, datagram: Datagram, ctx: &mut Context<Self>) {
        let peer = datagram.peer;
        if datagram.payload.len() > self.gw.config.max_datagram {
            Counters::bump(&self.gw.counters.bad_datagrams);
            debug!(%peer, len = datagram.payload.len(), "oversize datagram dropped");
            return;
        }
        let (addr, ctrl, message) = match mqttsn::decode(&datagram.payload) {
            Ok(Message::Encapsulated(wrapped)) => {
                let wrapped = *wrapped;
                let addr = ClientAddr {
                    peer,
                    node: Some(wrapped.node_id),
                };
                (addr, Some(wrapped.ctrl), wrapped.message)
            }
            Ok(message) => (ClientAddr { peer, node: None }, None, message),
            Err(error) => {
                Counters::bump(&self.gw.counters.bad_datagrams);
                debug!(%peer, %error, "bad datagram dropped");
                return;
            }
        };
        let message = match self.clients.get(&addr) {
            Some((_, client)) => match client.try_send(Inbound { message, ctrl }) {
                Ok(()) => return,
                Err(SendError::Full(_)) => {
                    Counters::bump(&self.gw.counters.dropped);
                    debug!(peer = %addr, "client busy, datagram dropped");
                    return;
                }
                Err(SendError::Closed(inbound)) => {
                    self.clients.remove(&addr);
                    inbound.message
                }
            },
            None => message,
        };
        self.on_stranger(addr, ctrl, message, ctx);
    }

    /// A message from an address with no client.
    fn on_stranger(
        &mut self,
        addr: ClientAddr,
        ctrl: Option<Ctrl>,
        message: Message,
        ctx: &mut Context<Self>,
    ) {
        let reply_ctrl = ctrl.unwrap_or_default();
        match message {
            Message::SearchGw(_) => {
                if self.gwinfo.allow(Instant::now()) {
                    self.reply(
                        &addr,
                        reply_ctrl,
                        &discovery::gwinfo(self.gw.config.gateway_id),
                    );
                } else {
                    Counters::bump(&self.gw.counters.gwinfo_suppressed);
                    debug!(peer = %addr, "SEARCHGW over the rate limit, not answered");
                }
            }
            Message::Connect(_) => self.start_client(addr, ctrl, message, ctx),
            Message::Publish(publish) if publish.qos == QoS::MinusOne => {
                self.publish_minus_one(&addr, publish)
            }
            // Other gateways' discovery, and a DISCONNECT (answering it could
            // start a DISCONNECT ping-pong with another gateway).
            Message::Advertise(_) | Message::GwInfo(_) | Message::Disconnect(_) => {}
            other => {
                debug!(peer = %addr, kind = ?other.msg_type(), "message from an unknown client, DISCONNECT sent");
                self.reply(
                    &addr,
                    reply_ctrl,
                    &Message::Disconnect(Disconnect::default()),
                );
            }
        }
    }

    fn start_client(
        &mut self,
        addr: ClientAddr,
        ctrl: Option<Ctrl>,
        connect: Message,
        ctx: &mut Context<Self>,
    ) {
        let Some(permit) = self.gw.clients.try_acquire() else {
            Counters::bump(&self.gw.counters.clients_refused);
            info!(peer = %addr, "max_clients reached, CONNECT refused");
            let refusal = Message::ConnAck(ReturnCode::CONGESTION);
            self.reply(&addr, ctrl.unwrap_or_default(), &refusal);
            return;
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let route = Route {
            addr: addr.clone(),
            sink: self.sink.clone(),
            outbox: self.outbox.clone(),
            link: ctx.address().recipient(),
            link_name: self.name.clone(),
            generation,
        };
        let client = SnClient::spawn(self.gw.clone(), route, permit);
        // A fresh mailbox has room: this cannot fail but for a stopped worker.
        let _ = client.try_send(Inbound {
            message: connect,
            ctrl,
        });
        self.clients.insert(addr, (generation, client));
    }

    /// QoS −1 (§6.8): from a node that never connected, to a predefined id or
    /// a short name; to the broker with the turn's batch, dropped when it is busy.
    fn publish_minus_one(&self, addr: &ClientAddr, publish: Publish) {
        if !self.gw.config.allow_qos_minus_one {
            Counters::bump(&self.gw.counters.dropped);
            debug!(peer = %addr, "QoS -1 PUBLISH dropped: allow_qos_minus_one is off");
            return;
        }
        let predefined = self.gw.config.client.predefined.shared();
        let Some(topic) = resolve_unregistered(publish.topic, predefined) else {
            Counters::bump(&self.gw.counters.dropped);
            debug!(peer = %addr, topic = ?publish.topic, "QoS -1 PUBLISH to an unknown topic dropped");
            return;
        };
        if !self.gw.admission.publish_minus_one(addr, &topic) {
            Counters::bump(&self.gw.counters.dropped);
            debug!(peer = %addr, topic = %topic, "QoS -1 PUBLISH refused by the allow-list or ACL");
            return;
        }
        let publication = publication(topic, &publish, None);
        self.outbox.push(publication, None);
    }

    fn advertise(&self) {
        let Some(peer) = &self.advertise_to else {
            return;
        };
        let message =
            discovery::advertise(self.gw.config.gateway_id, self.gw.config.advertise_interval);
        let addr = ClientAddr {
            peer: peer.clone(),
            node: None,
        };
        self.reply(&addr, Ctrl::default(), &message);
    }
}

impl Actor for SnLink {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let _entered = self.span.clone().entered();
        info!("listening for MQTT-SN");
        if let Some(inbound) = self.inbound.take() {
            ctx.add_stream(inbound);
        }
        let interval = self.gw.config.advertise_interval;
        if !interval.is_zero() && self.advertise_to.is_some() {
            self.advertise();
            ctx.run_interval(interval, |link, _| link.advertise());
        }
    }
}

impl StreamHandler<Datagram> for SnLink {
    fn handle(&mut self, datagram: Datagram, ctx: &mut Self::Context) {
        let _entered = self.span.clone().entered();
        self.on_datagram(datagram, ctx);
    }

    fn finished(&mut self, _: &mut Self::Context) {
        let _entered = self.span.clone().entered();
        info!("transport closed");
    }
}

impl Handler<ClientGone> for SnLink {
    type Result = ();

    fn handle(&mut self, gone: ClientGone, _: &mut Self::Context) {
        if self
            .clients
            .get(&gone.addr)
            .is_some_and(|(generation, _)| *generation == gone.generation)
        {
            self.clients.remove(&gone.addr);
        }
    }
}
