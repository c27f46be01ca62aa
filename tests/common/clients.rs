//! `rumqttc` clients (3.1.1 and 5.0) driven by a background task, with every
//! wait bounded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::WAIT;

/// Generates the wrapper for one protocol version: both share the same shape.
/// Expects `Event`, `Incoming`, `Outgoing`, `Publish`, `QoS`,
/// `SubscribeReasonCode`, `AsyncClient`, `MqttOptions` and `tune` in scope.
macro_rules! client {
    ($name:ident) => {
        /// A connected `rumqttc` client with its event loop on a background task.
        /// Dropping it aborts the task, which drops the socket without DISCONNECT.
        pub struct $name {
            pub client: AsyncClient,
            feed: mpsc::UnboundedReceiver<Result<Event, String>>,
            stash: VecDeque<Publish>,
            task: JoinHandle<()>,
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.task.abort();
            }
        }

        impl $name {
            /// Default options for a test client: clean session, 5 s keepalive, then `tune`.
            pub fn options(addr: SocketAddr, id: &str) -> MqttOptions {
                let mut options = <MqttOptions>::new(id, addr.ip().to_string(), addr.port());
                options.set_keep_alive(Duration::from_secs(5));
                tune(&mut options);
                options
            }

            /// Connects and waits for a successful CONNACK.
            pub async fn start(options: MqttOptions) -> Self {
                let (client, mut eventloop) = AsyncClient::new(options, 100);
                let (tx, feed) = mpsc::unbounded_channel();
                // Stops at the first error, so rumqttc never reconnects behind the test's back.
                let task = tokio::spawn(async move {
                    loop {
                        let event = eventloop.poll().await.map_err(|e| e.to_string());
                        let failed = event.is_err();
                        if tx.send(event).is_err() || failed {
                            return;
                        }
                    }
                });
                let mut this = Self {
                    client,
                    feed,
                    stash: VecDeque::new(),
                    task,
                };
                this.wait_for("CONNACK", |e| {
                    matches!(e, Event::Incoming(Incoming::ConnAck(_)))
                })
                .await;
                this
            }

            /// Connects a clean-session client with default options.
            pub async fn connect(addr: SocketAddr, id: &str) -> Self {
                Self::start(Self::options(addr, id)).await
            }

            /// Waits for an event matching `want`, keeping publishes that arrive meanwhile.
            async fn wait_for(&mut self, what: &str, want: impl Fn(&Event) -> bool) -> Event {
                let deadline = Instant::now() + WAIT;
                loop {
                    let event = match timeout_at(deadline, self.feed.recv()).await {
                        Err(_) => panic!("timed out waiting for {what}"),
                        Ok(None) => panic!("event loop gone while waiting for {what}"),
                        Ok(Some(Err(e))) => {
                            panic!("connection error while waiting for {what}: {e}")
                        }
                        Ok(Some(Ok(event))) => event,
                    };
                    if want(&event) {
                        return event;
                    }
                    if let Event::Incoming(Incoming::Publish(publish)) = event {
                        self.stash.push_back(publish);
                    }
                }
            }

            /// Waits for the SUBACK of a subscription request already sent.
            pub async fn wait_suback(&mut self) -> Vec<SubscribeReasonCode> {
                match self
                    .wait_for("SUBACK", |e| {
                        matches!(e, Event::Incoming(Incoming::SubAck(_)))
                    })
                    .await
                {
                    Event::Incoming(Incoming::SubAck(ack)) => ack.return_codes,
                    _ => unreachable!(),
                }
            }

            /// Waits until the broker has acknowledged our last QoS 1 or 2 publish.
            /// For QoS 0 it only waits for the write: the broker may not have
            /// routed the message yet, so tests that need ordering publish at QoS 1.
            pub async fn wait_published(&mut self, qos: QoS) {
                match qos {
                    QoS::AtMostOnce => {
                        self.wait_for("PUBLISH sent", |e| {
                            matches!(e, Event::Outgoing(Outgoing::Publish(_)))
                        })
                        .await;
                    }
                    QoS::AtLeastOnce => {
                        self.wait_for("PUBACK", |e| {
                            matches!(e, Event::Incoming(Incoming::PubAck(_)))
                        })
                        .await;
                    }
                    QoS::ExactlyOnce => {
                        self.wait_for("PUBCOMP", |e| {
                            matches!(e, Event::Incoming(Incoming::PubComp(_)))
                        })
                        .await;
                    }
                }
            }

            /// The next PUBLISH received; panics after the usual timeout.
            pub async fn recv(&mut self) -> Publish {
                match self.try_recv(WAIT).await {
                    Some(publish) => publish,
                    None => panic!("no PUBLISH within {WAIT:?}"),
                }
            }

            /// The next PUBLISH within `within`, if any.
            pub async fn try_recv(&mut self, within: Duration) -> Option<Publish> {
                if let Some(publish) = self.stash.pop_front() {
                    return Some(publish);
                }
                let deadline = Instant::now() + within;
                loop {
                    match timeout_at(deadline, self.feed.recv()).await {
                        Err(_) => return None,
                        Ok(None) => panic!("event loop gone while waiting for PUBLISH"),
                        Ok(Some(Err(e))) => {
                            panic!("connection error while waiting for PUBLISH: {e}")
                        }
                        Ok(Some(Ok(Event::Incoming(Incoming::Publish(publish))))) => {
                            return Some(publish);
                        }
                        Ok(Some(Ok(_))) => {}
                    }
                }
            }

            /// Receives `n` publishes.
            pub async fn recv_n(&mut self, n: usize) -> Vec<Publish> {
                let mut out = Vec::with_capacity(n);
                for _ in 0..n {
                    out.push(self.recv().await);
                }
                out
            }

            /// Asserts that no PUBLISH arrives for `quiet`.
            pub async fn expect_nothing(&mut self, quiet: Duration) {
                if let Some(publish) = self.try_recv(quiet).await {
                    panic!("expected no PUBLISH, got {publish:?}");
                }
            }

            /// Sends DISCONNECT and waits until it has been written.
            pub async fn disconnect(mut self) {
                self.client.disconnect().await.unwrap();
                self.wait_for("DISCONNECT sent", |e| {
                    matches!(e, Event::Outgoing(Outgoing::Disconnect))
                })
                .await;
                // Let the event loop finish writing and close the socket.
                let _ = tokio::time::timeout(WAIT, &mut self.task).await;
            }
        }
    };
}

/// rumqttc 3.1.1 client.
pub mod v4 {
    use super::*;
    pub use rumqttc::{
        AsyncClient, Event, Incoming, MqttOptions, Outgoing, Publish, QoS, SubscribeReasonCode,
    };

    client!(V4);

    /// rumqttc's 10 KiB default packet limit is too small for some tests.
    fn tune(options: &mut MqttOptions) {
        options.set_max_packet_size(1 << 20, 1 << 20);
    }

    impl V4 {
        /// Subscribes and returns the SUBACK return codes.
        pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Vec<SubscribeReasonCode> {
            self.client.subscribe(filter, qos).await.unwrap();
            self.wait_suback().await
        }

        /// Publishes and waits for the broker's acknowledgement (or the write, for QoS 0).
        pub async fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: &[u8]) {
            self.client
                .publish(topic, qos, retain, payload.to_vec())
                .await
                .unwrap();
            self.wait_published(qos).await;
        }
    }
}

/// rumqttc 5.0 client.
pub mod v5 {
    use super::*;
    pub use rumqttc::Outgoing;
    pub use rumqttc::v5::mqttbytes::QoS;
    pub use rumqttc::v5::mqttbytes::v5::{
        Filter, Publish, PublishProperties, RetainForwardRule, SubscribeProperties,
        SubscribeReasonCode,
    };
    pub use rumqttc::v5::{AsyncClient, Event, Incoming, MqttOptions};

    client!(V5);

    /// Left as rumqttc has it: a v5 maximum packet size is sent in CONNECT
    /// and changes what the broker does.
    fn tune(_: &mut MqttOptions) {}

    impl V5 {
        /// Subscribes and returns the SUBACK reason codes.
        pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Vec<SubscribeReasonCode> {
            self.client.subscribe(filter, qos).await.unwrap();
            self.wait_suback().await
        }

        /// Subscribes with full options and properties.
        pub async fn subscribe_with(
            &mut self,
            filter: Filter,
            props: Option<SubscribeProperties>,
        ) -> Vec<SubscribeReasonCode> {
            match props {
                Some(props) => self
                    .client
                    .subscribe_many_with_properties([filter], props)
                    .await
                    .unwrap(),
                None => self.client.subscribe_many([filter]).await.unwrap(),
            }
            self.wait_suback().await
        }

        /// Publishes and waits for the broker's acknowledgement (or the write, for QoS 0).
        pub async fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: &[u8]) {
            self.client
                .publish(topic, qos, retain, payload.to_vec())
                .await
                .unwrap();
            self.wait_published(qos).await;
        }

        /// Publishes with properties and waits as [`Self::publish`] does.
        pub async fn publish_with(
            &mut self,
            topic: &str,
            qos: QoS,
            retain: bool,
            payload: &[u8],
            props: PublishProperties,
        ) {
            self.client
                .publish_with_properties(topic, qos, retain, payload.to_vec(), props)
                .await
                .unwrap();
            self.wait_published(qos).await;
        }
    }
}

pub use v4::V4;
pub use v5::V5;
