//! MQTT over WebSocket: after the handshake, binary frames become the
//! session's [`Inlet`] chunks and the session's writes become binary frames,
//! through `tokio-tungstenite`, so [`MqttSession`] runs unchanged.
//!
//! Both halves share the one `WebSocketStream` behind a mutex; they are polled
//! on the session's worker thread only, so it is never contended. There is no
//! task per connection: the session's own polling drives the socket, and
//! tungstenite answers pings and close frames while the inlet is polled, which
//! actix does whenever the socket wakes it, also while the session is idle.
//!
//! Memory (measured: about 0.8 KB per idle connection on top of what an MQTT
//! over TCP connection costs). tungstenite allocates its read buffer
//! ([`READ_BUFFER`]) up front and reads at most that much per system call
//! beyond the frame in hand; a frame longer than what is left is read into a
//! buffer grown to the frame's size. Once that buffer runs out, tungstenite
//! would reclaim it whole if it were its only owner, keeping the largest frame
//! ever received allocated for the life of the connection. [`Frames`] keeps
//! the last payload it saw, which lies in that buffer, so tungstenite finds it
//! shared and takes a new, right-sized one; the big one is freed when the next
//! payload replaces the kept one. So a large message stays allocated until
//! the connection has received a few hundred bytes more (a PINGREQ frame is 8).
//! Outgoing frames are at most [`FRAME_OUT`] bytes, which bounds what
//! tungstenite's write buffer keeps (it never shrinks). MQTT lets packets span
//! frames ([MQTT-6.0.0-2]), so large packets are simply sent in several.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::limit::Permit;
use crate::session::{MqttSession, SessionContext};

/// tungstenite's read buffer: allocated per connection, and the most read per
/// system call. Small, because idle dashboards are the common case and what
/// browsers send is small (subscriptions, pings); a 1 MB publish costs 4,000
/// reads, which a Pi does in milliseconds.
const READ_BUFFER: usize = 256;

/// Largest frame sent; longer writes go out as several frames.
const FRAME_OUT: usize = 2048;

/// The tungstenite settings for one connection: frames and messages larger
/// than the largest MQTT packet are refused (close code 1009).
pub fn config(max_packet_size: u32) -> WebSocketConfig {
    let max = usize::try_from(max_packet_size).unwrap_or(usize::MAX);
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        // Write every frame at once: the session's outlet already batches.
        .write_buffer_size(0)
        .max_write_buffer_size(4 * FRAME_OUT)
        .max_frame_size(Some(max))
        .max_message_size(Some(max))
}

/// Starts an MQTT session on a connection whose handshake has been answered;
/// `read_ahead` holds bytes the client sent after its request head. Must run
/// on the worker thread that will own the session.
pub async fn start<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    read_ahead: Vec<u8>,
    peer: SocketAddr,
    cx: SessionContext,
    config: WebSocketConfig,
    permit: Permit,
) {
    let ws =
        WebSocketStream::from_partially_read(stream, read_ahead, Role::Server, Some(config)).await;
    let link = Arc::new(Mutex::new(Link {
        ws,
        close: None,
        close_sent: false,
    }));
    let inlet = Frames {
        link: link.clone(),
        last: None,
    };
    MqttSession::start(
        cx,
        peer,
        Box::pin(inlet),
        Box::new(Writer { link }),
        Some(permit),
    );
}

/// The WebSocket both halves use, over TCP or TLS.
struct Link<S> {
    ws: WebSocketStream<S>,
    /// The close frame to send when the session closes, when the read side has
    /// found a reason for one (the default is 1000, normal closure).
    close: Option<CloseFrame>,
    /// A close frame has been queued.
    close_sent: bool,
}

/// The read half: binary payloads as chunks; control frames are handled by
/// tungstenite; anything else ends the session with an error (so the will is
/// published) and chooses the close code.
struct Frames<S> {
    link: Arc<Mutex<Link<S>>>,
    /// The last payload received, kept until the next one (see module docs).
    last: Option<Bytes>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Frames<S> {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut link = this.link.lock();
        loop {
            let message = match ready!(Pin::new(&mut link.ws).poll_next(cx)) {
                // The close handshake is done (tungstenite has answered a close
                // frame) or the peer went away.
                None => return Poll::Ready(None),
                Some(Ok(message)) => message,
                Some(Err(error)) => {
                    link.close = close_frame_for(&error);
                    return Poll::Ready(Some(Err(into_io(error))));
                }
            };
            match message {
                Message::Binary(payload) => {
                    this.last = Some(payload.clone());
                    return Poll::Ready(Some(Ok(payload)));
                }
                // tungstenite has queued the pong; the next poll writes it.
                Message::Ping(payload) | Message::Pong(payload) => this.last = Some(payload),
                // [MQTT-6.0.0-1]: any other data frame closes the connection.
                Message::Text(_) => {
                    link.close = Some(CloseFrame {
                        code: CloseCode::Unsupported,
                        reason: "MQTT is sent in binary frames".into(),
                    });
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text frame on an MQTT WebSocket",
                    ))));
                }
                // After a close frame the next poll writes tungstenite's answer
                // and ends the stream.
                Message::Close(_) | Message::Frame(_) => {}
            }
        }
    }
}

/// The close code for a read error, when the connection can still carry one.
fn close_frame_for(error: &WsError) -> Option<CloseFrame> {
    let (code, reason) = match error {
        WsError::Capacity(_) => (
            CloseCode::Size,
            "frame or message larger than the packet limit",
        ),
        WsError::Protocol(_) => (CloseCode::Protocol, "WebSocket protocol error"),
        WsError::Utf8(_) => (CloseCode::Invalid, "invalid UTF-8"),
        _ => return None,
    };
    Some(CloseFrame {
        code,
        reason: reason.into(),
    })
}

fn into_io(error: WsError) -> io::Error {
    match error {
        WsError::Io(error) => error,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, error)
        }
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

/// The write half: each write becomes one binary frame of at most
/// [`FRAME_OUT`] bytes; shutdown sends the close frame.
struct Writer<S> {
    link: Arc<Mutex<Link<S>>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Writer<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut link = self.link.lock();
        let mut ws = Pin::new(&mut link.ws);
        ready!(ws.as_mut().poll_ready(cx)).map_err(into_io)?;
        let n = buf.len().min(FRAME_OUT);
        ws.start_send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
            .map_err(into_io)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut link = self.link.lock();
        Pin::new(&mut link.ws).poll_flush(cx).map_err(into_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut link = self.link.lock();
        let link = &mut *link;
        let mut ws = Pin::new(&mut link.ws);
        if !link.close_sent {
            if let Err(error) = ready!(ws.as_mut().poll_ready(cx)) {
                return Poll::Ready(closed_is_fine(error));
            }
            link.close_sent = true;
            let frame = link.close.take().unwrap_or(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            });
            // After the peer's close frame tungstenite has already answered it,
            // and refuses another: nothing to do then.
            let _ = ws.as_mut().start_send(Message::Close(Some(frame)));
        }
        match ready!(ws.poll_close(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(error) => Poll::Ready(closed_is_fine(error)),
        }
    }
}

/// Shutting down a connection that is already closed succeeds.
fn closed_is_fine(error: WsError) -> io::Result<()> {
    match error {
        WsError::ConnectionClosed | WsError::AlreadyClosed => Ok(()),
        error => Err(into_io(error)),
    }
}
