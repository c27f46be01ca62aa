//! The ACL: SUBSCRIBE judged per filter (0x80 in 3.1.1, 0x87 in 5.0), denied
//! PUBLISH dropped (3.1.1) or refused with 0x87 (5.0), wide subscriptions
//! filtered at delivery, `%u`/`%c`, a resumed session re-judged, and the
//! same over WebSocket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::wire::{self, kind};
use common::{Broker, Connect, Props, Publish, QUIET, Raw};
use wren::auth::password_file;

const ACL: &str = "\
user admin
topic readwrite #

user alice
topic readwrite home/#
topic read status/+

pattern write clients/%c/#
pattern read users/%u/#
";

struct Files {
    _passwords: tempfile::NamedTempFile,
    _acl: tempfile::NamedTempFile,
}

/// wren with the ACL above and users admin/admin and alice/alice;
/// `ws` adds an HTTP listener.
fn broker(ws: bool) -> (Broker, Files) {
    let passwords = tempfile::NamedTempFile::new().unwrap();
    let text: String = ["admin", "alice"]
        .iter()
        .map(|u| format!("{u}:{}\n", password_file::hash(u).unwrap()))
        .collect();
    std::fs::write(passwords.path(), text).unwrap();
    let acl = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(acl.path(), ACL).unwrap();
    let (p, a) = (passwords.path().to_owned(), acl.path().to_owned());
    let broker = Broker::with(|s| {
        s.auth.password_file = Some(p);
        s.auth.acl_file = Some(a);
        if ws {
            s.http.listen = vec!["127.0.0.1:0".parse().unwrap()];
        }
    });
    let files = Files {
        _passwords: passwords,
        _acl: acl,
    };
    (broker, files)
}

async fn login(broker: &Broker, connect: Connect, user: &str) -> Raw {
    Raw::connect(broker.addr, &connect.login(user, user.as_bytes()))
        .await
        .0
}

async fn suback(raw: &mut Raw, filters: &[(&str, u8)]) -> Vec<u8> {
    let packet = if raw.v5 {
        wire::subscribe_v5(1, Props::new(), filters)
    } else {
        wire::subscribe(1, filters)
    };
    raw.send(&packet).await;
    raw.recv().await.sub_reasons(raw.v5)
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_is_judged_per_filter() {
    let (broker, _files) = broker(false);
    let filters = [
        ("home/#", 1),
        ("garden/#", 1),
        ("status/+", 0),
        ("users/alice/#", 1),
        ("users/bob/#", 1),
    ];
    let mut v311 = login(&broker, Connect::v311("a-311"), "alice").await;
    assert_eq!(
        suback(&mut v311, &filters).await,
        [0x01, 0x80, 0x00, 0x01, 0x80]
    );
    let mut v5 = login(&broker, Connect::v5("a-5"), "alice").await;
    assert_eq!(
        suback(&mut v5, &filters).await,
        [0x01, 0x87, 0x00, 0x01, 0x87]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_publish_is_dropped_in_v311_and_refused_in_v5() {
    let (broker, _files) = broker(false);
    let mut admin = login(&broker, Connect::v311("admin"), "admin").await;
    assert_eq!(suback(&mut admin, &[("#", 0)]).await, [0x00]);

    let mut v311 = login(&broker, Connect::v311("a-311"), "alice").await;
    v311.send(&Publish::new("garden/x", b"no").qos(1, 7).bytes())
        .await;
    let ack = v311.recv().await;
    assert_eq!(
        (ack.kind(), ack.packet_id()),
        (kind::PUBACK, 7),
        "3.1.1 acknowledges and drops"
    );
    v311.send(&Publish::new("home/x", b"yes").bytes()).await;

    let mut v5 = login(&broker, Connect::v5("a-5"), "alice").await;
    v5.send(
        &Publish::new("garden/x", b"no")
            .qos(1, 8)
            .v5(Props::new())
            .bytes(),
    )
    .await;
    let ack = v5.recv().await;
    assert_eq!((ack.kind(), ack.ack_reason()), (kind::PUBACK, 0x87));
    v5.send(
        &Publish::new("garden/x", b"no")
            .qos(2, 9)
            .v5(Props::new())
            .bytes(),
    )
    .await;
    let rec = v5.recv().await;
    assert_eq!((rec.kind(), rec.ack_reason()), (kind::PUBREC, 0x87));
    v5.send(
        &Publish::new("status/x", b"read-only")
            .v5(Props::new())
            .bytes(),
    )
    .await;
    v5.send(&Publish::new("home/y", b"yes5").v5(Props::new()).bytes())
        .await;

    let first = admin.recv_publish().await;
    assert_eq!(
        (first.topic.as_str(), &first.payload[..]),
        ("home/x", &b"yes"[..])
    );
    let second = admin.recv_publish().await;
    assert_eq!(
        (second.topic.as_str(), &second.payload[..]),
        ("home/y", &b"yes5"[..])
    );
    admin.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wide_subscription_is_filtered_at_delivery_live_and_retained() {
    let (broker, _files) = broker(false);
    let mut admin = login(&broker, Connect::v311("admin"), "admin").await;
    for topic in ["garden/r", "home/r"] {
        admin
            .send(&Publish::new(topic, b"kept").retain().bytes())
            .await;
    }
    admin.send(&wire::PINGREQ).await;
    assert_eq!(admin.recv().await.kind(), kind::PINGRESP);

    let mut alice = login(&broker, Connect::v311("alice"), "alice").await;
    assert_eq!(
        suback(&mut alice, &[("#", 0)]).await,
        [0x00],
        "granted, filtered"
    );
    let retained = alice.recv_publish().await;
    assert_eq!(retained.topic, "home/r");
    for topic in [
        "garden/b",
        "home/a",
        "users/bob/x",
        "users/alice/x",
        "status/c",
        "status/c/d",
        "home/end",
    ] {
        admin.send(&Publish::new(topic, b"m").bytes()).await;
    }
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("home/end") {
        seen.push(alice.recv_publish().await.topic);
    }
    assert_eq!(seen, ["home/a", "users/alice/x", "status/c", "home/end"]);
    alice.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_id_and_user_patterns() {
    let (broker, _files) = broker(false);
    let mut admin = login(&broker, Connect::v311("admin"), "admin").await;
    assert_eq!(suback(&mut admin, &[("clients/#", 0)]).await, [0x00]);
    let mut phone = login(&broker, Connect::v5("phone"), "alice").await;
    phone
        .send(
            &Publish::new("clients/phone/battery", b"80")
                .qos(1, 1)
                .v5(Props::new())
                .bytes(),
        )
        .await;
    assert_eq!(phone.recv().await.ack_reason(), 0x00);
    phone
        .send(
            &Publish::new("clients/tablet/battery", b"80")
                .qos(1, 2)
                .v5(Props::new())
                .bytes(),
        )
        .await;
    assert_eq!(phone.recv().await.ack_reason(), 0x87);
    assert_eq!(admin.recv_publish().await.topic, "clients/phone/battery");
    admin.expect_silence(QUIET).await;
    // %u: alice reads her own users/ tree only.
    assert_eq!(
        suback(
            &mut phone,
            &[("users/alice/inbox", 0), ("users/+/inbox", 0)]
        )
        .await,
        [0x00, 0x00]
    );
    assert_eq!(suback(&mut phone, &[("users/bob/inbox", 0)]).await, [0x87]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_will_the_acl_denies_is_refused_at_connect() {
    let (broker, _files) = broker(false);
    let connect = Connect::v5("w")
        .will(common::Will::new("garden/gone", b"x", 0))
        .login("alice", b"alice");
    assert_eq!(Raw::connect_any(broker.addr, &connect).await.1.code, 0x87);
    let allowed = Connect::v5("w2")
        .will(common::Will::new("home/gone", b"x", 0))
        .login("alice", b"alice");
    assert_eq!(Raw::connect_any(broker.addr, &allowed).await.1.code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_resumed_by_another_user_is_judged_by_that_user() {
    let (broker, _files) = broker(false);
    let mut admin = login(&broker, Connect::v311("shared").clean(false), "admin").await;
    assert_eq!(
        suback(&mut admin, &[("garden/#", 0), ("home/#", 0)]).await,
        [0x00, 0x00]
    );
    drop(admin);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (mut alice, connack) = Raw::connect(
        broker.addr,
        &Connect::v311("shared")
            .clean(false)
            .login("alice", b"alice"),
    )
    .await;
    assert!(connack.session_present);
    let mut publisher = login(&broker, Connect::v311("pub"), "admin").await;
    publisher
        .send(&Publish::new("garden/x", b"no").bytes())
        .await;
    publisher
        .send(&Publish::new("home/x", b"yes").bytes())
        .await;
    assert_eq!(alice.recv_publish().await.topic, "home/x");
    alice.expect_silence(QUIET).await;
}

mod websocket {
    use rumqttc::{Event, Incoming, MqttOptions, QoS, SubscribeReasonCode, Transport};
    use tokio::time::timeout;

    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn the_acl_applies_over_websocket() {
        let (broker, _files) = broker(true);
        let http = broker.server.as_ref().unwrap().addrs().http[0];
        let mut options = MqttOptions::new("ws-alice", format!("ws://{http}/mqtt"), http.port());
        options.set_transport(Transport::Ws);
        options.set_credentials("alice", "alice");
        let (client, mut events) = rumqttc::AsyncClient::new(options, 16);
        client.subscribe("garden/#", QoS::AtMostOnce).await.unwrap();
        client.subscribe("home/#", QoS::AtMostOnce).await.unwrap();
        client
            .publish("garden/x", QoS::AtMostOnce, false, "no")
            .await
            .unwrap();
        client
            .publish("home/x", QoS::AtMostOnce, false, "yes")
            .await
            .unwrap();
        let mut codes = Vec::new();
        let mut received = Vec::new();
        timeout(common::WAIT, async {
            while received.is_empty() {
                match events.poll().await.unwrap() {
                    Event::Incoming(Incoming::SubAck(ack)) => codes.extend(ack.return_codes),
                    Event::Incoming(Incoming::Publish(p)) => received.push(p.topic),
                    _ => {}
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(
            codes,
            [
                SubscribeReasonCode::Failure,
                SubscribeReasonCode::Success(QoS::AtMostOnce)
            ]
        );
        assert_eq!(received, ["home/x"]);
    }
}
