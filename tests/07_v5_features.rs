//! MQTT 5 features: reason codes, forwarded properties, topic aliases both
//! ways, receive maximum both ways, maximum packet size, message expiry,
//! subscription identifiers, no local, shared subscriptions, server keep
//! alive, request/response information.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::clients::v5::{Filter, PublishProperties, QoS, RetainForwardRule};
use common::wire::{self, DISCONNECT, PropValue, kind};
use common::{Broker, Connect, Props, Publish, QUIET, Raw, V5, prop};

fn v5_publish(topic: &str, payload: &[u8]) -> Publish {
    Publish::new(topic, payload).v5(Props::new())
}

async fn raw_subscriber(broker: &Broker, connect: Connect, filters: &[(&str, u8)]) -> Raw {
    let (mut raw, _) = Raw::connect(broker.addr, &connect).await;
    raw.send(&wire::subscribe_v5(1, Props::new(), filters))
        .await;
    let reasons = raw.recv().await.sub_reasons(true);
    assert!(reasons.iter().all(|r| *r < 0x80), "{reasons:02x?}");
    raw
}

#[tokio::test(flavor = "multi_thread")]
async fn reason_codes_in_acknowledgements() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v5("reasons")).await;

    raw.send(&wire::subscribe_v5(
        1,
        Props::new(),
        &[("rc/0", 0), ("rc/1", 1), ("rc/2", 2), ("rc/#/bad", 0)],
    ))
    .await;
    assert_eq!(raw.recv().await.sub_reasons(true), [0x00, 0x01, 0x02, 0x8F]);

    raw.send(&wire::unsubscribe(2, true, &["rc/1", "rc/never"]))
        .await;
    let unsuback = raw.recv().await;
    assert_eq!(unsuback.kind(), kind::UNSUBACK);
    assert_eq!(unsuback.sub_reasons(true), [0x00, 0x11]);

    // Payload format indicator 1 promises UTF-8: 0x99 when it is not.
    let bad = Publish::new("rc/0", &[0xFF, 0xFE])
        .qos(1, 3)
        .v5(Props::new().byte(prop::PAYLOAD_FORMAT, 1));
    raw.send(&bad.bytes()).await;
    let puback = raw.recv().await;
    assert_eq!((puback.kind(), puback.packet_id()), (kind::PUBACK, 3));
    assert_eq!(puback.ack_reason(), 0x99, "{puback:?}");

    // PUBREL for an unknown packet id: PUBCOMP 0x92.
    raw.send(&wire::pubrel(77)).await;
    let pubcomp = raw.recv().await;
    assert_eq!((pubcomp.kind(), pubcomp.packet_id()), (kind::PUBCOMP, 77));
    assert_eq!(pubcomp.ack_reason(), 0x92, "{pubcomp:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn application_properties_are_forwarded() {
    let broker = Broker::start();
    let mut sub = V5::connect(broker.addr, "props-sub").await;
    sub.subscribe("props/t", QoS::AtLeastOnce).await;
    let mut publisher = V5::connect(broker.addr, "props-pub").await;
    let sent = PublishProperties {
        payload_format_indicator: Some(1),
        content_type: Some("application/json".into()),
        response_topic: Some("props/reply".into()),
        correlation_data: Some(Bytes::from_static(b"\x00corr\xff")),
        user_properties: vec![
            ("k".into(), "v1".into()),
            ("k".into(), "v2".into()),
            ("other".into(), "x".into()),
        ],
        ..Default::default()
    };
    publisher
        .publish_with(
            "props/t",
            QoS::AtLeastOnce,
            false,
            b"{\"a\":1}",
            sent.clone(),
        )
        .await;
    let got = sub.recv().await;
    let props = got.properties.expect("properties forwarded");
    assert_eq!(
        props.payload_format_indicator,
        sent.payload_format_indicator
    );
    assert_eq!(props.content_type, sent.content_type);
    assert_eq!(props.response_topic, sent.response_topic);
    assert_eq!(props.correlation_data, sent.correlation_data);
    assert_eq!(
        props.user_properties, sent.user_properties,
        "user properties in order, duplicates kept"
    );
    assert_eq!(props.topic_alias, None);
    assert_eq!(props.message_expiry_interval, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_alias_from_the_client_is_set_then_used() {
    let broker = Broker::start();
    let mut sub = raw_subscriber(&broker, Connect::v5("alias-sub"), &[("alias/#", 0)]).await;
    let (mut publisher, connack) = Raw::connect(broker.addr, &Connect::v5("alias-pub")).await;
    assert!(connack.props.num(prop::TOPIC_ALIAS_MAXIMUM).unwrap_or(0) >= 1);

    let alias = |n: u16| Props::new().two(prop::TOPIC_ALIAS, n);
    publisher
        .send(&Publish::new("alias/one", b"a").v5(alias(1)).bytes())
        .await;
    publisher
        .send(&Publish::new("", b"b").v5(alias(1)).bytes())
        .await;
    // Remapping the alias to another topic.
    publisher
        .send(&Publish::new("alias/two", b"c").v5(alias(1)).bytes())
        .await;
    publisher
        .send(&Publish::new("", b"d").v5(alias(1)).bytes())
        .await;

    let mut got = Vec::new();
    for _ in 0..4 {
        let p = sub.recv_publish().await;
        assert_eq!(p.props.get(prop::TOPIC_ALIAS), None, "not forwarded");
        got.push((p.topic, p.payload));
    }
    assert_eq!(
        got,
        [
            ("alias/one".to_string(), b"a".to_vec()),
            ("alias/one".to_string(), b"b".to_vec()),
            ("alias/two".to_string(), b"c".to_vec()),
            ("alias/two".to_string(), b"d".to_vec()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_alias_0_or_above_the_maximum_is_disconnect_0x94() {
    let broker = Broker::start();
    let (mut zero, connack) = Raw::connect(broker.addr, &Connect::v5("alias-0")).await;
    let max = u16::try_from(connack.props.num(prop::TOPIC_ALIAS_MAXIMUM).unwrap()).unwrap();
    zero.send(
        &Publish::new("t", b"x")
            .v5(Props::new().two(prop::TOPIC_ALIAS, 0))
            .bytes(),
    )
    .await;
    zero.expect_disconnect(0x94).await;

    let (mut above, _) = Raw::connect(broker.addr, &Connect::v5("alias-max")).await;
    above
        .send(
            &Publish::new("t", b"x")
                .v5(Props::new().two(prop::TOPIC_ALIAS, max + 1))
                .bytes(),
        )
        .await;
    above.expect_disconnect(0x94).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_assigns_topic_aliases_when_the_client_allows_them() {
    let broker = Broker::start();
    let connect = Connect::v5("alias-in").props(Props::new().two(prop::TOPIC_ALIAS_MAXIMUM, 5));
    let mut sub = raw_subscriber(&broker, connect, &[("assigned/t", 0)]).await;
    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v5("alias-out")).await;
    for payload in [b"1", b"2", b"3"] {
        publisher
            .send(&v5_publish("assigned/t", payload).bytes())
            .await;
    }
    let first = sub.recv_publish().await;
    assert_eq!(first.topic, "assigned/t");
    let alias = first
        .props
        .num(prop::TOPIC_ALIAS)
        .expect("the first message sets up an alias");
    assert!((1..=5).contains(&alias), "alias {alias} within our maximum");
    for payload in [b"2", b"3"] {
        let next = sub.recv_publish().await;
        assert_eq!(next.topic, "", "topic replaced by the alias");
        assert_eq!(next.props.num(prop::TOPIC_ALIAS), Some(alias));
        assert_eq!(next.payload, payload);
    }

    // A client that did not allow aliases never gets one.
    let mut plain = raw_subscriber(&broker, Connect::v5("no-alias"), &[("assigned/t", 0)]).await;
    for _ in 0..2 {
        publisher
            .send(&v5_publish("assigned/t", b"p").bytes())
            .await;
    }
    for _ in 0..2 {
        let p = plain.recv_publish().await;
        assert_eq!(p.topic, "assigned/t");
        assert_eq!(p.props.get(prop::TOPIC_ALIAS), None);
    }
}

/// A message discarded because it exceeds the client's maximum packet size
/// must not use up a topic alias: the client never learnt it.
#[tokio::test(flavor = "multi_thread")]
async fn broker_alias_is_not_spent_on_a_message_too_large_for_the_client() {
    let broker = Broker::start();
    let connect = Connect::v5("alias-small").props(
        Props::new()
            .two(prop::TOPIC_ALIAS_MAXIMUM, 5)
            .four(prop::MAXIMUM_PACKET_SIZE, 64),
    );
    let mut sub = raw_subscriber(&broker, connect, &[("alias-big/t", 0)]).await;
    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v5("alias-big-pub")).await;
    publisher
        .send(&v5_publish("alias-big/t", &[b'x'; 200]).bytes())
        .await;
    publisher
        .send(&v5_publish("alias-big/t", b"small").bytes())
        .await;
    let p = sub.recv_publish().await;
    assert_eq!(p.payload, b"small");
    assert_eq!(
        p.topic,
        "alias-big/t",
        "the first message the client sees on a topic must carry the topic name \
         (alias {:?} was never set up at the client)",
        p.props.num(prop::TOPIC_ALIAS)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn topic_aliases_turned_off_in_settings() {
    let broker = Broker::with(|s| s.mqtt.max_topic_alias = 0);
    let connect = Connect::v5("alias-off").props(Props::new().two(prop::TOPIC_ALIAS_MAXIMUM, 5));
    let mut sub = raw_subscriber(&broker, connect, &[("off/t", 0)]).await;
    let (mut publisher, connack) = Raw::connect(broker.addr, &Connect::v5("alias-off-pub")).await;
    assert_eq!(connack.props.num(prop::TOPIC_ALIAS_MAXIMUM).unwrap_or(0), 0);
    for _ in 0..2 {
        publisher.send(&v5_publish("off/t", b"x").bytes()).await;
    }
    for _ in 0..2 {
        let p = sub.recv_publish().await;
        assert_eq!(
            (p.topic.as_str(), p.props.get(prop::TOPIC_ALIAS)),
            ("off/t", None)
        );
    }
    publisher
        .send(
            &Publish::new("off/t", b"x")
                .v5(Props::new().two(prop::TOPIC_ALIAS, 1))
                .bytes(),
        )
        .await;
    publisher.expect_disconnect(0x94).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exceeding_the_server_receive_maximum_is_disconnect_0x93() {
    let broker = Broker::with(|s| s.limits.max_inflight = 2);
    let (mut raw, connack) = Raw::connect(broker.addr, &Connect::v5("greedy")).await;
    assert_eq!(connack.props.num(prop::RECEIVE_MAXIMUM), Some(2));
    for id in 1..=2 {
        raw.send(&v5_publish("rm/t", b"x").qos(2, id).bytes()).await;
        let pubrec = raw.recv().await;
        assert_eq!((pubrec.kind(), pubrec.packet_id()), (kind::PUBREC, id));
    }
    raw.send(&v5_publish("rm/t", b"x").qos(2, 3).bytes()).await;
    raw.expect_disconnect(0x93).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_receive_maximum_counts_only_unreleased_messages() {
    let broker = Broker::with(|s| s.limits.max_inflight = 2);
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v5("steady")).await;
    for id in 1..=5 {
        raw.send(&v5_publish("rm/t", b"x").qos(2, id).bytes()).await;
        assert_eq!(raw.recv().await.kind(), kind::PUBREC);
        raw.send(&wire::pubrel(id)).await;
        assert_eq!(raw.recv().await.kind(), kind::PUBCOMP);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn client_receive_maximum_limits_unacknowledged_messages() {
    let broker = Broker::start();
    let connect = Connect::v5("one-at-a-time").props(Props::new().two(prop::RECEIVE_MAXIMUM, 1));
    let mut sub = raw_subscriber(&broker, connect, &[("crm/t", 1)]).await;
    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v5("crm-pub")).await;
    for id in 1..=3u16 {
        publisher
            .send(&v5_publish("crm/t", &[b'0' + id as u8]).qos(1, id).bytes())
            .await;
        assert_eq!(publisher.recv().await.kind(), kind::PUBACK);
    }
    for expected in [b"1", b"2", b"3"] {
        let p = sub.recv_publish().await;
        assert_eq!(p.payload, expected);
        sub.expect_silence(QUIET).await;
        sub.send(&wire::puback(p.packet_id.unwrap())).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn client_maximum_packet_size_is_respected() {
    let broker = Broker::start();
    let connect = Connect::v5("small").props(Props::new().four(prop::MAXIMUM_PACKET_SIZE, 64));
    let mut sub = raw_subscriber(&broker, connect, &[("mps/t", 1)]).await;
    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v5("mps-pub")).await;
    let big = [b'x'; 200];
    for (id, payload) in [(1, &b"before"[..]), (2, &big[..]), (3, &b"after"[..])] {
        publisher
            .send(&v5_publish("mps/t", payload).qos(1, id).bytes())
            .await;
        assert_eq!(publisher.recv().await.kind(), kind::PUBACK);
    }
    let first = sub.recv_publish_and_ack().await;
    let second = sub.recv_publish_and_ack().await;
    assert_eq!(
        (first.payload.as_slice(), second.payload.as_slice()),
        (&b"before"[..], &b"after"[..]),
        "the 200-byte message is not sent to a client accepting 64"
    );
    sub.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn message_expiry_drops_stale_messages_and_counts_down() {
    let broker = Broker::start();
    let persistent = || {
        Connect::v5("expiring")
            .clean(false)
            .props(Props::new().four(prop::SESSION_EXPIRY, 60))
    };
    let mut online = raw_subscriber(&broker, Connect::v5("exp-online"), &[("exp/t", 1)]).await;
    let mut sub = raw_subscriber(&broker, persistent(), &[("exp/t", 1)]).await;
    sub.send(&DISCONNECT).await;
    sub.expect_closed().await;

    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v5("exp-pub")).await;
    let with_expiry = |payload: &[u8], id: u16, seconds: u32| {
        Publish::new("exp/t", payload)
            .qos(1, id)
            .v5(Props::new().four(prop::MESSAGE_EXPIRY, seconds))
            .bytes()
    };
    publisher.send(&with_expiry(b"short", 1, 1)).await;
    publisher.send(&with_expiry(b"long", 2, 60)).await;
    for _ in 0..2 {
        assert_eq!(publisher.recv().await.kind(), kind::PUBACK);
    }
    // Retained messages expire too.
    let retained = |topic: &str, seconds: u32| {
        Publish::new(topic, b"kept")
            .retain()
            .v5(Props::new().four(prop::MESSAGE_EXPIRY, seconds))
            .bytes()
    };
    publisher.send(&retained("expr/short", 1)).await;
    publisher.send(&retained("expr/long", 60)).await;

    // An online subscriber gets both at once, with the interval nearly intact.
    for (payload, seconds) in [(&b"short"[..], 1), (&b"long"[..], 60)] {
        let p = online.recv_publish_and_ack().await;
        assert_eq!(p.payload, payload);
        let left = p.props.num(prop::MESSAGE_EXPIRY).unwrap();
        assert!(
            left <= seconds && left + 1 >= seconds,
            "{left} of {seconds}"
        );
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    let (mut sub, connack) = Raw::connect(broker.addr, &persistent()).await;
    assert!(connack.session_present);
    let p = sub.recv_publish_and_ack().await;
    assert_eq!(p.payload, b"long", "the 1 s message expired while offline");
    let left = p.props.num(prop::MESSAGE_EXPIRY).unwrap();
    assert!(
        (55..=58).contains(&left),
        "remaining interval counted down by the 2 s spent queued: {left}"
    );
    sub.expect_silence(QUIET).await;

    let mut late = raw_subscriber(&broker, Connect::v5("exp-late"), &[("expr/+", 0)]).await;
    let r = late.recv_publish().await;
    assert_eq!(r.topic, "expr/long", "the 1 s retained message expired");
    let left = r.props.num(prop::MESSAGE_EXPIRY).unwrap();
    assert!(
        (55..=58).contains(&left),
        "retained interval counted down: {left}"
    );
    late.expect_silence(QUIET).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscription_identifiers_are_forwarded() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v5("subid")).await;
    sub.send(&wire::subscribe_v5(
        1,
        Props::new().var(prop::SUBSCRIPTION_ID, 7),
        &[("sid/+", 0)],
    ))
    .await;
    assert_eq!(sub.recv().await.sub_reasons(true), [0]);
    sub.send(&wire::subscribe_v5(
        2,
        Props::new().var(prop::SUBSCRIPTION_ID, 300),
        &[("sid/#", 0)],
    ))
    .await;
    assert_eq!(sub.recv().await.sub_reasons(true), [0]);

    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v5("subid-pub")).await;
    publisher.send(&v5_publish("sid/a", b"both").bytes()).await;
    publisher.send(&v5_publish("sid/a/b", b"one").bytes()).await;

    let both = sub.recv_publish().await;
    let mut ids: Vec<_> = both.props.all(prop::SUBSCRIPTION_ID);
    ids.sort_by_key(|v| format!("{v:?}"));
    assert_eq!(ids, [&PropValue::Var(300), &PropValue::Var(7)]);
    let one = sub.recv_publish().await;
    assert_eq!(one.props.all(prop::SUBSCRIPTION_ID), [&PropValue::Var(300)]);
    assert_eq!(one.payload, b"one");
    sub.expect_silence(QUIET).await;

    // Retained messages sent at subscribe time carry the identifier too.
    publisher
        .send(&v5_publish("sidr/t", b"r").retain().bytes())
        .await;
    publisher.send(&wire::PINGREQ).await;
    assert_eq!(publisher.recv().await.kind(), kind::PINGRESP);
    sub.send(&wire::subscribe_v5(
        3,
        Props::new().var(prop::SUBSCRIPTION_ID, 42),
        &[("sidr/t", 0)],
    ))
    .await;
    assert_eq!(sub.recv().await.sub_reasons(true), [0]);
    let r = sub.recv_publish().await;
    assert!(r.retain);
    assert_eq!(r.props.all(prop::SUBSCRIPTION_ID), [&PropValue::Var(42)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_local_subscription_skips_own_messages() {
    let broker = Broker::start();
    let mut me = V5::connect(broker.addr, "narcissus").await;
    let filter = Filter {
        path: "nl/t".into(),
        qos: QoS::AtLeastOnce,
        nolocal: true,
        preserve_retain: false,
        retain_forward_rule: RetainForwardRule::OnEverySubscribe,
    };
    me.subscribe_with(filter, None).await;
    me.publish("nl/t", QoS::AtLeastOnce, false, b"mine").await;
    me.expect_nothing(QUIET).await;
    let mut other = V5::connect(broker.addr, "echo").await;
    other
        .publish("nl/t", QoS::AtLeastOnce, false, b"theirs")
        .await;
    assert_eq!(&me.recv().await.payload[..], b"theirs");
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_subscription_gives_each_message_to_exactly_one_member() {
    let broker = Broker::start();
    let mut a = V5::connect(broker.addr, "member-a").await;
    let mut b = V5::connect(broker.addr, "member-b").await;
    let mut everyone = V5::connect(broker.addr, "not-shared").await;
    a.subscribe("$share/g/shared/t", QoS::AtLeastOnce).await;
    b.subscribe("$share/g/shared/t", QoS::AtLeastOnce).await;
    everyone.subscribe("shared/t", QoS::AtLeastOnce).await;

    let mut publisher = V5::connect(broker.addr, "shared-pub").await;
    for i in 0..10u8 {
        publisher
            .publish("shared/t", QoS::AtLeastOnce, false, &[i])
            .await;
    }
    assert_eq!(everyone.recv_n(10).await.len(), 10);

    let mut got_a = Vec::new();
    while let Some(p) = a.try_recv(QUIET).await {
        assert_eq!(&p.topic[..], b"shared/t");
        got_a.push(p.payload[0]);
    }
    let mut got_b = Vec::new();
    while let Some(p) = b.try_recv(QUIET).await {
        got_b.push(p.payload[0]);
    }
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "both members get a share: {got_a:?} / {got_b:?}"
    );
    let mut all: Vec<u8> = got_a.iter().chain(&got_b).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..10).collect::<Vec<u8>>(),
        "each message exactly once"
    );
}

/// MQTT 5.0 §4.8.2: a message matching both a non-shared subscription and a
/// shared one is delivered once for each, even when the shared copy goes to
/// the same client.
#[tokio::test(flavor = "multi_thread")]
async fn shared_and_non_shared_subscriptions_each_get_a_copy() {
    let broker = Broker::start();
    let (mut sub, _) = Raw::connect(broker.addr, &Connect::v5("dual")).await;
    sub.send(&wire::subscribe_v5(
        1,
        Props::new(),
        &[("dual/t", 0), ("$share/solo/dual/t", 0)],
    ))
    .await;
    assert_eq!(sub.recv().await.sub_reasons(true), [0, 0]);
    let (mut publisher, _) = Raw::connect(broker.addr, &Connect::v5("dual-pub")).await;
    publisher.send(&v5_publish("dual/t", b"x").bytes()).await;
    assert_eq!(sub.recv_publish().await.payload, b"x");
    let second = sub.try_recv(QUIET).await;
    assert!(
        second.is_ok(),
        "only one copy: the shared group's copy was merged into the non-shared one"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_group_member_leaving_leaves_all_messages_to_the_others() {
    let broker = Broker::start();
    let mut a = V5::connect(broker.addr, "stay").await;
    let mut b = V5::connect(broker.addr, "leave").await;
    a.subscribe("$share/g2/leave/t", QoS::AtLeastOnce).await;
    b.subscribe("$share/g2/leave/t", QoS::AtLeastOnce).await;
    b.disconnect().await;
    let mut publisher = V5::connect(broker.addr, "leave-pub").await;
    for i in 0..4u8 {
        publisher
            .publish("leave/t", QoS::AtLeastOnce, false, &[i])
            .await;
    }
    let got: Vec<u8> = a.recv_n(4).await.iter().map(|p| p.payload[0]).collect();
    assert_eq!(got, [0, 1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v5("nl-shared")).await;
    raw.send(&wire::subscribe_v5(
        1,
        Props::new(),
        &[("$share/g/t", 0x04)],
    ))
    .await;
    raw.expect_disconnect(0x82).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_keep_alive_caps_the_client_keepalive() {
    let broker = Broker::with(|s| s.limits.max_keepalive = 5);
    let (_asks_60, connack) = Raw::connect(broker.addr, &Connect::v5("ka-60").keep_alive(60)).await;
    assert_eq!(connack.props.num(prop::SERVER_KEEP_ALIVE), Some(5));
    let (_asks_0, connack) = Raw::connect(broker.addr, &Connect::v5("ka-0").keep_alive(0)).await;
    assert_eq!(connack.props.num(prop::SERVER_KEEP_ALIVE), Some(5));
    let (_asks_3, connack) = Raw::connect(broker.addr, &Connect::v5("ka-3").keep_alive(3)).await;
    assert_eq!(connack.props.get(prop::SERVER_KEEP_ALIVE), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_response_and_problem_information_are_accepted() {
    let broker = Broker::start();
    let connect = Connect::v5("requester").props(
        Props::new()
            .byte(prop::REQUEST_RESPONSE_INFO, 1)
            .byte(0x17, 0),
    );
    let (mut raw, connack) = Raw::connect(broker.addr, &connect).await;
    assert_eq!(connack.code, 0);
    raw.send(&wire::PINGREQ).await;
    raw.expect_bytes(&wire::PINGRESP).await;

    // And through rumqttc.
    let mut options = V5::options(broker.addr, "requester-lib");
    options.set_request_response_info(Some(1));
    let _lib = V5::start(options).await;
}
