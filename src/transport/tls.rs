//! TLS for the MQTT and HTTP listeners (rustls, `ring` provider): the
//! certificates, reloadable on SIGHUP, and the accept path.
//!
//! The accept loop only accepts and hands the socket to a worker thread; the
//! handshake runs there, bounded by `limits.connect_timeout`, so a client that
//! stalls its handshake holds up nobody else. After it, the connection is an
//! MQTT session (`mqtt.tls`) or an HTTP request (`http.tls_listen`) as on the
//! plain listeners.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytestring::ByteString;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::io::ReaderStream;
use tracing::{debug, info};

use super::http::{self, HttpContext};
use super::limit::ConnectionLimit;
use super::tcp::accept_loop;
use super::workers::WorkerPicker;
use crate::session::{MqttSession, SessionContext};
use crate::settings::TlsSettings;

/// Bytes read per TLS read: one full TLS record.
const READ_CHUNK: usize = 16 * 1024;

/// Why the certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing, unreadable or holds nothing usable.
    #[error("{key} = {path:?}: {reason}")]
    File {
        key: &'static str,
        path: String,
        reason: String,
    },
    /// rustls refused the combination (key does not match the certificate, …).
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The server certificate in force; replaced on SIGHUP.
pub struct Certificates {
    settings: TlsSettings,
    current: ArcSwap<ServerConfig>,
}

impl Certificates {
    /// Loads `[tls]`; `None` when no certificate is configured.
    pub fn load(settings: &TlsSettings) -> Result<Option<Arc<Self>>, TlsError> {
        if settings.cert.is_none() {
            return Ok(None);
        }
        let config = server_config(settings)?;
        Ok(Some(Arc::new(Self {
            settings: settings.clone(),
            current: ArcSwap::from_pointee(config),
        })))
    }

    /// Re-reads the files; on error the old certificate stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.settings)?;
        self.current.store(Arc::new(config));
        info!("TLS certificates reloaded");
        Ok(())
    }

    fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }
}

fn server_config(settings: &TlsSettings) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = read_certs("tls.cert", settings.cert.as_deref())?;
    let key = read_key(settings.key.as_deref())?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match settings.client_ca.as_deref() {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs("tls.client_ca", Some(path))? {
                roots
                    .add(cert)
                    .map_err(|e| file_error("tls.client_ca", path, e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))
}

fn file_error(key: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        key,
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn read_certs(
    key: &'static str,
    path: Option<&Path>,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let path = path.ok_or_else(|| TlsError::Config(format!("{key} is not set")))?;
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(key, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(key, path, e))?;
    if certs.is_empty() {
        return Err(file_error(key, path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

fn read_key(path: Option<&Path>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let path = path.ok_or_else(|| TlsError::Config("tls.key is not set".into()))?;
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_error("tls.key", path, e))
}

/// The common name of a verified client certificate, for
/// `use_identity_as_username`.
fn peer_name(stream: &TlsStream<TcpStream>) -> Option<ByteString> {
    let (_, connection) = stream.get_ref();
    let leaf = connection.peer_certificates()?.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let name = cert.subject().iter_common_name().next()?.as_str().ok()?;
    Some(ByteString::from(name))
}

/// Accepts MQTT over TLS until the task is dropped.
pub async fn serve_mqtt(
    listener: TcpListener,
    cx: SessionContext,
    certs: Arc<Certificates>,
    workers: WorkerPicker,
    limit: ConnectionLimit,
) {
    accept_loop(listener, "mqtt-tls", limit, |stream, peer, permit| {
        let cx = cx.clone();
        let handshake_timeout = cx.config.connect_timeout;
        let started = hand_over(
            stream,
            peer,
            &certs,
            &workers,
            handshake_timeout,
            move |tls| {
                let cx = SessionContext {
                    certificate_name: peer_name(&tls),
                    ..cx
                };
                let (read, write) = tokio::io::split(tls);
                let inlet = Box::pin(ReaderStream::with_capacity(read, READ_CHUNK));
                MqttSession::start(cx, peer, inlet, Box::new(write), Some(permit));
            },
        );
        if let Err(error) = started {
            debug!(%peer, %error, "could not hand the connection to a worker");
        }
    })
    .await;
}

/// Accepts HTTPS (the page, and MQTT over secure WebSocket) until the task is dropped.
pub async fn serve_https(
    listener: TcpListener,
    http: Arc<HttpContext>,
    certs: Arc<Certificates>,
    workers: WorkerPicker,
    limit: ConnectionLimit,
) {
    accept_loop(listener, "https", limit, |stream, peer, permit| {
        let http = http.clone();
        let handshake_timeout = http.request_timeout;
        let started = hand_over(
            stream,
            peer,
            &certs,
            &workers,
            handshake_timeout,
            move |tls| {
                let http = match peer_name(&tls) {
                    Some(name) => Arc::new(http.with_certificate_name(name)),
                    None => http,
                };
                actix::spawn(http::answer(tls, peer, http, permit));
            },
        );
        if let Err(error) = started {
            debug!(%peer, %error, "could not hand the connection to a worker");
        }
    })
    .await;
}

/// Moves the socket to a worker, runs the handshake there within `timeout`,
/// then calls `ready` on that worker.
fn hand_over(
    stream: TcpStream,
    peer: SocketAddr,
    certs: &Certificates,
    workers: &WorkerPicker,
    timeout: Duration,
    ready: impl FnOnce(TlsStream<TcpStream>) + Send + 'static,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // Moved as a std socket so it registers with the worker's own reactor.
    let stream = stream.into_std()?;
    let acceptor = certs.acceptor();
    workers.next().spawn_fn(move || {
        actix::spawn(async move {
            let stream = match TcpStream::from_std(stream) {
                Ok(stream) => stream,
                Err(error) => return debug!(%peer, %error, "could not register the connection"),
            };
            match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => ready(tls),
                Ok(Err(error)) => info!(%peer, %error, "TLS handshake failed"),
                Err(_) => debug!(%peer, "no TLS handshake in time, closing"),
            }
        });
    });
    Ok(())
}
