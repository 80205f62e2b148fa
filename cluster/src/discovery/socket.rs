//! The discovery socket: UDP on the group's port, joined to the group on
//! each interface it announces on, TTL 1 (announcements stay on the LAN),
//! looped back so nodes on one host hear each other, shared by every node
//! of the host (SO_REUSEPORT).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

pub fn open(group: SocketAddrV4, interfaces: &[Ipv4Addr]) -> io::Result<tokio::net::UdpSocket> {
    assert!(!interfaces.is_empty(), "discovery needs an interface");
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, group.port()).into())?;
    for interface in interfaces {
        socket.join_multicast_v4(group.ip(), interface)?;
    }
    socket.set_multicast_loop_v4(true)?;
    socket.set_multicast_ttl_v4(1)?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Sends `bytes` to `group` out of `interface` (the unspecified address:
/// the kernel's choice).
pub async fn send_on(
    socket: &tokio::net::UdpSocket,
    interface: Ipv4Addr,
    bytes: &[u8],
    group: SocketAddrV4,
) -> io::Result<()> {
    if !interface.is_unspecified() {
        SockRef::from(socket).set_multicast_if_v4(&interface)?;
    }
    socket.send_to(bytes, group).await.map(|_| ())
}

/// The IPv4 addresses of the host's interfaces that are up, take multicast
/// and are not loopback; none: the kernel's choice.
pub fn lan_interfaces() -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = pnet_datalink::interfaces()
        .into_iter()
        .filter(|i| i.is_up() && i.is_multicast() && !i.is_loopback())
        .flat_map(|i| i.ips)
        .filter_map(|ip| match ip.ip() {
            IpAddr::V4(v4) if !v4.is_loopback() => Some(v4),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push(Ipv4Addr::UNSPECIFIED);
    }
    out
}
