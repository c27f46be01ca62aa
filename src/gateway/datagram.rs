//! What a link carries: datagrams to and from peer addresses, whatever the
//! transport (UDP today; XBee and LoRa frames are more links of the same shape).

use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, stream};
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};
use tokio::net::UdpSocket;
use tracing::debug;

/// A peer on a link: who sent a datagram, where an answer goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A UDP source address.
    Udp(SocketAddr),
    /// A radio link's own address octets (an XBee 64-bit address, a LoRa node id).
    Radio(Bytes),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Udp(addr) => write!(f, "{addr}"),
            // Nodes behind a forwarder header share the bridge's empty address.
            Self::Radio(octets) if octets.is_empty() => f.write_str("forwarder"),
            Self::Radio(octets) => {
                for octet in octets.iter() {
                    write!(f, "{octet:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// One datagram: one MQTT-SN message, possibly inside a forwarder encapsulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub peer: Peer,
    pub payload: Bytes,
}

/// The address of one MQTT-SN client on a link: the peer it speaks through,
/// and, behind a forwarder (MQTT-SN 1.2 §5.5), the forwarder's id for the
/// wireless node. Each node behind a forwarder is a client of its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientAddr {
    pub peer: Peer,
    pub node: Option<Bytes>,
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.peer)?;
        if let Some(node) = &self.node {
            f.write_str("/node:")?;
            for octet in node.iter() {
                write!(f, "{octet:02x}")?;
            }
        }
        Ok(())
    }
}

/// The sending side of a link. Never waits: a datagram transport that is
/// full drops (as the network would), and the caller counts it.
pub trait DatagramSink: Send + Sync {
    /// Sends one datagram now or fails.
    fn send(&self, datagram: &Datagram) -> io::Result<()>;

    /// Sends each datagram now; returns how many failed. A transport that
    /// can hand the kernel several at once overrides it.
    fn send_all(&self, datagrams: &[Datagram]) -> usize {
        datagrams.iter().filter(|d| self.send(d).is_err()).count()
    }
}

/// The receiving side of a link.
pub type DatagramSource = Pin<Box<dyn Stream<Item = Datagram> + Send>>;

/// One datagram transport, as an `SnLink` drives it.
pub struct LinkTransport {
    /// For logs: `udp:0.0.0.0:1884`, later `xbee:/dev/ttyUSB0`.
    pub name: String,
    pub inbound: DatagramSource,
    pub outbound: Arc<dyn DatagramSink>,
    /// Where ADVERTISE goes; `None` sends none on this link.
    pub advertise_to: Option<Peer>,
}

/// Receive buffer: the largest datagram MQTT-SN's 3-octet Length can describe.
const RECV_BUFFER: usize = 65_536;

/// A bound UDP socket as a link transport.
pub fn udp(socket: UdpSocket, advertise_to: Option<SocketAddr>) -> io::Result<LinkTransport> {
    let name = format!("udp:{}", socket.local_addr()?);
    // Sends go through a duplicate of the descriptor, as a plain non-blocking
    // socket: clients send from their own worker threads, without waiting for
    // the link's reactor to report the socket writable.
    let sender: std::net::UdpSocket = socket2::SockRef::from(&socket).try_clone()?.into();
    let socket = Arc::new(socket);
    let inbound = Box::pin(stream::unfold(
        (socket.clone(), vec![0u8; RECV_BUFFER]),
        |(socket, mut buf)| async move {
            loop {
                match socket.recv_from(&mut buf).await {
                    Ok((n, peer)) => {
                        let datagram = Datagram {
                            peer: Peer::Udp(peer),
                            // Copied out so the receive buffer is reused and a
                            // queued payload holds only its own bytes.
                            payload: Bytes::copy_from_slice(&buf[..n]),
                        };
                        return Some((datagram, (socket, buf)));
                    }
                    // ICMP errors surface here on some systems; the socket is fine.
                    Err(error) => debug!(%error, "UDP receive failed"),
                }
            }
        },
    ));
    Ok(LinkTransport {
        name,
        inbound,
        outbound: Arc::new(UdpSink(sender)),
        advertise_to: advertise_to.map(Peer::Udp),
    })
}

struct UdpSink(std::net::UdpSocket);

impl DatagramSink for UdpSink {
    fn send(&self, datagram: &Datagram) -> io::Result<()> {
        match &datagram.peer {
            Peer::Udp(addr) => self.0.send_to(&datagram.payload, *addr).map(drop),
            Peer::Radio(_) => Err(io::ErrorKind::InvalidInput.into()),
        }
    }

    /// One `sendmmsg` per [`SEND_BATCH`] datagrams. Besides the system calls,
    /// it saves the context switches: each `sendto` wakes the node's side,
    /// which on a busy machine takes the CPU from this thread before its
    /// next answer is out.
    fn send_all(&self, datagrams: &[Datagram]) -> usize {
        let mut failed = 0;
        let mut rest = datagrams;
        while !rest.is_empty() {
            let batch = &rest[..rest.len().min(SEND_BATCH)];
            match send_many(&self.0, batch) {
                Ok(sent) if sent > 0 => rest = &rest[sent..],
                // The kernel stops at the first datagram it refuses: skip it.
                _ => {
                    failed += 1;
                    rest = &rest[1..];
                }
            }
        }
        failed
    }
}

/// Most datagrams given to one `sendmmsg`.
const SEND_BATCH: usize = 64;

/// Sends the leading datagrams of `batch`; returns how many left.
fn send_many(socket: &std::net::UdpSocket, batch: &[Datagram]) -> nix::Result<usize> {
    let addrs: Vec<Option<SockaddrStorage>> = batch
        .iter()
        .map(|d| match d.peer {
            Peer::Udp(addr) => Some(SockaddrStorage::from(addr)),
            Peer::Radio(_) => None,
        })
        .collect();
    let slices: Vec<[IoSlice<'_>; 1]> = batch.iter().map(|d| [IoSlice::new(&d.payload)]).collect();
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(batch.len(), None);
    let no_control: [ControlMessage<'_>; 0] = [];
    let sent = sendmmsg(
        socket.as_raw_fd(),
        &mut headers,
        &slices,
        &addrs,
        no_control,
        MsgFlags::empty(),
    )?;
    Ok(sent.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(peer: Peer, payload: &'static [u8]) -> Datagram {
        Datagram {
            peer,
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn send_all_delivers_each_datagram_to_its_peer_and_counts_the_failures() {
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for receiver in [&a, &b] {
            receiver
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
        }
        let (to_a, to_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let sink = UdpSink(sender);
        let mut batch = vec![
            datagram(Peer::Udp(to_a), b"one"),
            datagram(Peer::Radio(Bytes::from_static(&[1, 2])), b"not UDP"),
            datagram(Peer::Udp(to_b), b"two"),
        ];
        // More than one system call's worth.
        batch.extend((0..SEND_BATCH).map(|_| datagram(Peer::Udp(to_a), b"more")));
        assert_eq!(sink.send_all(&batch), 1, "only the radio peer fails");
        let mut buf = [0u8; 16];
        let n = b.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"two");
        let n = a.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"one");
        for _ in 0..SEND_BATCH {
            let n = a.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"more");
        }
    }
}
