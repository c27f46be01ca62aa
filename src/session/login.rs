//! Who a CONNECT is: credentials checked against `[auth]` before the session
//! is attached. Password checks run on the blocking pool (they are slow by
//! design); the connection reads nothing more until the answer is in.

use actix::prelude::*;
use tracing::{debug, info};

use super::connect::{self, Terms};
use super::{MqttSession, Phase};
use crate::auth::{self, Auth, Credentials, Identity, Refusal, Rights};
use crate::protocol::mqtt::{Connect, Packet, ReasonCode};

impl MqttSession {
    /// Checks the CONNECT's credentials, then attaches (or refuses).
    pub(super) fn log_in(&mut self, connect: Connect, terms: Terms, ctx: &mut Context<Self>) {
        let auth = self.cx.security.current();
        let credentials = Credentials {
            username: connect.username.clone(),
            password: connect.password.clone(),
            certificate: self.cx.certificate_name.clone(),
            peer: self.peer.ip(),
        };
        if !auth.needs_hashing(&credentials) {
            let verdict = auth.authenticate(&credentials);
            return self.logged_in(connect, terms, &auth, verdict, ctx);
        }
        // Nothing else is read, and the connect timeout does not apply, until the check is done.
        self.phase = Phase::Attaching;
        self.blocked = true;
        let max_wait = self.cx.config.connect_timeout;
        let check = auth::authenticate_off_thread(auth.clone(), credentials, max_wait);
        ctx.wait(check.into_actor(self).map(move |verdict, session, ctx| {
            session.blocked = false;
            session.logged_in(connect, terms, &auth, verdict, ctx);
            session.process_input(ctx);
        }));
    }

    fn logged_in(
        &mut self,
        connect: Connect,
        terms: Terms,
        auth: &Auth,
        verdict: Result<Identity, Refusal>,
        ctx: &mut Context<Self>,
    ) {
        let identity = match verdict {
            Ok(identity) => identity,
            Err(refusal) => {
                let code = match refusal {
                    Refusal::BadCredentials => ReasonCode::BAD_USER_NAME_OR_PASSWORD,
                    Refusal::NotAuthorized => ReasonCode::NOT_AUTHORIZED,
                    Refusal::Busy => ReasonCode::SERVER_BUSY,
                };
                info!(client_id = %connect.client_id, user = ?connect.username, reason = ?refusal, "connection refused");
                return self.refuse(code, ctx);
            }
        };
        debug!(client_id = %connect.client_id, ?identity, "authenticated");
        let rights = auth.rights(&identity);
        if !will_allowed(rights.as_ref(), &connect) {
            info!(client_id = %connect.client_id, "will topic not allowed by the ACL, connection refused");
            return self.refuse(ReasonCode::NOT_AUTHORIZED, ctx);
        }
        self.attach(connect, terms, rights, ctx);
    }

    /// Answers CONNACK with `code` and closes.
    pub(super) fn refuse(&mut self, code: ReasonCode, ctx: &mut Context<Self>) {
        self.write(&Packet::ConnAck(connect::refused(code)));
        self.closing = true;
        self.flush(ctx);
        ctx.stop();
    }
}

/// Whether the ACL lets this connection publish its will. A client that
/// leaves its id to the broker is judged without one (`%c` rules do not
/// apply to it): its will could not name its id anyway.
fn will_allowed(rights: Option<&Rights>, connect: &Connect) -> bool {
    match (rights, &connect.will) {
        (Some(rights), Some(will)) => rights.grants(&connect.client_id).may_publish(&will.topic),
        _ => true,
    }
}
