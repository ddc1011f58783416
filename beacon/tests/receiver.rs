//! Packets captured from the real daemon: forged, replayed and truncated copies are refused.

mod common;

use beacon::receiver::{Receiver, Rejection};
use beacon::wire::{self, Key};
use std::time::Duration;

use common::{Daemon, Listener};

#[test]
fn forged_replayed_and_truncated_packets_are_rejected() {
    let d = Daemon::start();
    let rx = Listener::join(d.port);
    let first = rx.raw();
    let second = rx.raw();
    println!("captured packet: {} bytes", first.len());
    assert!(first.len() <= wire::MAX_PACKET);

    let mut receiver = Receiver::new(Key::dev());
    receiver.handle_datagram(0, &first).unwrap();
    receiver.handle_datagram(0, &second).unwrap();
    // Replay.
    assert!(matches!(
        receiver.handle_datagram(0, &first),
        Err(Rejection::Replay { .. })
    ));
    // Truncated.
    for len in [0, 3, 18, first.len() - 1] {
        assert!(receiver.handle_datagram(0, &first[..len]).is_err());
    }
    // Forged: re-signed with another key, or modified.
    let mut packet = wire::parse(&second, &Key::dev()).unwrap();
    packet.seq += 100;
    packet.state = wire::State::Blackout;
    let forged = wire::emit(&packet, &Key::from_bytes([0x55; 32]));
    assert_eq!(receiver.handle_datagram(0, &forged), Err(Rejection::BadTag));
    let mut flipped = second.clone();
    flipped[20] ^= 0x01;
    assert_eq!(
        receiver.handle_datagram(0, &flipped),
        Err(Rejection::BadTag)
    );
    // A receiver with another key accepts nothing from the dev beacon.
    let mut stranger = Receiver::new(Key::from_bytes([1; 32]));
    assert_eq!(stranger.handle_datagram(0, &first), Err(Rejection::BadTag));

    let c = receiver.counters();
    assert_eq!(c.accepted, 2);
    assert_eq!(c.replay, 1);
    assert_eq!(c.bad_tag, 3);
    assert_eq!(c.garbled, 3);
}

/// Sends datagrams to the test group on loopback, as a laptop on the show LAN would.
fn sender() -> std::net::UdpSocket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_multicast_if_v4(&std::net::Ipv4Addr::LOCALHOST)
        .unwrap();
    s.set_multicast_loop_v4(true).unwrap();
    s.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    s.into()
}

#[test]
fn a_recording_of_an_earlier_run_never_takes_over() {
    // The rehearsal, in blackout, recorded off the wire by a laptop (on its own port: the
    // receiver under test never held this boot).
    let mut rehearsal = Daemon::start();
    let laptop = Listener::join(rehearsal.port);
    rehearsal.ok(&["blackout"]);
    let mut seen = Listener::join(rehearsal.port);
    seen.wait_for("blackout", |p| p.state == wire::State::Blackout);
    let recording: Vec<Vec<u8>> = (0..60).map(|_| laptop.raw()).collect();
    rehearsal.kill9();

    // The show: a new run, followed at once (no packet of it refused).
    let live = Daemon::start();
    let mut rx = Listener::join(live.port);
    live.ok(&["standby", "intro"]);
    let held = rx.wait_for("the live boot", |p| p.state.cue() == Some("intro"));
    assert_eq!(rx.receiver.counters().stale, 0, "the restart was refused");

    // Replayed in a burst (no live packet in between) and then spread out, while the live
    // beacon runs: every packet refused, nothing changes.
    let tx = sender();
    let group = std::net::SocketAddr::from((common::GROUP, live.port));
    for round in 0..3u64 {
        for bytes in &recording {
            tx.send_to(bytes, group).unwrap();
            if round > 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while rx.receiver.counters().stale < (round + 1) * recording.len() as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "replays not all seen: {:?}",
                rx.receiver.counters()
            );
            let bytes = rx.raw();
            let now = rx.now_us();
            if let Ok(p) = rx.receiver.handle_datagram(now, &bytes) {
                assert_eq!(p.boot, held.boot, "a recorded packet was accepted");
            }
        }
    }
    let current = rx.receiver.current().unwrap();
    assert_eq!(current.boot, held.boot);
    assert_eq!(current.state.cue(), Some("intro"));
    // The live beacon's next command gets through as usual.
    live.ok(&["go", "intro"]);
    rx.wait_for("running", |p| {
        p.boot == held.boot && matches!(p.state, wire::State::Running { .. })
    });
}
