//! A client that speaks raw bytes over TCP, for exact-byte checks and for
//! behaviour ordinary client libraries refuse to produce.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::WAIT;
use super::wire::{ConnAckIn, Connect, Frame, kind};

/// Why no packet was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPacket {
    /// Nothing arrived in time; the connection is still open.
    Timeout,
    /// The server closed the connection (EOF or reset).
    Closed,
}

/// A raw MQTT connection.
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Whether packets are parsed with the 5.0 layout.
    pub v5: bool,
}

impl Raw {
    /// Opens a TCP connection; sends nothing.
    pub async fn open(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("TCP connect timed out")
            .expect("TCP connect failed");
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            buf: Vec::new(),
            v5: false,
        }
    }

    /// Opens a connection, sends `connect` and returns the CONNACK, asserting success.
    pub async fn connect(addr: SocketAddr, connect: &Connect) -> (Self, ConnAckIn) {
        let (raw, connack) = Self::connect_any(addr, connect).await;
        assert_eq!(connack.code, 0, "CONNECT refused: {connack:?}");
        (raw, connack)
    }

    /// Opens a connection, sends `connect` and returns whatever CONNACK comes back.
    pub async fn connect_any(addr: SocketAddr, connect: &Connect) -> (Self, ConnAckIn) {
        let mut raw = Self::open(addr).await;
        raw.v5 = connect.is_v5();
        raw.send(&connect.bytes()).await;
        let frame = raw.recv().await;
        let connack = frame.connack(raw.v5);
        (raw, connack)
    }

    /// Writes bytes; panics if the write fails.
    pub async fn send(&mut self, bytes: &[u8]) {
        tokio::time::timeout(WAIT, self.stream.write_all(bytes))
            .await
            .expect("write timed out")
            .expect("write failed");
    }

    /// Writes bytes, ignoring errors (the server may already have closed).
    pub async fn send_lossy(&mut self, bytes: &[u8]) {
        let _ = tokio::time::timeout(WAIT, self.stream.write_all(bytes)).await;
    }

    /// Reads exactly `expected.len()` bytes and compares them.
    pub async fn expect_bytes(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + WAIT;
        while self.buf.len() < expected.len() {
            match self.fill(deadline).await {
                Ok(()) => {}
                Err(why) => panic!(
                    "expected {expected:02x?}, got {:02x?} then {why:?}",
                    self.buf
                ),
            }
        }
        let got: Vec<u8> = self.buf.drain(..expected.len()).collect();
        assert_eq!(got, expected, "bytes differ (got vs expected)");
    }

    /// The next packet; panics on timeout or close.
    pub async fn recv(&mut self) -> Frame {
        match self.try_recv(WAIT).await {
            Ok(frame) => frame,
            Err(why) => panic!("expected a packet, got {why:?}"),
        }
    }

    /// The next packet, skipping PINGRESP.
    pub async fn recv_skip_ping(&mut self) -> Frame {
        loop {
            let frame = self.recv().await;
            if frame.kind() != kind::PINGRESP {
                return frame;
            }
        }
    }

    /// The next packet within `within`.
    pub async fn try_recv(&mut self, within: Duration) -> Result<Frame, NoPacket> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(frame) = self.parse() {
                return Ok(frame);
            }
            self.fill(deadline).await?;
        }
    }

    /// Asserts that no packet arrives for `quiet` and the connection stays open.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        match self.try_recv(quiet).await {
            Err(NoPacket::Timeout) => {}
            Err(NoPacket::Closed) => panic!("expected silence, but the connection was closed"),
            Ok(frame) => panic!("expected silence, got {frame:?}"),
        }
    }

    /// Waits up to `within` for the server to close; returns the packets it
    /// sent first. Panics when the connection is still open by then.
    pub async fn expect_closed_within(&mut self, within: Duration) -> Vec<Frame> {
        let mut before = Vec::new();
        loop {
            match self.try_recv(within).await {
                Ok(frame) => before.push(frame),
                Err(NoPacket::Closed) => return before,
                Err(NoPacket::Timeout) => {
                    panic!("connection still open after {within:?}; received {before:?}")
                }
            }
        }
    }

    /// Waits (up to the usual timeout) for the server to close the connection.
    pub async fn expect_closed(&mut self) -> Vec<Frame> {
        self.expect_closed_within(WAIT).await
    }

    /// Asserts the server closes the connection without sending anything.
    pub async fn expect_closed_silently(&mut self) {
        let before = self.expect_closed().await;
        assert!(before.is_empty(), "expected a bare close, got {before:?}");
    }

    /// Asserts the server sends a v5 DISCONNECT with `reason`, then closes.
    pub async fn expect_disconnect(&mut self, reason: u8) {
        let before = self.expect_closed().await;
        let last = before
            .last()
            .unwrap_or_else(|| panic!("closed without DISCONNECT {reason:#04x}"));
        assert_eq!(
            last.disconnect_reason(),
            reason,
            "DISCONNECT reason; packets before the close: {before:?}"
        );
    }

    /// Receives a PUBLISH, parsed with this connection's version.
    pub async fn recv_publish(&mut self) -> super::wire::PublishIn {
        let frame = self.recv_skip_ping().await;
        frame.publish(self.v5)
    }

    /// Receives a PUBLISH and acknowledges it as its QoS requires
    /// (PUBACK, or PUBREC then PUBREL/PUBCOMP).
    pub async fn recv_publish_and_ack(&mut self) -> super::wire::PublishIn {
        let publish = self.recv_publish().await;
        match (publish.qos, publish.packet_id) {
            (1, Some(id)) => self.send(&super::wire::puback(id)).await,
            (2, Some(id)) => {
                self.send(&super::wire::pubrec(id)).await;
                let rel = self.recv_skip_ping().await;
                assert_eq!(rel.bytes(), super::wire::pubrel(id), "PUBREL expected");
                self.send(&super::wire::pubcomp(id)).await;
            }
            _ => {}
        }
        publish
    }

    fn parse(&mut self) -> Option<Frame> {
        let mut len = 0usize;
        let mut i = 1;
        loop {
            let byte = *self.buf.get(i)?;
            len |= usize::from(byte & 0x7F) << (7 * (i - 1));
            i += 1;
            if byte & 0x80 == 0 {
                break;
            }
            assert!(i <= 4, "server sent a remaining length over 4 bytes");
        }
        if self.buf.len() < i + len {
            return None;
        }
        let first = self.buf[0];
        let body = self.buf[i..i + len].to_vec();
        self.buf.drain(..i + len);
        Some(Frame { first, body })
    }

    async fn fill(&mut self, deadline: Instant) -> Result<(), NoPacket> {
        let mut chunk = [0u8; 4096];
        match timeout_at(deadline, self.stream.read(&mut chunk)).await {
            Err(_) => Err(NoPacket::Timeout),
            Ok(Ok(0)) => Err(NoPacket::Closed),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                Err(NoPacket::Closed)
            }
            Ok(Err(e)) => panic!("read failed: {e}"),
        }
    }
}
