//! One handler per packet kind a client sends, behind one flat `match`.

use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::{debug, info, warn};

use super::aliases::{InboundAliases, OutboundAliases};
use super::connect::{self, Terms};
use super::{Live, MqttSession, Phase};
use crate::auth::Rights;
use crate::broker::Broker;
use crate::broker::messages::{
    Connect as ConnectMsg, Subscribe as SubscribeMsg, Unsubscribe as UnsubscribeMsg,
};
use crate::broker::publication::Publication;
use crate::broker::router::{Attached, ConnectRequest, Departure, Subscription};
use crate::protocol::mqtt::{
    Ack, Connect, Disconnect, Packet, Properties, Publish, QoS, ReasonCode, SubAck, Subscribe,
    UnsubAck, Unsubscribe,
};
use crate::protocol::topic;

impl MqttSession {
    pub(super) fn on_packet(&mut self, packet: Packet, ctx: &mut Context<Self>) {
        if matches!(self.phase, Phase::AwaitingConnect) {
            match packet {
                Packet::Connect(connect) => self.on_connect(*connect, ctx),
                // The first packet must be CONNECT [MQTT-3.1.0-1].
                _ => {
                    warn!("first packet is not CONNECT, closing");
                    self.closing = true;
                    ctx.stop();
                }
            }
            return;
        }
        match packet {
            Packet::Publish(publish) => self.on_publish(publish, ctx),
            Packet::PubAck(ack) => self.on_puback(ack),
            Packet::PubRec(ack) => self.on_pubrec(ack),
            Packet::PubRel(ack) => self.on_pubrel(ack),
            Packet::PubComp(ack) => self.on_pubcomp(ack),
            Packet::Subscribe(subscribe) => self.on_subscribe(subscribe, ctx),
            Packet::Unsubscribe(unsubscribe) => self.on_unsubscribe(unsubscribe, ctx),
            Packet::PingReq => self.write(&Packet::PingResp),
            Packet::Disconnect(disconnect) => self.on_disconnect(disconnect, ctx),
            Packet::Connect(_) => self.protocol_error(ctx, "second CONNECT"),
            Packet::Auth(_) => self.protocol_error(ctx, "AUTH without an authentication method"),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                self.protocol_error(ctx, "server-only packet from a client")
            }
        }
    }

    fn protocol_error(&mut self, ctx: &mut Context<Self>, what: &'static str) {
        warn!(error = what, "protocol error, closing");
        self.close(ctx, ReasonCode::PROTOCOL_ERROR);
    }

    fn on_connect(&mut self, connect: Connect, ctx: &mut Context<Self>) {
        self.version = connect.protocol;
        match connect::negotiate(&connect, &self.cx.config) {
            Ok(terms) => self.log_in(connect, terms, ctx),
            Err(code) => {
                info!(client_id = %connect.client_id, reason = ?code, "connection refused");
                self.refuse(code, ctx);
            }
        }
    }

    /// Attaches an authenticated connection to its session.
    pub(super) fn attach(
        &mut self,
        connect: Connect,
        terms: Terms,
        rights: Option<Rights>,
        ctx: &mut Context<Self>,
    ) {
        let request = ConnectRequest {
            client_id: connect.client_id.clone(),
            clean_start: connect.clean_start,
            session_expiry: terms.session_expiry,
            will: connect::will_of(&connect, Instant::now()),
            conn_id: self.conn_id,
            connection: ctx.address().recipient(),
            rights,
        };
        self.phase = Phase::Attaching;
        self.ask_broker(
            ctx,
            ConnectMsg(request),
            move |session, answer, ctx| match answer {
                Some(attached) => session.on_attached(attached, terms, ctx),
                None => {
                    session.write(&Packet::ConnAck(connect::refused(
                        ReasonCode::SERVER_UNAVAILABLE,
                    )));
                    session.closing = true;
                    ctx.stop();
                }
            },
        );
    }

    fn on_attached(&mut self, attached: Attached, terms: Terms, ctx: &mut Context<Self>) {
        self.span
            .record("client_id", attached.client_id.as_ref() as &str);
        let _entered = self.span.clone().entered();
        info!(version = ?terms.version, session_present = attached.session_present, keep_alive = terms.keep_alive, "connected");
        let assigned = attached.assigned.then(|| attached.client_id.clone());
        let connack =
            connect::accepted(&terms, &self.cx.config, attached.session_present, assigned);
        self.write(&Packet::ConnAck(connack));
        if terms.keep_alive > 0 {
            let keep_alive = terms.keep_alive;
            let period = Duration::from_millis(u64::from(keep_alive) * 500);
            ctx.run_interval(period, move |session, ctx| {
                session.check_keepalive(ctx, keep_alive)
            });
        }
        self.phase = Phase::Connected(Box::new(Live {
            key: attached.key,
            state: attached.state,
            aliases_in: InboundAliases::new(self.cx.config.max_topic_alias),
            aliases_out: OutboundAliases::new(terms.aliases_out),
            terms,
            departure: Departure::Abnormal,
            expiry_update: None,
            grants: attached.grants,
        }));
        self.resend_inflight();
        self.drain(ctx);
    }

    fn on_publish(&mut self, publish: Publish, ctx: &mut Context<Self>) {
        let v5 = self.version.is_v5();
        let retain_available = self.cx.config.retain_available;
        let max_inflight = usize::from(self.cx.config.max_inflight);
        let Some(live) = self.live() else { return };
        let topic = match live
            .aliases_in
            .resolve(&publish.topic, publish.properties.topic_alias)
        {
            Ok(topic) => topic,
            Err(reason) => return self.close(ctx, reason),
        };
        if let Err(error) = topic::validate_topic_name(&topic) {
            warn!(%error, topic = %topic, "invalid topic name, closing");
            return self.close(ctx, ReasonCode::TOPIC_NAME_INVALID);
        }
        if publish.retain && !retain_available {
            return self.close(ctx, ReasonCode::RETAIN_NOT_SUPPORTED);
        }
        let bad_utf8 = publish.properties.payload_format_indicator == Some(1)
            && std::str::from_utf8(&publish.payload).is_err();
        let denied = live.grants.as_ref().is_some_and(|g| !g.may_publish(&topic));
        if denied {
            debug!(topic = %topic, "PUBLISH denied by the ACL, dropped");
        }
        let mut forward = !bad_utf8 && !denied;
        // A v5 refusal ends a QoS 2 exchange at PUBREC (§4.3.3): nothing to remember.
        let refused = denied && v5;
        if let (QoS::ExactlyOnce, Some(id), false) = (publish.qos, publish.packet_id, refused) {
            let mut state = live.state.lock();
            forward &= state.receive_qos2(id);
            if state.incoming_qos2_len() > max_inflight {
                drop(state);
                return self.close(ctx, ReasonCode::RECEIVE_MAXIMUM_EXCEEDED);
            }
        }
        let key = live.key;
        let reason = if bad_utf8 {
            ReasonCode::PAYLOAD_FORMAT_INVALID
        } else if refused {
            // MQTT 3.1.1 has no refusal: the message is acknowledged and dropped.
            ReasonCode::NOT_AUTHORIZED
        } else {
            ReasonCode::SUCCESS
        };
        let (qos, packet_id) = (publish.qos, publish.packet_id);
        if forward {
            let expires_at = publish
                .properties
                .message_expiry_interval
                .map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
            self.batch.push(Publication {
                topic,
                payload: publish.payload,
                qos,
                retain: publish.retain,
                properties: Publication::forwarded(publish.properties),
                expires_at,
                origin: Some(key),
            });
        }
        let ack = |id| Ack {
            packet_id: id,
            reason,
            properties: Properties::default(),
        };
        match (qos, packet_id) {
            (QoS::AtLeastOnce, Some(id)) => self.write(&Packet::PubAck(ack(id))),
            (QoS::ExactlyOnce, Some(id)) => self.write(&Packet::PubRec(ack(id))),
            _ => {}
        }
    }

    fn on_puback(&mut self, ack: Ack) {
        if let Some(live) = self.live() {
            live.state.lock().puback(ack.packet_id);
        }
        // A window slot is free; refill once this read is handled, not per ack,
        // so a burst of acks costs one write.
        self.drain_wanted = true;
    }

    fn on_pubrec(&mut self, ack: Ack) {
        let v5 = self.version.is_v5();
        let Some(live) = self.live() else { return };
        let mut state = live.state.lock();
        if ack.reason.is_error() {
            // A v5 receiver refused the message: the exchange ends here (§4.3.3).
            state.pubrec_failed(ack.packet_id);
            return;
        }
        let known = state.pubrec(ack.packet_id) == super::state::Acked::Done;
        drop(state);
        let mut rel = Ack::new(ack.packet_id);
        if !known && v5 {
            rel.reason = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
        }
        self.write(&Packet::PubRel(rel));
    }

    fn on_pubrel(&mut self, ack: Ack) {
        let v5 = self.version.is_v5();
        let Some(live) = self.live() else { return };
        let known = live.state.lock().release_qos2(ack.packet_id);
        let mut comp = Ack::new(ack.packet_id);
        if !known && v5 {
            comp.reason = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
        }
        self.write(&Packet::PubComp(comp));
    }

    fn on_pubcomp(&mut self, ack: Ack) {
        if let Some(live) = self.live() {
            live.state.lock().pubcomp(ack.packet_id);
        }
        self.drain_wanted = true;
    }

    fn on_subscribe(&mut self, subscribe: Subscribe, ctx: &mut Context<Self>) {
        let v5 = self.version.is_v5();
        let Some(live) = self.live() else { return };
        let key = live.key;
        let id = subscribe
            .properties
            .subscription_identifiers
            .first()
            .copied();
        let mut reasons: Vec<Option<ReasonCode>> = Vec::with_capacity(subscribe.filters.len());
        let mut accepted = Vec::with_capacity(subscribe.filters.len());
        for (filter, options) in subscribe.filters {
            match topic::parse_subscription(&filter) {
                Err(error) => {
                    warn!(%error, filter = %filter, "invalid topic filter");
                    reasons.push(Some(ReasonCode::TOPIC_FILTER_INVALID));
                }
                // No Local on a shared subscription is a protocol error (MQTT 5.0 §3.8.3.1).
                Ok((Some(_), _)) if v5 && options.no_local => {
                    return self.protocol_error(ctx, "no local on a shared subscription");
                }
                Ok(_) => {
                    reasons.push(None);
                    accepted.push((
                        filter,
                        Subscription {
                            options,
                            id,
                            restricted: false,
                        },
                    ));
                }
            }
        }
        let packet_id = subscribe.packet_id;
        let request = SubscribeMsg {
            key,
            filters: accepted,
        };
        self.ask_broker(ctx, request, move |session, granted, _| {
            let mut granted = granted.unwrap_or_default().into_iter();
            let reasons = reasons
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| granted.next().unwrap_or(ReasonCode::UNSPECIFIED_ERROR))
                })
                .collect();
            session.write(&Packet::SubAck(SubAck {
                packet_id,
                reasons,
                properties: Properties::default(),
            }));
        });
    }

    fn on_unsubscribe(&mut self, unsubscribe: Unsubscribe, ctx: &mut Context<Self>) {
        let Some(live) = self.live() else { return };
        let request = UnsubscribeMsg {
            key: live.key,
            filters: unsubscribe.filters,
        };
        let packet_id = unsubscribe.packet_id;
        self.ask_broker(ctx, request, move |session, reasons, _| {
            let reasons = reasons.unwrap_or_default();
            session.write(&Packet::UnsubAck(UnsubAck {
                packet_id,
                reasons,
                properties: Properties::default(),
            }));
        });
    }

    /// Sends the broker a request whose answer the client must see before
    /// anything that follows it on this connection: publications decoded so far
    /// go first, and decoding pauses until the answer (`None` if the broker is
    /// gone) has been handled.
    fn ask_broker<M, F>(&mut self, ctx: &mut Context<Self>, request: M, on_answer: F)
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Broker: Handler<M>,
        F: FnOnce(&mut Self, Option<M::Result>, &mut Context<Self>) + 'static,
    {
        self.send_batch(ctx);
        self.blocked = true;
        let answered =
            self.cx
                .broker
                .send(request)
                .into_actor(self)
                .map(move |answer, session, ctx| {
                    session.blocked = false;
                    on_answer(session, answer.ok(), ctx);
                    session.process_input(ctx);
                });
        ctx.wait(answered);
    }

    fn on_disconnect(&mut self, disconnect: Disconnect, ctx: &mut Context<Self>) {
        let max_expiry = self.cx.config.max_session_expiry;
        let Some(live) = self.live() else { return };
        if let Some(expiry) = disconnect.properties.session_expiry_interval {
            // A session that was to end with the connection cannot be revived
            // at DISCONNECT (MQTT 5.0 §3.14.2.2.2).
            if live.terms.session_expiry == 0 && expiry != 0 {
                return self
                    .protocol_error(ctx, "session expiry set at DISCONNECT after 0 at CONNECT");
            }
            live.expiry_update = Some(expiry.min(max_expiry));
        }
        live.departure = if disconnect.reason == ReasonCode::DISCONNECT_WITH_WILL {
            Departure::Abnormal
        } else {
            Departure::Clean
        };
        self.closing = true;
        ctx.stop();
    }
}
