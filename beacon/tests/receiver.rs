//! Packets captured from the real daemon: forged, replayed and truncated copies are refused.

mod common;

use beacon::receiver::{Receiver, Rejection};
use beacon::wire::{self, Key};
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
    receiver.handle_datagram(&first).unwrap();
    receiver.handle_datagram(&second).unwrap();
    // Replay.
    assert!(matches!(
        receiver.handle_datagram(&first),
        Err(Rejection::Replay { .. })
    ));
    // Truncated.
    for len in [0, 3, 18, first.len() - 1] {
        assert!(receiver.handle_datagram(&first[..len]).is_err());
    }
    // Forged: re-signed with another key, or modified.
    let mut packet = wire::parse(&second, &Key::dev()).unwrap();
    packet.seq += 100;
    packet.state = wire::State::Blackout;
    let forged = wire::emit(&packet, &Key::from_bytes([0x55; 32]));
    assert_eq!(receiver.handle_datagram(&forged), Err(Rejection::BadTag));
    let mut flipped = second.clone();
    flipped[20] ^= 0x01;
    assert_eq!(receiver.handle_datagram(&flipped), Err(Rejection::BadTag));
    // A receiver with another key accepts nothing from the dev beacon.
    let mut stranger = Receiver::new(Key::from_bytes([1; 32]));
    assert_eq!(stranger.handle_datagram(&first), Err(Rejection::BadTag));

    let c = receiver.counters();
    assert_eq!(c.accepted, 2);
    assert_eq!(c.replay, 1);
    assert_eq!(c.bad_tag, 3);
    assert_eq!(c.garbled, 3);
}
