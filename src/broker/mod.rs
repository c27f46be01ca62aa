//! The broker: one actor owning sessions, the subscription tree and retained messages.
//!
//! Its handlers only call into the pure [`router::Router`]; it never awaits
//! anything, so no wait cycle with a connection can form.

pub mod messages;
pub mod publication;
pub mod retained;
pub mod router;
pub mod subscriptions;

use std::time::{Duration, Instant};

use actix::prelude::*;

use self::messages::{
    Connect, Disconnected, Publish, SetWill, Shutdown, Subscribe, ToConnection, Unsubscribe,
};
use self::router::{Attached, Connection, Router, RouterConfig};
use crate::protocol::mqtt::ReasonCode;

/// How often delayed wills, session expiry and retained-message expiry are checked.
const TICK: Duration = Duration::from_secs(1);

/// Messages the broker's mailbox holds before senders must wait. Large enough
/// that many publishers rarely wait, small enough to bound memory.
const MAILBOX: usize = 4096;

impl Connection for Recipient<ToConnection> {
    fn wake(&self) -> bool {
        // A full mailbox already holds a wake or a kick: nothing is lost.
        !matches!(self.try_send(ToConnection::Wake), Err(SendError::Closed(_)))
    }

    fn kick(&self, reason: ReasonCode) {
        self.do_send(ToConnection::Kick(reason));
    }
}

/// The broker actor.
pub struct Broker {
    router: Router<Recipient<ToConnection>>,
}

impl Broker {
    /// A broker with an empty router.
    pub fn new(config: RouterConfig) -> Self {
        Self {
            router: Router::new(config),
        }
    }
}

impl Actor for Broker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        ctx.run_interval(TICK, |broker, _| broker.router.tick(Instant::now()));
    }
}

impl Handler<Connect> for Broker {
    type Result = MessageResult<Connect>;

    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) -> Self::Result {
        let attached: Attached = self.router.connect(msg.0);
        MessageResult(attached)
    }
}

impl Handler<Disconnected> for Broker {
    type Result = ();

    fn handle(&mut self, msg: Disconnected, _: &mut Context<Self>) {
        self.router
            .disconnect(msg.key, msg.conn_id, msg.how, msg.expiry, Instant::now());
    }
}

impl Handler<SetWill> for Broker {
    type Result = ();

    fn handle(&mut self, msg: SetWill, _: &mut Context<Self>) {
        self.router.set_will(msg.key, msg.conn_id, msg.will);
    }
}

impl Handler<Publish> for Broker {
    type Result = ();

    fn handle(&mut self, msg: Publish, _: &mut Context<Self>) {
        for publication in msg.0 {
            self.router.publish(publication);
        }
    }
}

impl Handler<Subscribe> for Broker {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.router.subscribe(msg.key, &msg.filters, Instant::now()))
    }
}

impl Handler<Unsubscribe> for Broker {
    type Result = MessageResult<Unsubscribe>;

    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.router.unsubscribe(msg.key, &msg.filters))
    }
}

impl Handler<Shutdown> for Broker {
    type Result = ();

    fn handle(&mut self, _: Shutdown, _: &mut Context<Self>) {
        self.router.kick_all(ReasonCode::SERVER_SHUTTING_DOWN);
    }
}
