//! Shared by the integration tests: start wren in-process on port 0 and talk to
//! it through independent clients.
//!
//! - `wire`: MQTT packets built and parsed by hand from the specification
//! - `raw`: a raw-bytes TCP client with bounded waits
//! - `clients`: `rumqttc` 3.1.1 and 5.0 clients on a background task
//! - `sn`: MQTT-SN datagrams built and parsed by hand, and a UDP node
//! - `radio`: radio modems played over pty pairs, with a node behind each
//!
//! Each test binary uses a different subset of these helpers.
#![allow(dead_code, unused_imports)]

pub mod clients;
pub mod radio;
pub mod raw;
pub mod sn;
pub mod wire;

use std::net::SocketAddr;
use std::time::Duration;

pub use clients::{V4, V5};
pub use raw::{NoPacket, Raw};
pub use wire::{Connect, Props, Publish, Will, hex, prop};
use wren::app::Server;
use wren::settings::Settings;

/// The longest any single wait in a test may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// How long "nothing else arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(300);

/// Settings listening on ephemeral local ports (MQTT on TCP, MQTT-SN on UDP),
/// otherwise the embedded defaults; the HTTP listener (on by default at
/// 0.0.0.0:8080, which parallel tests would fight over) is off.
pub fn settings() -> Settings {
    Settings::from_toml(
        "[mqtt]\ntcp = \"127.0.0.1:0\"\n[http]\nlisten = []\n[mqttsn]\nudp = \"127.0.0.1:0\"\n",
    )
    .unwrap()
}

/// A running wren and the address of its MQTT listener. Stops on drop.
pub struct Broker {
    pub server: Option<Server>,
    pub addr: SocketAddr,
}

impl Broker {
    /// Starts wren with default settings.
    pub fn start() -> Self {
        Self::with(|_| {})
    }

    /// Starts wren with settings adjusted by `adjust`.
    pub fn with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = settings();
        adjust(&mut settings);
        let server = Server::start(settings).unwrap();
        let addr = server.addrs().mqtt_tcp[0];
        Self {
            server: Some(server),
            addr,
        }
    }

    /// Takes the server out, to shut it down explicitly.
    pub fn take(&mut self) -> Server {
        self.server.take().expect("server already taken")
    }
}

/// Lets the broker take note of a connection the client has just seen close.
///
/// Asserts `elapsed` lies in `min..=max`, naming `what`.
pub fn assert_between(what: &str, elapsed: Duration, min: Duration, max: Duration) {
    assert!(
        elapsed >= min && elapsed <= max,
        "{what}: took {elapsed:?}, expected between {min:?} and {max:?}"
    );
}
