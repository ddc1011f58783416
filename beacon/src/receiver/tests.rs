//! Receiver tests: forged, replayed, truncated, stale and new-boot packets.

use super::*;
use crate::wire::{State, emit};

fn pkt(boot: u64, seq: u64, clock_us: u64) -> Vec<u8> {
    emit(
        &Packet {
            show: [7; 16],
            boot,
            seq,
            clock_us,
            state: State::Running {
                cue: "wave".into(),
                start_us: 5_000_000,
            },
            next: None,
        },
        &Key::dev(),
    )
}

#[test]
fn accepts_newer_and_refuses_replay() {
    let mut rx = Receiver::new(Key::dev());
    assert_eq!(rx.handle_datagram(&pkt(1, 10, 1_000)).unwrap().seq, 10);
    assert_eq!(rx.handle_datagram(&pkt(1, 11, 1_100)).unwrap().seq, 11);
    assert!(matches!(
        rx.handle_datagram(&pkt(1, 11, 1_100)),
        Err(Rejection::Replay { held_seq: 11, .. })
    ));
    assert!(matches!(
        rx.handle_datagram(&pkt(1, 3, 1_200)),
        Err(Rejection::Replay { .. })
    ));
    assert_eq!(rx.current().unwrap().seq, 11);
    assert_eq!(rx.counters().replay, 2);
    assert_eq!(rx.counters().accepted, 2);
}

#[test]
fn refuses_forged_truncated_and_wrong_version() {
    let mut rx = Receiver::new(Key::dev());
    let forged = emit(
        &Packet {
            show: [7; 16],
            boot: 1,
            seq: 1,
            clock_us: 0,
            state: State::Blackout,
            next: None,
        },
        &Key::from_bytes([9; 32]),
    );
    assert_eq!(rx.handle_datagram(&forged), Err(Rejection::BadTag));
    let good = pkt(1, 1, 0);
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x80;
    assert_eq!(rx.handle_datagram(&flipped), Err(Rejection::BadTag));
    for len in [0, 5, 18, good.len() - 1] {
        assert!(rx.handle_datagram(&good[..len]).is_err(), "len {len}");
    }
    let mut v2 = good.clone();
    v2[2] = 2;
    assert_eq!(rx.handle_datagram(&v2), Err(Rejection::Version(2)));
    assert!(matches!(
        rx.handle_datagram(b"hello"),
        Err(Rejection::Garbled(WireError::TooShort(5)))
    ));
    assert!(rx.current().is_none());
    let c = rx.counters();
    assert_eq!((c.bad_tag, c.version, c.accepted), (3, 1, 0));
    assert_eq!(c.garbled, 4, "{c:?}");
    rx.handle_datagram(&good).unwrap();
}

#[test]
fn new_boot_accepted_unless_stale() {
    let mut rx = Receiver::new(Key::dev());
    rx.handle_datagram(&pkt(1, 500, 10_000_000)).unwrap();
    // A restarted beacon: new boot id, seq restarts, clock a little behind (skew) is fine.
    assert_eq!(rx.handle_datagram(&pkt(2, 1, 9_000_000)).unwrap().boot, 2);
    // An old boot's recording, even with a fresh-looking clock, is a replay.
    assert!(matches!(
        rx.handle_datagram(&pkt(1, 501, 9_100_000)),
        Err(Rejection::Replay { held_seq: 0, .. })
    ));
    // An unknown boot far behind the held clock is stale.
    assert_eq!(
        rx.handle_datagram(&pkt(3, 900, 6_000_000)),
        Err(Rejection::Stale {
            boot: 3,
            seq: 900,
            behind_us: 3_000_000
        })
    );
    assert_eq!(rx.counters().stale, 1);
    assert_eq!(rx.current().unwrap().boot, 2);
    // Boot 2 continues.
    rx.handle_datagram(&pkt(2, 2, 9_100_000)).unwrap();
}

#[test]
fn retired_boots_are_bounded() {
    let mut rx = Receiver::new(Key::dev());
    for boot in 0..(RETIRED_BOOTS as u64 + 3) {
        rx.handle_datagram(&pkt(boot, 1, boot * 1000)).unwrap();
    }
    assert_eq!(rx.retired.len(), RETIRED_BOOTS);
}

#[test]
fn a_persistent_new_boot_takes_over_after_a_clock_step_back() {
    let mut rx = Receiver::new(Key::dev());
    rx.handle_datagram(&pkt(1, 10, 100_000_000)).unwrap();
    // The beacon restarted with its clock stepped back by a minute; boot 1 is silent.
    for i in 1..STALE_TAKEOVER as u64 {
        assert!(matches!(
            rx.handle_datagram(&pkt(2, i, 40_000_000 + i * 100_000)),
            Err(Rejection::Stale { .. })
        ));
    }
    let p = rx
        .handle_datagram(&pkt(2, STALE_TAKEOVER as u64, 45_000_000))
        .unwrap();
    assert_eq!(p.boot, 2);
    // Boot 1 is retired now: its packets are replays.
    assert!(matches!(
        rx.handle_datagram(&pkt(1, 11, 100_100_000)),
        Err(Rejection::Replay { .. })
    ));
}

#[test]
fn a_live_boot_resets_the_takeover_count() {
    let mut rx = Receiver::new(Key::dev());
    rx.handle_datagram(&pkt(1, 1, 100_000_000)).unwrap();
    for i in 1..=(3 * STALE_TAKEOVER as u64) {
        // The held boot keeps talking: a replayed old-clock boot never takes over.
        rx.handle_datagram(&pkt(1, 1 + i, 100_000_000 + i)).unwrap();
        assert!(rx.handle_datagram(&pkt(9, i, 1_000)).is_err());
    }
    assert_eq!(rx.current().unwrap().boot, 1);
}
