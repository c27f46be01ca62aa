//! The ACL inside the router: how a subscription stands with a session's
//! read grants, the per-delivery check for restricted subscriptions, and
//! re-judging a session resumed by another user. Pure, like the router.

use std::sync::Arc;

use bytestring::ByteString;

use super::{Connection, Router, SessionRecord};
use crate::auth::acl::{Grants, SubscribeVerdict};
use crate::broker::publication::SessionKey;
use crate::protocol::topic;

impl<C: Connection> Router<C> {
    /// Judges a resumed session's subscriptions again by the rights of the
    /// connection resuming it, which may belong to another user: filters it
    /// may not read are dropped, the others restricted as needed.
    pub(super) fn rejudge(&mut self, key: SessionKey, reader: Option<&Arc<Grants>>) {
        let Some(record) = self.sessions.get_mut(&key) else {
            return;
        };
        if record.reader.as_ref() == reader {
            return;
        }
        let filters: Vec<ByteString> = record.filters.iter().cloned().collect();
        for filter in filters {
            let Ok((group, inner)) = topic::parse_subscription(&filter) else {
                continue;
            };
            let Some(mut stored) = self.tree.remove(group, inner, key) else {
                continue;
            };
            match verdict(reader, inner) {
                SubscribeVerdict::Denied => {
                    record.filters.remove(&filter);
                }
                verdict => {
                    stored.subscription.restricted = verdict == SubscribeVerdict::Filtered;
                    self.tree.insert(group, inner, key, stored);
                }
            }
        }
    }
}

/// How a subscription to `filter` stands with `reader` (`None`: no ACL).
pub(super) fn verdict(reader: Option<&Arc<Grants>>, filter: &str) -> SubscribeVerdict {
    reader.map_or(SubscribeVerdict::Allowed, |grants| {
        grants.subscription(filter)
    })
}

/// Whether the session of `record` may read `topic`; called only for
/// restricted subscriptions, so sessions without an ACL never pay for it.
pub(super) fn may_read<C>(record: Option<&SessionRecord<C>>, topic: &str) -> bool {
    record
        .and_then(|r| r.reader.as_ref())
        .is_none_or(|grants| grants.may_read(topic))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;

    use super::*;
    use crate::auth::Rights;
    use crate::auth::acl::Acl;
    use crate::broker::publication::Publication;
    use crate::broker::router::{Attached, ConnectRequest, RouterConfig, Subscription};
    use crate::protocol::mqtt::{QoS, ReasonCode, SubscriptionOptions};

    struct Quiet;

    impl Connection for Quiet {
        fn wake(&self) -> bool {
            true
        }
        fn kick(&self, _: ReasonCode) {}
    }

    const ACL: &str = "user admin\ntopic read #\nuser alice\ntopic read home/#\n";

    fn connect(r: &mut Router<Quiet>, id: &str, user: Option<&str>) -> Attached {
        let acl = Arc::new(Acl::parse(ACL).unwrap());
        r.connect(ConnectRequest {
            client_id: id.into(),
            clean_start: false,
            session_expiry: 600,
            will: None,
            conn_id: crate::broker::publication::ConnId::next(),
            connection: Quiet,
            rights: Some(Rights::new(acl, user.map(str::to_owned))),
        })
    }

    fn subscribe(r: &mut Router<Quiet>, a: &Attached, filter: &str) -> ReasonCode {
        let sub = Subscription {
            options: SubscriptionOptions::default(),
            id: None,
            restricted: false,
        };
        r.subscribe(a.key, &[(filter.into(), sub)], Instant::now())[0]
    }

    fn publish(r: &mut Router<Quiet>, topic: &str, retain: bool) {
        r.publish(Publication {
            topic: topic.into(),
            payload: Bytes::from_static(b"m"),
            qos: QoS::AtMostOnce,
            retain,
            properties: None,
            expires_at: None,
            origin: None,
        });
    }

    fn received(a: &Attached) -> Vec<String> {
        let mut state = a.state.lock();
        std::iter::from_fn(|| state.next_to_send(10, Instant::now()))
            .map(|(_, d)| d.publication.topic.to_string())
            .collect()
    }

    #[test]
    fn wide_filters_are_granted_and_filtered_per_delivery_and_retained() {
        let mut r = Router::new(RouterConfig {
            max_queued: 10,
            retain_available: true,
        });
        publish(&mut r, "garden/r", true);
        publish(&mut r, "home/r", true);
        let alice = connect(&mut r, "a", Some("alice"));
        assert_eq!(
            subscribe(&mut r, &alice, "garden/#"),
            ReasonCode::NOT_AUTHORIZED
        );
        assert_eq!(subscribe(&mut r, &alice, "#"), ReasonCode::GRANTED_QOS_0);
        assert_eq!(received(&alice), ["home/r"]);
        publish(&mut r, "garden/x", false);
        publish(&mut r, "home/x", false);
        assert_eq!(received(&alice), ["home/x"]);
    }

    #[test]
    fn a_session_resumed_by_another_user_is_rejudged() {
        let mut r = Router::new(RouterConfig {
            max_queued: 10,
            retain_available: true,
        });
        let admin = connect(&mut r, "shared", Some("admin"));
        assert_eq!(
            subscribe(&mut r, &admin, "garden/#"),
            ReasonCode::GRANTED_QOS_0
        );
        assert_eq!(subscribe(&mut r, &admin, "#"), ReasonCode::GRANTED_QOS_0);
        let alice = connect(&mut r, "shared", Some("alice"));
        assert!(alice.session_present);
        publish(&mut r, "garden/x", false);
        publish(&mut r, "home/x", false);
        assert_eq!(
            received(&alice),
            ["home/x"],
            "garden/# dropped, # restricted"
        );
        // The same user again keeps the judgement as it is.
        let again = connect(&mut r, "shared", Some("alice"));
        publish(&mut r, "home/y", false);
        assert_eq!(received(&again), ["home/y"]);
    }
}
