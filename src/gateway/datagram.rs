//! What a link carries: datagrams to and from peer addresses, whatever the
//! transport (UDP today; XBee and LoRa frames are more links of the same shape).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, stream};
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
}
