//! A client's byte stream to the broker: MQTT over plain TCP, or over a
//! WebSocket (RFC 6455), hand-rolled here so that the load stays the same as
//! over TCP: one write of the load generator is one binary frame.
//!
//! WebSocket: an HTTP/1.1 upgrade asking for the subprotocol `mqtt`, then
//! binary frames, masked from the client as RFC 6455 §5.3 requires. The broker's
//! frames (binary or continuation) are unwrapped into the same byte stream an
//! MQTT decoder reads over TCP; a close frame reads as end of stream, a ping is
//! answered with a pong before the next write or read.

use std::io;
use std::net::SocketAddr;

use bytes::{Buf as _, BufMut as _, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The key of RFC 6455 §1.3's example handshake, and the answer it must get.
const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Largest HTTP response head accepted during the upgrade.
const MAX_HEAD: usize = 16 * 1024;

/// Where and how a client connects.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    /// MQTT over TCP.
    Tcp(SocketAddr),
    /// MQTT over a WebSocket at `ws://ADDR{path}`.
    Ws(SocketAddr, &'static str),
}

/// An open connection.
pub enum Conn {
    Tcp(TcpStream),
    Ws(Box<Ws>),
}

/// A WebSocket connection's state.
pub struct Ws {
    stream: TcpStream,
    /// Bytes read from the socket and not yet unframed (a partial frame).
    raw: BytesMut,
    /// A frame being built for a write.
    frame: BytesMut,
    mask: [u8; 4],
    /// Payloads of pings to answer.
    pongs: Vec<BytesMut>,
    /// The broker sent a close frame: nothing more will come.
    closed: bool,
}

impl Conn {
    /// Opens a connection to `endpoint` (with `TCP_NODELAY`, as every broker sets it too).
    pub async fn open(endpoint: Endpoint) -> anyhow::Result<Self> {
        let addr = match endpoint {
            Endpoint::Tcp(addr) | Endpoint::Ws(addr, _) => addr,
        };
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to {addr}: {e}"))?;
        stream.set_nodelay(true)?;
        match endpoint {
            Endpoint::Tcp(_) => Ok(Self::Tcp(stream)),
            Endpoint::Ws(addr, path) => {
                Ok(Self::Ws(Box::new(Ws::upgrade(stream, addr, path).await?)))
            }
        }
    }

    /// Writes all of `data` (over a WebSocket: as one binary frame).
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Self::Tcp(stream) => stream.write_all(data).await,
            Self::Ws(ws) => {
                ws.frame.clear();
                ws.queue_pongs();
                put_frame(&mut ws.frame, OP_BINARY, data, ws.mask);
                ws.stream.write_all(&ws.frame).await
            }
        }
    }

    /// Reads at least one byte of the broker's stream into `out`, waiting for it;
    /// 0 at the end of the stream. Cancel-safe: bytes read are kept, whole or not.
    pub async fn read_buf(&mut self, out: &mut BytesMut) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.read_buf(out).await,
            Self::Ws(ws) => loop {
                let n = ws.unframe(out)?;
                if n > 0 || ws.closed {
                    return Ok(n);
                }
                ws.answer_pings().await?;
                ws.raw.reserve(64 * 1024);
                if ws.stream.read_buf(&mut ws.raw).await? == 0 {
                    return Ok(0);
                }
            },
        }
    }

    /// Reads what the broker has sent without waiting: `WouldBlock` if nothing.
    pub fn try_read_buf(&mut self, out: &mut BytesMut) -> io::Result<usize> {
        match self {
            Self::Tcp(stream) => stream.try_read_buf(out),
            Self::Ws(ws) => loop {
                let n = ws.unframe(out)?;
                if n > 0 || ws.closed {
                    return Ok(n);
                }
                ws.raw.reserve(64 * 1024);
                if ws.stream.try_read_buf(&mut ws.raw)? == 0 {
                    return Ok(0);
                }
            },
        }
    }
}

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

impl Ws {
    /// The opening handshake (RFC 6455 §4.1) on a connected stream.
    async fn upgrade(mut stream: TcpStream, addr: SocketAddr, path: &str) -> anyhow::Result<Self> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: mqtt\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = BytesMut::with_capacity(1024);
        let head_len = loop {
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if raw.len() > MAX_HEAD {
                anyhow::bail!("ws://{addr}{path}: HTTP response head over {MAX_HEAD} bytes");
            }
            if stream.read_buf(&mut raw).await? == 0 {
                anyhow::bail!("ws://{addr}{path}: connection closed during the upgrade");
            }
        };
        let head = raw.split_to(head_len);
        check_upgrade(&String::from_utf8_lossy(&head))
            .map_err(|e| anyhow::anyhow!("ws://{addr}{path}: {e}"))?;
        // Any key will do for a load generator; one per connection, never all zeros.
        let seed = u32::from(addr.port()) ^ (stream.local_addr()?.port() as u32) << 16;
        Ok(Self {
            stream,
            raw,
            frame: BytesMut::new(),
            mask: (seed | 1).wrapping_mul(0x9E37_79B9).to_be_bytes(),
            pongs: Vec::new(),
            closed: false,
        })
    }

    /// Moves the payload of every whole frame in `raw` to `out`; returns the bytes moved.
    fn unframe(&mut self, out: &mut BytesMut) -> io::Result<usize> {
        let mut moved = 0;
        while let Some(frame) = parse_frame(&self.raw)? {
            let payload = &self.raw[frame.payload_start..frame.end];
            match frame.opcode {
                OP_BINARY | OP_CONTINUATION => {
                    out.extend_from_slice(payload);
                    moved += payload.len();
                }
                OP_PING => self.pongs.push(BytesMut::from(payload)),
                OP_PONG => {}
                OP_CLOSE => self.closed = true,
                OP_TEXT => return Err(invalid("the broker sent a text frame")),
                other => return Err(invalid(&format!("unknown WebSocket opcode {other:#x}"))),
            }
            self.raw.advance(frame.end);
            if self.closed {
                break;
            }
        }
        Ok(moved)
    }

    /// Puts a pong for every ping received into the frame being built.
    fn queue_pongs(&mut self) {
        for ping in std::mem::take(&mut self.pongs) {
            put_frame(&mut self.frame, OP_PONG, &ping, self.mask);
        }
    }

    async fn answer_pings(&mut self) -> io::Result<()> {
        if self.pongs.is_empty() {
            return Ok(());
        }
        self.frame.clear();
        self.queue_pongs();
        self.stream.write_all(&self.frame).await
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Checks the server's answer to the upgrade: 101, the right accept key, subprotocol `mqtt`.
fn check_upgrade(head: &str) -> Result<(), String> {
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("101") {
        return Err(format!("upgrade refused: {status:?}"));
    }
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    if header("Sec-WebSocket-Accept").as_deref() != Some(WS_ACCEPT) {
        return Err(format!("wrong Sec-WebSocket-Accept in {head:?}"));
    }
    if header("Sec-WebSocket-Protocol").as_deref() != Some("mqtt") {
        return Err(format!("subprotocol mqtt not accepted in {head:?}"));
    }
    Ok(())
}

/// Where one whole frame lies in a buffer.
#[derive(Debug, PartialEq, Eq)]
struct Frame {
    opcode: u8,
    payload_start: usize,
    end: usize,
}

/// The first frame of `buf` if it is whole. Frames from a server are not masked (§5.1).
fn parse_frame(buf: &[u8]) -> io::Result<Option<Frame>> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b1 & 0x80 != 0 {
        return Err(invalid("the broker sent a masked frame"));
    }
    let (len, header) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(bytes) => (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(bytes) => (u64::from_be_bytes(bytes), 10),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    let len = usize::try_from(len).map_err(|_| invalid("WebSocket frame too large"))?;
    let end = header + len;
    Ok((buf.len() >= end).then_some(Frame {
        opcode: b0 & 0x0F,
        payload_start: header,
        end,
    }))
}

/// Appends one final, masked frame carrying `payload` to `out`.
fn put_frame(out: &mut BytesMut, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.reserve(payload.len() + 14);
    out.put_u8(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => out.put_u8(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            out.put_u8(0x80 | 126);
            out.put_u16(len as u16);
        }
        len => {
            out.put_u8(0x80 | 127);
            out.put_u64(len as u64);
        }
    }
    out.put_slice(&mask);
    let start = out.len();
    out.put_slice(payload);
    for (i, byte) in out[start..].iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unmasks a client frame as a server would; returns (opcode, payload, frame length).
    fn server_read(buf: &[u8]) -> (u8, Vec<u8>, usize) {
        assert_eq!(buf[0] & 0x80, 0x80, "FIN");
        assert_eq!(buf[1] & 0x80, 0x80, "masked");
        let (len, mut at) = match buf[1] & 0x7F {
            126 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 => (
                usize::try_from(u64::from_be_bytes(buf[2..10].try_into().unwrap())).unwrap(),
                10,
            ),
            n => (usize::from(n), 2),
        };
        let mask = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        let payload = buf[at..at + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i & 3])
            .collect();
        (buf[0] & 0x0F, payload, at + len)
    }

    #[test]
    fn client_frames_are_masked_and_sized_in_all_three_length_forms() {
        for len in [0, 125, 126, 4000, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = BytesMut::new();
            put_frame(&mut out, OP_BINARY, &payload, [1, 2, 3, 4]);
            let (opcode, read, frame_len) = server_read(&out);
            assert_eq!((opcode, read.len(), frame_len), (OP_BINARY, len, out.len()));
            assert_eq!(read, payload);
        }
    }

    #[test]
    fn server_frames_are_read_whole_or_not_at_all() {
        let mut frame = vec![0x82, 126, 0x01, 0x00];
        frame.extend(std::iter::repeat_n(7u8, 256));
        for cut in 0..frame.len() {
            assert_eq!(parse_frame(&frame[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(
            parse_frame(&frame).unwrap(),
            Some(Frame {
                opcode: OP_BINARY,
                payload_start: 4,
                end: 260
            })
        );
        assert!(parse_frame(&[0x82, 0x81, 0, 0, 0, 0, 1]).is_err(), "masked");
    }

    #[test]
    fn the_upgrade_answer_is_checked() {
        let good = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                    sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
        assert_eq!(check_upgrade(good), Ok(()));
        assert!(check_upgrade(&good.replace("101 Switching Protocols", "404 Not Found")).is_err());
        assert!(check_upgrade(&good.replace("s3pP", "xxxx")).is_err());
        assert!(check_upgrade(&good.replace("Protocol: mqtt", "Protocol: mqttv3.1")).is_err());
    }

    #[tokio::test]
    async fn a_websocket_carries_bytes_both_ways_and_answers_pings() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = BytesMut::new();
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                socket.read_buf(&mut buf).await.unwrap();
            }
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {WS_ACCEPT}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
            );
            // The answer, then a ping and "hello" split over two binary frames, in one write.
            let mut out = answer.into_bytes();
            out.extend([
                0x89, 2, b'p', b'!', 0x02, 3, b'h', b'e', b'l', 0x80, 2, b'l', b'o',
            ]);
            socket.write_all(&out).await.unwrap();
            // Expect the pong, then the client's frame.
            let mut got = BytesMut::new();
            let mut frames = Vec::new();
            while frames.len() < 2 {
                socket.read_buf(&mut got).await.unwrap();
                // Both frames are short: 2 header bytes, 4 of mask, the payload.
                while got.len() >= 2 && got.len() >= 6 + usize::from(got[1] & 0x7F) {
                    let (opcode, payload, len) = server_read(&got);
                    frames.push((opcode, payload));
                    got.advance(len);
                }
            }
            socket.write_all(&[0x88, 0]).await.unwrap(); // close
            frames
        });
        let mut conn = Conn::open(Endpoint::Ws(addr, "/mqtt")).await.unwrap();
        let mut input = BytesMut::new();
        while input.len() < 5 {
            assert!(conn.read_buf(&mut input).await.unwrap() > 0);
        }
        assert_eq!(&input[..], b"hello");
        conn.write_all(b"abc").await.unwrap();
        assert_eq!(conn.read_buf(&mut input).await.unwrap(), 0, "closed");
        let frames = server.await.unwrap();
        assert_eq!(
            frames,
            [(OP_PONG, b"p!".to_vec()), (OP_BINARY, b"abc".to_vec())]
        );
    }
}
