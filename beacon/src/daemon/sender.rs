//! The multicast UDP sender (socket2 set-up, tokio send).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// Opens a UDP socket that sends multicast out of `interface` with `ttl` and `loop_on`.
pub fn open(interface: Ipv4Addr, ttl: u32, loop_on: bool) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_multicast_if_v4(&interface)?;
    s.set_multicast_ttl_v4(ttl)?;
    s.set_multicast_loop_v4(loop_on)?;
    s.bind(&SocketAddr::V4(SocketAddrV4::new(interface, 0)).into())?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}
