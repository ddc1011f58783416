//! The bench's beacon: signed packets (development key) to the loopback multicast group, with
//! `clock_us` = this machine's wall clock, so the true beacon time is the host clock.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};

use anyhow::Context;
use crowdlight_proto::wire::{self, Key, Packet, State};

use crate::host::{now_us, repo};

/// Sends beacon packets for one show.
pub struct Beacon {
    sock: UdpSocket,
    dest: SocketAddr,
    show: [u8; 16],
    seq: u64,
}

impl Beacon {
    /// A beacon for the example show `intermission` on `group:port`.
    pub fn new(group: Ipv4Addr, port: u16) -> anyhow::Result<Self> {
        use socket2::{Domain, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::DGRAM, None)?;
        sock.set_multicast_if_v4(&Ipv4Addr::LOCALHOST)?;
        sock.set_multicast_loop_v4(true)?;
        sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        let file = repo().join("shows/examples/intermission.toml");
        let show = shows::compile_file(&file).with_context(|| format!("{}", file.display()))?;
        Ok(Self {
            sock: sock.into(),
            dest: SocketAddr::V4(SocketAddrV4::new(group, port)),
            show: show.id(),
            seq: 0,
        })
    }

    /// Sends `state` now (a lost datagram is repeated by the next send).
    pub fn send(&mut self, state: State) {
        self.seq += 1;
        let p = Packet {
            show: self.show,
            boot: 7,
            seq: self.seq,
            clock_us: now_us(),
            state,
            next: None,
            live: None,
        };
        let _ = self.sock.send_to(&wire::emit(&p, &Key::dev()), self.dest);
    }
}
