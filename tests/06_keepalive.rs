//! Keepalive: a client silent for one and a half keepalive periods is closed
//! (MQTT 3.1.1 §3.1.2.10, 5.0 §3.1.2.10); traffic keeps it open.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::wire::{PINGREQ, PINGRESP};
use common::{Broker, Connect, Raw, assert_between};

#[tokio::test(flavor = "multi_thread")]
async fn silent_client_is_closed_after_one_and_a_half_keepalives() {
    let broker = Broker::with(|s| s.limits.max_keepalive = 1);
    let (mut v311, _) = Raw::connect(broker.addr, &Connect::v311("mute").keep_alive(1)).await;
    let (mut v5, _) = Raw::connect(broker.addr, &Connect::v5("mute-5").keep_alive(1)).await;
    // Asks for 60 s, is told 1 s (Server Keep Alive), and held to it.
    let (mut told, connack) =
        Raw::connect(broker.addr, &Connect::v5("mute-told").keep_alive(60)).await;
    assert_eq!(connack.props.num(common::prop::SERVER_KEEP_ALIVE), Some(1));
    let connected = Instant::now();

    let (v311_closed, v5_closed, told_closed) = tokio::join!(
        async {
            v311.expect_closed_silently().await;
            connected.elapsed()
        },
        async {
            v5.expect_disconnect(0x8D).await;
            connected.elapsed()
        },
        async {
            told.expect_disconnect(0x8D).await;
            connected.elapsed()
        }
    );
    for (what, elapsed) in [
        ("3.1.1", v311_closed),
        ("5.0", v5_closed),
        ("5.0 server keep alive", told_closed),
    ] {
        assert_between(
            &format!("{what} keepalive 1 s close"),
            elapsed,
            Duration::from_millis(1400),
            Duration::from_millis(2500),
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pings_keep_the_connection_open() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("chatty").keep_alive(1)).await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2600) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        raw.send(&PINGREQ).await;
        raw.expect_bytes(&PINGRESP).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keepalive_0_means_no_timeout() {
    let broker = Broker::start();
    let (mut raw, _) = Raw::connect(broker.addr, &Connect::v311("forever").keep_alive(0)).await;
    raw.expect_silence(Duration::from_millis(2000)).await;
    raw.send(&PINGREQ).await;
    raw.expect_bytes(&PINGRESP).await;
}
