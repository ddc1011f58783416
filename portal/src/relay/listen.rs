//! The multicast socket loop: joins the beacon group (socket2), verifies each datagram with
//! `crowdlight_proto::receiver::Receiver`, and feeds [`super::RelayState`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Instant;

use crowdlight_proto::receiver::Receiver;
use crowdlight_proto::wire::{Key, MAX_PACKET};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::RelayState;
use crate::shutdown::Shutdown;

/// Where to listen.
#[derive(Clone, Copy, Debug)]
pub struct MulticastConfig {
    /// Multicast group.
    pub group: Ipv4Addr,
    /// UDP port.
    pub port: u16,
    /// Address of the interface to join on (`127.0.0.1` = loopback).
    pub interface: Ipv4Addr,
}

/// Opens a UDP socket bound to `group:port` (SO_REUSEADDR/PORT, so several relays and tests
/// can share the port) and joined to `group` on `interface`.
pub fn open_multicast(cfg: &MulticastConfig) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    // Binding to the group address filters out other groups' traffic on the same port.
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(cfg.group, cfg.port)).into())?;
    socket.join_multicast_v4(&cfg.group, &cfg.interface)?;
    socket.set_multicast_loop_v4(true)?;
    UdpSocket::from_std(socket.into())
}

/// Receives, verifies and applies beacon packets until `shutdown`, each stamped with the
/// relay's own clock ([`RelayState::local_us`]). `show_zones` gives a known show's zone names
/// (`None`: unknown); unknown show ids are sent on `unknown_show` (the catalog rescans,
/// rate-limited).
pub async fn listen(
    socket: UdpSocket,
    key: Key,
    relay: Arc<RelayState>,
    show_zones: impl Fn(&str) -> Option<std::sync::Arc<[String]>> + Send + 'static,
    unknown_show: mpsc::Sender<String>,
    mut shutdown: Shutdown,
) {
    let mut receiver = Receiver::new(key);
    let mut last_warn: Option<Instant> = None;
    let mut buf = vec![0u8; MAX_PACKET * 2];
    loop {
        let len = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((len, _)) => len,
                Err(error) => {
                    tracing::warn!(%error, "relay: multicast recv error");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => return,
        };
        let local_us = relay.local_us();
        match receiver.handle_datagram(local_us, &buf[..len]) {
            Ok(packet) => {
                let zones = crate::relay::show_hex(&packet.show).and_then(|h| show_zones(&h));
                let accepted = relay.handle_packet(packet, local_us, zones.as_deref());
                if let Some(hex) = accepted.show_hex
                    && zones.is_none()
                {
                    let _ = unknown_show.try_send(hex);
                }
            }
            Err(rejection) => {
                relay.count_rejection(&rejection);
                // Logged at most every 5 s (a flood of forgeries must not flood the log);
                // every one is counted in /metrics.
                if last_warn.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(5)) {
                    last_warn = Some(Instant::now());
                    tracing::warn!(%rejection, len, "relay: rejected beacon datagram (see /metrics for counts)");
                } else {
                    tracing::debug!(%rejection, len, "relay: rejected beacon datagram");
                }
            }
        }
    }
}
