//! Shutdown: `Server::shutdown` returns promptly with clients connected; MQTT 5
//! clients are told why (DISCONNECT 0x8B), everyone is closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Broker, Connect, Raw, V4, V5};

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_closes_every_client_and_returns_promptly() {
    let mut broker = Broker::start();
    let (mut v5, _) = Raw::connect(broker.addr, &Connect::v5("down-5")).await;
    let (mut v311, _) = Raw::connect(broker.addr, &Connect::v311("down-311")).await;
    let mut unconnected = Raw::open(broker.addr).await;
    let _lib4 = V4::connect(broker.addr, "down-lib-4").await;
    let _lib5 = V5::connect(broker.addr, "down-lib-5").await;

    let server = broker.take();
    let started = Instant::now();
    let stopped = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::task::spawn_blocking(move || server.shutdown()),
    )
    .await
    .expect("shutdown did not return within 5 s")
    .unwrap();
    stopped.expect("shutdown failed");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );

    v5.expect_disconnect(0x8B).await;
    v311.expect_closed_silently().await;
    unconnected.expect_closed_silently().await;

    // Nobody listens any more.
    let refused = tokio::net::TcpStream::connect(broker.addr).await;
    assert!(refused.is_err(), "listener still accepting after shutdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_with_no_clients_is_quick() {
    let mut broker = Broker::start();
    let server = broker.take();
    let started = Instant::now();
    tokio::task::spawn_blocking(move || server.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}
