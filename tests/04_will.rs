//! Will messages: published when a connection ends abnormally (socket drop,
//! keepalive expiry, DISCONNECT 0x04), not after a normal DISCONNECT; MQTT 5
//! will delay, cancelled by reconnecting within it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::wire::{self, DISCONNECT};
use common::{Broker, Connect, Props, Raw, V4, Will, assert_between, prop};
use rumqttc::QoS;

async fn watcher(broker: &Broker, filter: &str) -> V4 {
    let mut watcher = V4::connect(broker.addr, &format!("watch-{filter}")).await;
    watcher.subscribe(filter, QoS::AtLeastOnce).await;
    watcher
}

#[tokio::test(flavor = "multi_thread")]
async fn will_is_published_when_the_socket_drops() {
    let broker = Broker::start();
    let mut watch = watcher(&broker, "will/drop").await;
    let connect = Connect::v311("dropper").will(Will::new("will/drop", b"gone", 1));
    let (raw, _) = Raw::connect(broker.addr, &connect).await;
    watch.expect_nothing(Duration::from_millis(100)).await;
    drop(raw);
    let will = watch.recv().await;
    assert_eq!(
        (will.topic.as_str(), &will.payload[..], will.qos),
        ("will/drop", &b"gone"[..], QoS::AtLeastOnce)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn will_retain_flag_makes_it_retained() {
    let broker = Broker::start();
    let mut will = Will::new("will/kept", b"last words", 0);
    will.retain = true;
    let (raw, _) = Raw::connect(broker.addr, &Connect::v311("keeper").will(will)).await;
    drop(raw);
    // Give the broker a moment to see the close, then subscribe afterwards.
    let mut later = V4::connect(broker.addr, "later").await;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        later.subscribe("will/kept", QoS::AtMostOnce).await;
        if let Some(msg) = later.try_recv(Duration::from_millis(200)).await {
            assert_eq!((&msg.payload[..], msg.retain), (&b"last words"[..], true));
            return;
        }
        assert!(Instant::now() < deadline, "retained will never appeared");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_will_after_a_normal_disconnect() {
    let broker = Broker::start();
    let mut watch = watcher(&broker, "will/clean").await;
    for connect in [
        Connect::v311("polite").will(Will::new("will/clean", b"no", 1)),
        Connect::v5("polite-5").will(Will::new("will/clean", b"no", 1)),
    ] {
        let (mut raw, _) = Raw::connect(broker.addr, &connect).await;
        raw.send(&DISCONNECT).await;
        raw.expect_closed_silently().await;
    }
    watch.expect_nothing(Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_disconnect_with_will_message_publishes_the_will() {
    let broker = Broker::start();
    let mut watch = watcher(&broker, "will/asked").await;
    let connect = Connect::v5("asker").will(Will::new("will/asked", b"please", 0));
    let (mut raw, _) = Raw::connect(broker.addr, &connect).await;
    raw.send(&wire::frame(0xE0, &[0x04])).await;
    raw.expect_closed_silently().await;
    assert_eq!(&watch.recv().await.payload[..], b"please");
}

#[tokio::test(flavor = "multi_thread")]
async fn will_is_published_when_keepalive_expires() {
    let broker = Broker::start();
    let mut watch = watcher(&broker, "will/idle").await;
    let connect =
        Connect::v311("idler")
            .keep_alive(1)
            .will(Will::new("will/idle", b"timed out", 1));
    let started = Instant::now();
    let (_raw, _) = Raw::connect(broker.addr, &connect).await;
    let will = watch.recv().await;
    assert_eq!(&will.payload[..], b"timed out");
    assert_between(
        "will after a 1 s keepalive expired",
        started.elapsed(),
        Duration::from_millis(1400),
        Duration::from_millis(3000),
    );
}

fn delayed(id: &str, topic: &str, delay: u32) -> Connect {
    let mut will = Will::new(topic, b"late", 1);
    will.props = Props::new().four(prop::WILL_DELAY, delay);
    Connect::v5(id)
        .clean(false)
        .props(Props::new().four(prop::SESSION_EXPIRY, 60))
        .will(will)
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_will_delay_holds_the_will_back() {
    let broker = Broker::start();
    let mut watch = watcher(&broker, "will/delay").await;
    let (raw, _) = Raw::connect(broker.addr, &delayed("slow", "will/delay", 2)).await;
    drop(raw);
    let dropped = Instant::now();
    let will = watch.recv().await;
    assert_eq!(&will.payload[..], b"late");
    assert_between(
        "will with a 2 s delay",
        dropped.elapsed(),
        Duration::from_millis(1900),
        Duration::from_millis(4000),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_reconnecting_within_the_will_delay_cancels_the_will() {
    let broker = Broker::start();
    let mut watch = watcher(&broker, "will/back").await;
    let (raw, _) = Raw::connect(broker.addr, &delayed("back", "will/back", 2)).await;
    drop(raw);
    let dropped = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut again, connack) = Raw::connect(
        broker.addr,
        &Connect::v5("back")
            .clean(false)
            .props(Props::new().four(prop::SESSION_EXPIRY, 60)),
    )
    .await;
    assert!(connack.session_present);
    // The will would have fired between 2 and 3 s after the drop.
    watch
        .expect_nothing(Duration::from_millis(3200).saturating_sub(dropped.elapsed()))
        .await;
    again.send(&DISCONNECT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_will_is_published_when_the_connection_is_taken_over() {
    let broker = Broker::start();
    let mut watch = watcher(&broker, "will/taken").await;
    let connect = Connect::v5("taken").will(Will::new("will/taken", b"replaced", 0));
    let (mut first, _) = Raw::connect(broker.addr, &connect).await;
    let (_second, _) = Raw::connect(broker.addr, &Connect::v5("taken")).await;
    first.expect_disconnect(0x8E).await;
    assert_eq!(&watch.recv().await.payload[..], b"replaced");
}

/// The will of a connection that ended with DISCONNECT must not be published
/// even when the client reconnects the moment it sees the close.
#[tokio::test(flavor = "multi_thread")]
async fn no_will_after_disconnect_even_when_reconnecting_at_once() {
    let broker = Broker::start();
    let mut watch = watcher(&broker, "will/quick").await;
    for i in 0..200 {
        let id = format!("quick-will-{i}");
        let connect = Connect::v311(&id).will(Will::new("will/quick", id.as_bytes(), 0));
        let (mut old, _) = Raw::connect(broker.addr, &connect).await;
        let mut new = Raw::open(broker.addr).await;
        old.send(&DISCONNECT).await;
        old.expect_closed().await;
        new.send(&Connect::v311(&id).bytes()).await;
        new.recv().await;
    }
    let mut spurious = Vec::new();
    while let Some(will) = watch.try_recv(Duration::from_millis(300)).await {
        spurious.push(String::from_utf8_lossy(&will.payload).into_owned());
    }
    assert!(
        spurious.is_empty(),
        "{} of 200 wills published after a normal DISCONNECT, e.g. {:?}",
        spurious.len(),
        &spurious[..spurious.len().min(5)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_will_properties_are_forwarded() {
    use common::clients::v5::QoS as QoS5;
    let broker = Broker::start();
    let mut watch = common::V5::connect(broker.addr, "will-props-watch").await;
    watch.subscribe("will/props", QoS5::AtLeastOnce).await;
    let mut will = Will::new("will/props", b"{\"state\":\"offline\"}", 1);
    will.props =
        Props::new()
            .string(0x03, "application/json")
            .pair(prop::USER_PROPERTY, "site", "attic");
    let (raw, _) = Raw::connect(broker.addr, &Connect::v5("will-props").will(will)).await;
    drop(raw);
    let got = watch.recv().await;
    assert_eq!(&got.payload[..], b"{\"state\":\"offline\"}");
    let props = got.properties.expect("will properties");
    assert_eq!(props.content_type.as_deref(), Some("application/json"));
    assert_eq!(props.user_properties, [("site".into(), "attic".into())]);
}

/// The will goes out when the session ends, if that comes before the delay.
#[tokio::test(flavor = "multi_thread")]
async fn v5_will_is_published_when_the_session_ends_before_the_delay() {
    let broker = Broker::start();
    let mut watch = watcher(&broker, "will/ends").await;
    let mut will = Will::new("will/ends", b"session over", 1);
    will.props = Props::new().four(prop::WILL_DELAY, 30);
    let connect = Connect::v5("short-lived")
        .clean(false)
        .props(Props::new().four(prop::SESSION_EXPIRY, 1))
        .will(will);
    let (raw, _) = Raw::connect(broker.addr, &connect).await;
    drop(raw);
    let dropped = Instant::now();
    assert_eq!(&watch.recv().await.payload[..], b"session over");
    assert_between(
        "will of a 1 s session with a 30 s will delay",
        dropped.elapsed(),
        Duration::from_millis(900),
        Duration::from_millis(3000),
    );
}
