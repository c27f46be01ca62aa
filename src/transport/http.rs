//! The HTTP listener: MQTT over WebSocket at `[http] ws_path`, a page about
//! wren at `/` and the README at `/README.md`; anything else is 404.
//!
//! The accept loop only accepts and hands the socket to a worker thread, where
//! the request head is read (at most [`MAX_HEAD`] bytes, within
//! `limits.connect_timeout`) and answered, so a slow or silent client holds up
//! nobody else. One request per connection: pages close the connection after
//! the response, a WebSocket becomes an MQTT session on that same worker.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{debug, info};

use super::limit::{ConnectionLimit, Permit};
use super::tcp::accept_loop;
use super::workers::WorkerPicker;
use super::ws;
use crate::protocol::http::{HeadError, RequestHead, Response, Status};
use crate::protocol::websocket;
use crate::session::SessionContext;

/// Longest request head accepted (request line and header fields).
const MAX_HEAD: usize = 16 * 1024;

/// First read buffer for a request head; browsers' heads fit in it.
const HEAD_BUFFER: usize = 1024;

/// The page at `/`.
const INDEX: &str = include_str!("index.html");

/// The README, served so the page's documentation link works offline.
const README: &str = include_str!("../../README.md");

/// What every connection of an HTTP listener shares.
pub struct HttpContext {
    /// For the MQTT sessions of WebSocket connections.
    pub session: SessionContext,
    pub ws_path: String,
    pub allowed_origins: Vec<String>,
    /// Time from accept until the request is answered or the WebSocket is open.
    pub request_timeout: Duration,
    pub ws_config: WebSocketConfig,
}

impl HttpContext {
    /// The same context for one connection whose TLS client certificate
    /// names `name` (mutual TLS on `http.tls_listen`).
    pub fn with_certificate_name(&self, name: bytestring::ByteString) -> Self {
        Self {
            session: SessionContext {
                certificate_name: Some(name),
                ..self.session.clone()
            },
            ws_path: self.ws_path.clone(),
            allowed_origins: self.allowed_origins.clone(),
            request_timeout: self.request_timeout,
            ws_config: self.ws_config,
        }
    }
}

/// Accepts HTTP connections until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    http: Arc<HttpContext>,
    workers: WorkerPicker,
    limit: ConnectionLimit,
) {
    accept_loop(listener, "http", limit, |stream, peer, permit| {
        if let Err(error) = hand_over(stream, peer, http.clone(), &workers, permit) {
            debug!(%peer, %error, "could not hand the connection to a worker");
        }
    })
    .await;
}

fn hand_over(
    stream: TcpStream,
    peer: SocketAddr,
    http: Arc<HttpContext>,
    workers: &WorkerPicker,
    permit: Permit,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // Moved as a std socket so it registers with the worker's own reactor.
    let stream = stream.into_std()?;
    workers.next().spawn_fn(move || {
        actix::spawn(async move {
            match TcpStream::from_std(stream) {
                Ok(stream) => answer(stream, peer, http, permit).await,
                Err(error) => debug!(%peer, %error, "could not register the connection"),
            }
        });
    });
    Ok(())
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    WebSocket,
    Index,
    Readme,
    /// The WebSocket path asked for without `Upgrade: websocket`.
    UpgradeRequired,
    NotFound,
}

/// Routes by path. `/metrics` and static files will be further arms.
fn route(head: &RequestHead, ws_path: &str) -> Route {
    if websocket::is_upgrade(head) {
        return if head.path == ws_path {
            Route::WebSocket
        } else {
            Route::NotFound
        };
    }
    match head.path.as_str() {
        "/" => Route::Index,
        "/README.md" => Route::Readme,
        path if path == ws_path => Route::UpgradeRequired,
        _ => Route::NotFound,
    }
}

/// A connection an HTTP request arrives on: TCP, or TLS over TCP.
pub trait HttpStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> HttpStream for S {}

/// Reads one request and answers it, or opens the WebSocket session.
pub(super) async fn answer<S: HttpStream>(
    mut stream: S,
    peer: SocketAddr,
    http: Arc<HttpContext>,
    permit: Permit,
) {
    let deadline = Instant::now() + http.request_timeout;
    let (head, read_ahead) = match timeout_at(deadline, read_head(&mut stream)).await {
        Ok(Ok(Ok(request))) => request,
        Ok(Err(_)) => return,
        Ok(Ok(Err(HeadError::TooLarge))) => {
            let response = Response::error(Status::HEADERS_TOO_LARGE, "request head too large");
            return send(stream, peer, response, deadline).await;
        }
        Ok(Ok(Err(HeadError::Malformed))) => {
            let response = Response::error(Status::BAD_REQUEST, "not an HTTP/1.1 request");
            return send(stream, peer, response, deadline).await;
        }
        Err(_) => {
            debug!(%peer, "no HTTP request in time, closing");
            let response = Response::error(Status::REQUEST_TIMEOUT, "no request in time");
            // Whatever the client does, this write must not wait: one attempt.
            let _ = stream.write_all(&response.encode()).now_or_never();
            return;
        }
    };
    debug!(%peer, method = %head.method, path = %head.path, "http request");
    let response = match route(&head, &http.ws_path) {
        Route::WebSocket => match websocket::accept(&head, &http.allowed_origins) {
            Ok(accepted) => {
                let switch = accepted.response.encode();
                match timeout_at(deadline, stream.write_all(&switch)).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
                let protocol = accepted.subprotocol.map_or("none", |p| p.as_str());
                debug!(%peer, protocol, "websocket open");
                let cx = http.session.clone();
                return ws::start(stream, read_ahead, peer, cx, http.ws_config, permit).await;
            }
            Err(refusal) => {
                info!(%peer, status = refusal.status.0, "websocket handshake refused");
                refusal
            }
        },
        Route::Index => page(&head, "text/html; charset=utf-8", index(&http.ws_path)),
        Route::Readme => page(&head, "text/plain; charset=utf-8", README.to_owned()),
        Route::UpgradeRequired => Response::error(
            Status::UPGRADE_REQUIRED,
            "MQTT over WebSocket is served here; connect with a WebSocket client",
        )
        .header("Upgrade", "websocket"),
        Route::NotFound => Response::error(Status::NOT_FOUND, "no such page"),
    };
    send(stream, peer, response, deadline).await;
}

/// Reads until the end of the request head: the head and any bytes that
/// followed it, or why the head is refused.
async fn read_head<S: HttpStream>(
    stream: &mut S,
) -> io::Result<Result<(RequestHead, Vec<u8>), HeadError>> {
    let mut buf = BytesMut::with_capacity(HEAD_BUFFER);
    loop {
        if buf.len() == buf.capacity() {
            // Doubles, up to just past the limit so `parse` can see it is exceeded.
            buf.reserve(
                buf.len()
                    .min((MAX_HEAD + 1).saturating_sub(buf.len()))
                    .max(1),
            );
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match RequestHead::parse(&buf, MAX_HEAD) {
            Ok(Some((head, len))) => return Ok(Ok((head, buf[len..].to_vec()))),
            Ok(None) => {}
            Err(error) => return Ok(Err(error)),
        }
    }
}

/// Answers a page request: GET gets the body, HEAD only its headers.
fn page(head: &RequestHead, content_type: &'static str, body: String) -> Response {
    match head.method.as_str() {
        "GET" => Response::new(Status::OK).body(content_type, body),
        "HEAD" => Response::new(Status::OK)
            .body(content_type, body)
            .without_body(),
        _ => Response::error(Status::METHOD_NOT_ALLOWED, "use GET").header("Allow", "GET, HEAD"),
    }
}

fn index(ws_path: &str) -> String {
    INDEX
        .replace("{{version}}", env!("CARGO_PKG_VERSION"))
        .replace("{{ws_path}}", &escape_html(ws_path))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes `response` and closes, giving up at `deadline`.
async fn send<S: HttpStream>(
    mut stream: S,
    peer: SocketAddr,
    response: Response,
    deadline: Instant,
) {
    let written = timeout_at(deadline, async {
        stream.write_all(&response.encode()).await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        debug!(%peer, "could not send the HTTP response");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> RequestHead {
        RequestHead::parse(text.as_bytes(), MAX_HEAD)
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn routes_by_path_and_upgrade() {
        let upgrade = |path: &str| {
            head(&format!(
                "GET {path} HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"
            ))
        };
        let plain = |path: &str| head(&format!("GET {path} HTTP/1.1\r\n\r\n"));
        assert_eq!(route(&upgrade("/mqtt"), "/mqtt"), Route::WebSocket);
        assert_eq!(route(&upgrade("/mqtt?x"), "/mqtt"), Route::WebSocket);
        assert_eq!(route(&upgrade("/"), "/mqtt"), Route::NotFound);
        assert_eq!(route(&upgrade("/mqtt/"), "/mqtt"), Route::NotFound);
        assert_eq!(route(&plain("/"), "/mqtt"), Route::Index);
        assert_eq!(route(&plain("/README.md"), "/mqtt"), Route::Readme);
        assert_eq!(route(&plain("/mqtt"), "/mqtt"), Route::UpgradeRequired);
        assert_eq!(route(&plain("/metrics"), "/mqtt"), Route::NotFound);
        // The WebSocket may live at "/" beside the page.
        assert_eq!(route(&upgrade("/"), "/"), Route::WebSocket);
        assert_eq!(route(&plain("/"), "/"), Route::Index);
    }

    #[test]
    fn the_page_names_wren_and_the_escaped_path() {
        let page = index("/<ws>");
        assert!(page.contains(env!("CARGO_PKG_VERSION")));
        assert!(page.contains("<code>/&lt;ws&gt;</code>"));
        assert!(!page.contains("{{"));
    }

    #[test]
    fn pages_answer_get_and_head_only() {
        let get = page(&head("GET / HTTP/1.1\r\n\r\n"), "text/plain", "x".into());
        assert_eq!(get.status, Status::OK);
        let only_head = page(&head("HEAD / HTTP/1.1\r\n\r\n"), "text/plain", "x".into());
        assert!(only_head.encode().ends_with(b"\r\n\r\n"));
        let post = page(&head("POST / HTTP/1.1\r\n\r\n"), "text/plain", "x".into());
        assert_eq!(post.status, Status::METHOD_NOT_ALLOWED);
    }
}
