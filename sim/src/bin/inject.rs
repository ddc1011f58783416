//! `inject`: a rogue host on the venue LAN. Captures one real beacon packet from the multicast
//! group, then sends it again later (a replay), sends a copy with one body byte flipped
//! (tampered) and a packet signed with a key that is not the venue key (forged, announcing a
//! blackout from a new boot). A relay must ignore all three and count them.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use crowdlight_proto::wire::{self, Key, Packet, State};
use socket2::{Domain, Protocol, Socket, Type};

/// Capture a beacon packet and inject a replay, a tampered copy and a forgery.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Multicast group.
    #[arg(long, default_value = "239.255.77.77")]
    group: Ipv4Addr,
    /// Multicast port.
    #[arg(long, default_value_t = 7777)]
    port: u16,
    /// Address of the interface to listen and send on.
    #[arg(long, default_value = "127.0.0.1")]
    interface: Ipv4Addr,
    /// Venue key file to decode the captured packet (default: the development key).
    #[arg(long)]
    key_file: Option<std::path::PathBuf>,
    /// Wait this long after the capture before replaying it, ms.
    #[arg(long, default_value_t = 1500)]
    replay_after_ms: u64,
    /// Give up capturing after this long, ms.
    #[arg(long, default_value_t = 5000)]
    capture_timeout_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let key = match &args.key_file {
        Some(path) => Key::load(path).with_context(|| format!("loading {}", path.display()))?,
        None => Key::dev(),
    };
    let rx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    rx.set_reuse_address(true)?;
    rx.bind(&SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, args.port)).into())?;
    rx.join_multicast_v4(&args.group, &args.interface)
        .context("joining the beacon group")?;
    let rx: UdpSocket = rx.into();
    rx.set_read_timeout(Some(Duration::from_millis(args.capture_timeout_ms)))?;
    let mut buf = [0u8; 2048];
    let n = rx.recv(&mut buf).context("no beacon packet captured")?;
    let captured = buf[..n].to_vec();
    let real = wire::parse(&captured, &key).context("captured packet does not verify")?;
    println!(
        "captured: boot {:016x} seq {} state {}",
        real.boot,
        real.seq,
        real.state.name()
    );

    let tx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    tx.set_multicast_if_v4(&args.interface)?;
    tx.set_multicast_ttl_v4(1)?;
    tx.set_multicast_loop_v4(true)?;
    tx.bind(&SocketAddr::V4(SocketAddrV4::new(args.interface, 0)).into())?;
    let tx: UdpSocket = tx.into();
    let dest = SocketAddrV4::new(args.group, args.port);

    std::thread::sleep(Duration::from_millis(args.replay_after_ms));
    tx.send_to(&captured, dest)?;
    println!("sent replay: {} bytes", captured.len());

    let mut tampered = captured.clone();
    let flip = wire::HEADER_LEN + 1;
    if tampered.len() <= flip + wire::TAG_LEN {
        bail!("captured packet too short to tamper with");
    }
    tampered[flip] ^= 0x40;
    tx.send_to(&tampered, dest)?;
    println!("sent tampered copy (byte {flip} flipped)");

    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let forged = Packet {
        show: real.show,
        boot: real.boot ^ 0x5eed_5eed_5eed_5eed,
        seq: real.seq + 1_000_000,
        clock_us: now_us,
        state: State::Blackout,
        next: None,
        live: None,
    };
    let wrong_key = Key::from_bytes([0x42; 32]);
    tx.send_to(&wire::emit(&forged, &wrong_key), dest)?;
    // Also the same boot with a higher seq, as a forger would prefer.
    let forged_same_boot = Packet {
        boot: real.boot,
        ..forged.clone()
    };
    tx.send_to(&wire::emit(&forged_same_boot, &wrong_key), dest)?;
    println!("sent 2 forged blackout packets (wrong key)");
    Ok(())
}
