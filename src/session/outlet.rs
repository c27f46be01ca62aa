//! The byte sink of a session: encoded packets are appended to a buffer and
//! written to the transport without blocking the actor.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWrite;

/// Above this many unwritten bytes a session stops taking messages from its
/// queue, so a reader that does not keep up fills the bounded queue (and is
/// then treated as a slow consumer) instead of this buffer.
pub const HIGH_WATER: usize = 64 * 1024;

/// Buffers larger than this are released once empty, so an idle connection
/// keeps no large allocation.
const KEEP_CAPACITY: usize = 8 * 1024;

/// Any transport's write side: a TCP socket half, a WebSocket adapter, …
pub type Transport = Box<dyn AsyncWrite + Unpin + Send>;

/// Write buffer plus transport.
pub struct Outlet {
    transport: Transport,
    buffer: BytesMut,
}

impl Outlet {
    /// An outlet writing to `transport`.
    pub fn new(transport: Transport) -> Self {
        Self {
            transport,
            buffer: BytesMut::new(),
        }
    }

    /// The buffer packets are encoded into.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buffer
    }

    /// Unwritten bytes.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// Writes what it can right now. `Ready(Ok)` once everything is written;
    /// `Pending` when the transport is full (call `poll_flush` with a real
    /// context to be woken).
    pub fn try_flush(&mut self) -> Poll<io::Result<()>> {
        let mut cx = Context::from_waker(Waker::noop());
        self.poll_flush(&mut cx)
    }

    /// Writes the whole buffer, waking `cx` when the transport has room.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.buffer.is_empty() {
            match Pin::new(&mut self.transport).poll_write(cx, &self.buffer) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.buffer.advance(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.buffer.capacity() > KEEP_CAPACITY {
            self.buffer = BytesMut::new();
        }
        Pin::new(&mut self.transport).poll_flush(cx)
    }

    /// Closes the write side (TCP FIN, WebSocket close), best effort and without waiting.
    pub fn shutdown(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        let _ = self.poll_flush(&mut cx);
        let _ = Pin::new(&mut self.transport).poll_shutdown(&mut cx);
    }
}
