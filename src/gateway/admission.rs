//! Which MQTT-SN clients the gateway admits, and what they may publish.
//!
//! MQTT-SN 1.2 CONNECT carries no credentials, so a client is known by its
//! client id and the link address it sends from (UDP, or a radio node
//! address): `[mqttsn.clients]` lists
//! the ids allowed and where each must come from. With an empty list every
//! client is admitted (said once at startup). Either way the ACL
//! (`[auth] acl_file`) applies to each client as an anonymous user under its
//! client id; a QoS −1 publisher, which never connects, as an anonymous
//! client with an empty id. Subscriptions are judged by the broker, as for
//! MQTT clients.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::auth::{Identity, Rights, Security};
use crate::settings::ExpectedAddr;

use super::datagram::{ClientAddr, Peer};

/// The allow-list and the auth rules, shared by every link and client.
#[derive(Debug)]
pub struct Admission {
    allowed: BTreeMap<String, ExpectedAddr>,
    security: Arc<Security>,
}

impl Admission {
    /// `allowed` is `[mqttsn.clients]`; empty admits everyone.
    pub fn new(allowed: BTreeMap<String, ExpectedAddr>, security: Arc<Security>) -> Self {
        Self { allowed, security }
    }

    /// One line for the startup log.
    pub fn describe(&self) -> String {
        if self.allowed.is_empty() {
            "mqttsn: no [mqttsn.clients] allow-list, every client id is admitted".to_owned()
        } else {
            format!(
                "mqttsn: {} client ids on the allow-list, others refused",
                self.allowed.len()
            )
        }
    }

    /// A CONNECT from `client_id` at `addr`: the ACL rights it gets, or
    /// `Err` when the allow-list refuses it.
    pub fn connect(
        &self,
        client_id: &str,
        addr: &ClientAddr,
    ) -> Result<Option<Rights>, NotAdmitted> {
        if !self.allowed.is_empty() {
            let expected = self.allowed.get(client_id).ok_or(NotAdmitted)?;
            if !from(expected, addr) {
                return Err(NotAdmitted);
            }
        }
        Ok(self.security.current().rights(&Identity::Anonymous))
    }

    /// A QoS −1 PUBLISH to `topic` from `addr`, which never connected.
    pub fn publish_minus_one(&self, addr: &ClientAddr, topic: &str) -> bool {
        if !self.allowed.is_empty() && !self.allowed.values().any(|e| from(e, addr)) {
            return false;
        }
        self.security
            .current()
            .rights(&Identity::Anonymous)
            .is_none_or(|rights| rights.grants("").may_publish(topic))
    }
}

/// Refused by the allow-list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAdmitted;

/// Whether `addr` is where `expected` says: a UDP source address, or a
/// radio node address (behind a forwarder, the node id it wraps).
fn from(expected: &ExpectedAddr, addr: &ClientAddr) -> bool {
    match (&addr.peer, &addr.node) {
        (Peer::Udp(source), None) => expected.admits(*source),
        (Peer::Radio(octets), None) => expected.admits_radio(octets),
        // Behind a forwarder the wireless node is known by its node id.
        (_, Some(node)) => expected.admits_radio(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::AuthSettings;

    fn admission(
        list: &[(&str, &str)],
        acl: Option<&str>,
    ) -> (Admission, Option<tempfile::NamedTempFile>) {
        let file = acl.map(|text| {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), text).unwrap();
            file
        });
        let settings = AuthSettings {
            acl_file: file.as_ref().map(|f| f.path().to_owned()),
            ..AuthSettings::default()
        };
        let security = Arc::new(Security::load(&settings, false).unwrap());
        let allowed = list
            .iter()
            .map(|(id, addr)| {
                let expected = addr
                    .parse()
                    .map(ExpectedAddr::Socket)
                    .unwrap_or_else(|_| ExpectedAddr::Host(addr.parse().unwrap()));
                (id.to_string(), expected)
            })
            .collect();
        (Admission::new(allowed, security), file)
    }

    fn udp(text: &str) -> ClientAddr {
        ClientAddr {
            peer: Peer::Udp(text.parse().unwrap()),
            node: None,
        }
    }

    #[test]
    fn without_a_list_everyone_is_admitted() {
        let (a, _) = admission(&[], None);
        assert_eq!(
            a.connect("any", &udp("10.0.0.9:1")).map(|r| r.is_none()),
            Ok(true)
        );
        assert!(a.publish_minus_one(&udp("10.0.0.9:1"), "t"));
    }

    #[test]
    fn the_list_checks_id_and_address() {
        let (a, _) = admission(&[("kitchen", "10.0.0.7"), ("hall", "10.0.0.8:5000")], None);
        assert!(a.connect("kitchen", &udp("10.0.0.7:4000")).is_ok());
        assert_eq!(
            a.connect("kitchen", &udp("10.0.0.9:4000")).err(),
            Some(NotAdmitted)
        );
        assert_eq!(
            a.connect("garage", &udp("10.0.0.7:4000")).err(),
            Some(NotAdmitted)
        );
        assert!(a.connect("hall", &udp("10.0.0.8:5000")).is_ok());
        assert_eq!(
            a.connect("hall", &udp("10.0.0.8:5001")).err(),
            Some(NotAdmitted)
        );
        let radio = ClientAddr {
            peer: Peer::Radio(bytes::Bytes::from_static(&[1, 2])),
            node: None,
        };
        assert_eq!(a.connect("kitchen", &radio).err(), Some(NotAdmitted));
        let node = ExpectedAddr::Radio {
            len: 2,
            octets: [1, 2, 0, 0, 0, 0, 0, 0],
        };
        let (b, _) = admission(&[], None);
        let b = Admission::new([("node".to_owned(), node)].into(), b.security);
        assert!(b.connect("node", &radio).is_ok());
        let wrapped = ClientAddr {
            peer: Peer::Udp("10.0.0.7:1".parse().unwrap()),
            node: Some(bytes::Bytes::from_static(&[1, 2])),
        };
        assert!(b.connect("node", &wrapped).is_ok());
        assert_eq!(
            b.connect("node", &udp("10.0.0.7:1")).err(),
            Some(NotAdmitted)
        );
        assert!(a.publish_minus_one(&udp("10.0.0.7:9"), "t"));
        assert!(!a.publish_minus_one(&udp("10.0.0.99:9"), "t"));
    }

    #[test]
    fn the_acl_applies_to_sn_clients_and_qos_minus_one() {
        let (a, _f) = admission(
            &[],
            Some("topic write public/#\npattern write sensors/%c/#\n"),
        );
        let rights = a.connect("node7", &udp("10.0.0.7:1")).unwrap().unwrap();
        let grants = rights.grants("node7");
        assert!(grants.may_publish("sensors/node7/t"));
        assert!(!grants.may_publish("sensors/node8/t"));
        assert!(a.publish_minus_one(&udp("10.0.0.7:1"), "public/x"));
        assert!(!a.publish_minus_one(&udp("10.0.0.7:1"), "private/x"));
    }
}
