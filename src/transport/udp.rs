//! UDP sockets for the MQTT-SN gateway: binding them, and nothing else.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};
use tracing::warn;

/// Kernel receive buffer asked for each socket.
const RECV_BUFFER: usize = 1 << 20;

/// Binds every address; fails on the first that cannot be bound, naming it.
///
/// IPv6 sockets are IPv6-only, so `0.0.0.0:1884` and `[::]:1884` can both be
/// bound. IPv4 sockets may send to the broadcast address (ADVERTISE). When
/// `group` is a multicast address of a socket's family, the socket joins it on
/// every interface, so SEARCHGW sent to the group is heard; a failed join is a
/// warning, not an error (a host without multicast routing still serves unicast).
/// The sockets are non-blocking and not yet registered with a reactor: each
/// is handed to the thread that will serve it.
pub fn bind(addrs: &[SocketAddr], group: Option<SocketAddr>) -> io::Result<Vec<UdpSocket>> {
    addrs
        .iter()
        .map(|addr| {
            bind_one(*addr, group).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot bind {addr} (mqttsn.udp): {e}"))
            })
        })
        .collect()
}

fn bind_one(addr: SocketAddr, group: Option<SocketAddr>) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    } else {
        socket.set_broadcast(true)?;
    }
    // Bursts (a house of nodes reporting at once) wait in the kernel rather
    // than being dropped there; best effort, the kernel caps it at rmem_max.
    let _ = socket.set_recv_buffer_size(RECV_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    if let Some(group) = group {
        join(&socket, group.ip());
    }
    Ok(socket.into())
}

fn join(socket: &Socket, group: IpAddr) {
    let joined = match (socket.local_addr().ok().and_then(|a| a.as_socket()), group) {
        (Some(SocketAddr::V4(_)), IpAddr::V4(group)) if group.is_multicast() => {
            socket.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
        }
        (Some(SocketAddr::V6(_)), IpAddr::V6(group)) if group.is_multicast() => {
            socket.join_multicast_v6(&group, 0)
        }
        _ => return,
    };
    if let Err(error) = joined {
        warn!(%group, %error, "cannot join the MQTT-SN multicast group");
    }
}

/// Where ADVERTISE goes from a socket bound to `local` when no group is
/// configured: the IPv4 broadcast address on the same port; IPv6 has no broadcast.
pub fn broadcast_for(local: SocketAddr) -> Option<SocketAddr> {
    match local {
        SocketAddr::V4(v4) => Some(SocketAddr::from((Ipv4Addr::BROADCAST, v4.port()))),
        SocketAddr::V6(_) => None,
    }
}
