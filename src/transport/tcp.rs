//! MQTT over TCP: accept, hand the socket to a worker thread, start a session there.

use std::io;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, info, warn};

use super::limit::{ConnectionLimit, Permit};
use super::workers::WorkerPicker;
use crate::session::{Inlet, MqttSession, SessionContext};

/// Bytes read per system call under load; idle connections hold no buffer.
const READ_CHUNK: usize = 16 * 1024;

/// Binds every address; fails on the first that cannot be bound, naming it and
/// the setting (`key`) it came from.
pub async fn bind(addrs: &[SocketAddr], key: &str) -> io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on {addr} ({key}): {e}"))
        })?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Accepts MQTT connections until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    cx: SessionContext,
    workers: WorkerPicker,
    limit: ConnectionLimit,
) {
    accept_loop(listener, "tcp", limit, |stream, peer, permit| {
        if let Err(error) = hand_over(stream, peer, cx.clone(), &workers, permit) {
            debug!(%peer, %error, "could not hand the connection to a worker");
        }
    })
    .await;
}

/// Accepts connections until the task is dropped and gives each, with its
/// permit, to `accepted`, which must not wait for the client: the accept loop
/// does no protocol work, so a slow client cannot hold up the others.
pub(super) async fn accept_loop(
    listener: TcpListener,
    name: &'static str,
    limit: ConnectionLimit,
    mut accepted: impl FnMut(TcpStream, SocketAddr, Permit),
) {
    if let Ok(addr) = listener.local_addr() {
        info!(listener = name, %addr, "listening");
    }
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        if !limit.rate_allows(peer.ip()) {
            debug!(%peer, "connection rate limit reached for this address, refusing");
            continue;
        }
        let Some(permit) = limit.try_acquire() else {
            warn!(%peer, open = limit.open(), "connection limit reached, refusing");
            continue;
        };
        accepted(stream, peer, permit);
    }
}

fn hand_over(
    stream: TcpStream,
    peer: SocketAddr,
    cx: SessionContext,
    workers: &WorkerPicker,
    permit: Permit,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    // Moved as a std socket so it registers with the worker's own reactor.
    let stream = stream.into_std()?;
    workers
        .next()
        .spawn_fn(move || match TcpStream::from_std(stream) {
            Ok(stream) => {
                let (read, write) = stream.into_split();
                MqttSession::start(cx, peer, inlet(read), Box::new(write), Some(permit));
            }
            Err(error) => debug!(%peer, %error, "could not register the connection"),
        });
    Ok(())
}

/// Reads chunks as they arrive. A buffer is allocated only once the socket is
/// readable, and small reads are copied out of it, so an idle connection (or
/// a queued message sliced from a read) never pins a large buffer.
fn inlet(read: OwnedReadHalf) -> Inlet {
    Box::pin(stream::unfold(Some(read), |read| async move {
        let read = read?;
        loop {
            if let Err(error) = read.readable().await {
                return Some((Err(error), None));
            }
            let mut buf = BytesMut::with_capacity(READ_CHUNK);
            match read.try_read_buf(&mut buf) {
                Ok(0) => return None,
                Ok(n) if n < READ_CHUNK / 4 => {
                    return Some((Ok(Bytes::copy_from_slice(&buf)), Some(read)));
                }
                Ok(_) => return Some((Ok(buf.freeze()), Some(read))),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Some((Err(error), None)),
            }
        }
    }))
}
