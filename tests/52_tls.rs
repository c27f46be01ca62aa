//! TLS: MQTT over TLS (`mqtt.tls`) and over secure WebSocket
//! (`http.tls_listen`), mutual TLS, the certificate's name as user name,
//! and certificates reloaded. The CA and certificates are made here (rcgen).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{Broker, Connect, WAIT};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rumqttc::{Event, Incoming, MqttOptions, QoS, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// A test CA, a server certificate for 127.0.0.1 and a client certificate
/// named `sensor-7`, as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_pem = Self::issue(dir.path());
        Self { dir, ca_pem }
    }

    /// Makes a CA and the two certificates in `dir`; returns the CA's PEM.
    fn issue(dir: &Path) -> String {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "wren test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "sensor-7");
        let client = client_params.signed_by(&client_key, &ca).unwrap();
        for (name, text) in [
            ("ca.pem", ca.pem()),
            ("server.pem", server.pem()),
            ("server.key", server_key.serialize_pem()),
            ("client.pem", client.pem()),
            ("client.key", client_key.serialize_pem()),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
        ca.pem()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A rustls client config trusting `ca_pem`, with the client certificate when `mutual`.
    fn client_config(&self, ca_pem: &str, mutual: bool) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if mutual {
            let certs = CertificateDer::pem_file_iter(self.path("client.pem"))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(self.path("client.key")).unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        Arc::new(config)
    }
}

/// wren with both TLS listeners on loopback, the plain TCP one kept for the helpers.
fn tls_broker(pki: &Pki, adjust: impl FnOnce(&mut wren::settings::Settings)) -> Broker {
    Broker::with(|s| {
        s.mqtt.tls = vec!["127.0.0.1:0".parse().unwrap()];
        s.http.tls_listen = vec!["127.0.0.1:0".parse().unwrap()];
        s.tls.cert = Some(pki.path("server.pem"));
        s.tls.key = Some(pki.path("server.key"));
        adjust(s);
    })
}

/// Opens TLS to `mqtt.tls`, sends `connect` and returns the CONNACK return
/// code, or the handshake error.
async fn connack_over_tls(
    broker: &Broker,
    config: Arc<rustls::ClientConfig>,
    connect: &Connect,
) -> Result<u8, std::io::Error> {
    let addr = broker.server.as_ref().unwrap().addrs().mqtt_tls[0];
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = timeout(WAIT, connector.connect(name, tcp)).await.unwrap()?;
    tls.write_all(&connect.bytes()).await?;
    let mut connack = [0u8; 4];
    timeout(WAIT, tls.read_exact(&mut connack)).await.unwrap()?;
    assert_eq!(connack[0], 0x20, "CONNACK expected: {connack:?}");
    Ok(connack[3])
}

/// Connects rumqttc over `transport`, subscribes, publishes to itself and
/// waits for the message.
async fn round_trip(mut options: MqttOptions, transport: Transport) {
    options.set_transport(transport);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 16);
    client.subscribe("tls/t", QoS::AtLeastOnce).await.unwrap();
    client
        .publish("tls/t", QoS::AtLeastOnce, false, "secret")
        .await
        .unwrap();
    timeout(WAIT, async {
        loop {
            if let Event::Incoming(Incoming::Publish(p)) = events.poll().await.unwrap() {
                assert_eq!(&p.payload[..], b"secret");
                return;
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn mqtt_over_tls_and_secure_websocket() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, |_| {});
    let addrs = broker.server.as_ref().unwrap().addrs().clone();
    let config = pki.client_config(&pki.ca_pem, false);
    let tls = addrs.mqtt_tls[0];
    let options = MqttOptions::new("tls-client", "127.0.0.1", tls.port());
    round_trip(
        options,
        Transport::tls_with_config(TlsConfiguration::Rustls(config.clone())),
    )
    .await;
    let https = addrs.https[0];
    let options = MqttOptions::new(
        "wss-client",
        format!("wss://127.0.0.1:{}/mqtt", https.port()),
        https.port(),
    );
    round_trip(
        options,
        Transport::wss_with_config(TlsConfiguration::Rustls(config.clone())),
    )
    .await;
    assert_eq!(
        connack_over_tls(&broker, config, &Connect::v311("raw"))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_does_not_trust_the_certificate_fails_the_handshake() {
    let pki = Pki::new();
    let other = Pki::new();
    let broker = tls_broker(&pki, |_| {});
    let config = pki.client_config(&other.ca_pem, false);
    assert!(
        connack_over_tls(&broker, config, &Connect::v311("x"))
            .await
            .is_err()
    );
    // The listener carries on.
    let good = pki.client_config(&pki.ca_pem, false);
    assert_eq!(
        connack_over_tls(&broker, good, &Connect::v311("y"))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_requires_a_client_certificate() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, |s| {
        s.tls.client_ca = Some(pki.path("ca.pem"));
        s.auth.allow_anonymous = Some(false);
    });
    let without = pki.client_config(&pki.ca_pem, false);
    assert!(
        connack_over_tls(&broker, without, &Connect::v311("x"))
            .await
            .is_err()
    );
    // A certificate proves the client is ours, but names no user here.
    let with = pki.client_config(&pki.ca_pem, true);
    assert_eq!(
        connack_over_tls(&broker, with, &Connect::v311("y"))
            .await
            .unwrap(),
        0x05
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_certificate_name_is_the_user_name_when_asked() {
    let pki = Pki::new();
    let acl = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(acl.path(), "user sensor-7\ntopic readwrite sensors/7/#\n").unwrap();
    let broker = tls_broker(&pki, |s| {
        s.tls.client_ca = Some(pki.path("ca.pem"));
        s.tls.use_identity_as_username = true;
        s.auth.allow_anonymous = Some(false);
        s.auth.acl_file = Some(acl.path().to_owned());
    });
    let with = pki.client_config(&pki.ca_pem, true);
    let connect = Connect::v5("s7").will(common::Will::new("sensors/7/gone", b"x", 0));
    assert_eq!(
        connack_over_tls(&broker, with.clone(), &connect)
            .await
            .unwrap(),
        0
    );
    let elsewhere = Connect::v5("s7b").will(common::Will::new("sensors/8/gone", b"x", 0));
    assert_eq!(
        connack_over_tls(&broker, with, &elsewhere).await.unwrap(),
        0x87,
        "the ACL of sensor-7 applies"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificates_are_reloaded() {
    let pki = Pki::new();
    let broker = tls_broker(&pki, |_| {});
    let old_ca = pki.ca_pem.clone();
    let new_ca = Pki::issue(pki.dir.path());
    broker.server.as_ref().unwrap().reload().unwrap();
    let trusting_new = pki.client_config(&new_ca, false);
    assert_eq!(
        connack_over_tls(&broker, trusting_new, &Connect::v311("n"))
            .await
            .unwrap(),
        0
    );
    let trusting_old = pki.client_config(&old_ca, false);
    assert!(
        connack_over_tls(&broker, trusting_old, &Connect::v311("o"))
            .await
            .is_err()
    );
}
