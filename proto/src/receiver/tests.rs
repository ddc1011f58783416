//! Receiver tests on a virtual clock: forged, replayed, truncated, stale and new-boot packets,
//! recordings of earlier runs, and restarts.

use super::*;
use crate::wire::{State, emit};

fn with_state(boot: u64, seq: u64, clock_us: u64, state: State) -> Vec<u8> {
    emit(
        &Packet {
            show: [7; 16],
            boot,
            seq,
            clock_us,
            state,
            next: None,
            live: None,
        },
        &Key::dev(),
    )
}

fn pkt(boot: u64, seq: u64, clock_us: u64) -> Vec<u8> {
    with_state(
        boot,
        seq,
        clock_us,
        State::Running {
            cue: "wave".into(),
            start_us: 5_000_000,
        },
    )
}

/// Beacon time = local time + this offset in these tests (the two clocks' origins differ).
const OFFSET: u64 = 1_700_000_000_000_000;

#[test]
fn accepts_newer_and_refuses_replay() {
    let mut rx = Receiver::new(Key::dev());
    assert_eq!(rx.handle_datagram(0, &pkt(1, 10, 1_000)).unwrap().seq, 10);
    assert_eq!(rx.handle_datagram(100, &pkt(1, 11, 1_100)).unwrap().seq, 11);
    assert!(matches!(
        rx.handle_datagram(200, &pkt(1, 11, 1_100)),
        Err(Rejection::Replay { held_seq: 11, .. })
    ));
    assert!(matches!(
        rx.handle_datagram(300, &pkt(1, 3, 1_200)),
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
            live: None,
        },
        &Key::from_bytes([9; 32]),
    );
    assert_eq!(rx.handle_datagram(0, &forged), Err(Rejection::BadTag));
    let good = pkt(1, 1, 0);
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x80;
    assert_eq!(rx.handle_datagram(0, &flipped), Err(Rejection::BadTag));
    for len in [0, 5, 18, good.len() - 1] {
        assert!(rx.handle_datagram(0, &good[..len]).is_err(), "len {len}");
    }
    let mut v2 = good.clone();
    v2[2] = 3;
    assert_eq!(rx.handle_datagram(0, &v2), Err(Rejection::Version(3)));
    assert!(matches!(
        rx.handle_datagram(0, b"hello"),
        Err(Rejection::Garbled(WireError::TooShort(5)))
    ));
    assert!(rx.current().is_none());
    let c = rx.counters();
    assert_eq!((c.bad_tag, c.version, c.accepted), (3, 1, 0));
    assert_eq!(c.garbled, 4, "{c:?}");
    rx.handle_datagram(0, &good).unwrap();
}

#[test]
fn a_restart_with_a_continuing_clock_is_followed_at_once() {
    let mut rx = Receiver::new(Key::dev());
    let t = 10_000_000;
    rx.handle_datagram(t, &pkt(1, 500, t + OFFSET)).unwrap();
    // Boot 1 stops; 300 ms later boot 2 starts with the same clock, seq from 1. Its first
    // packet arrives 2 ms after it was sent.
    let t2 = t + 300_000;
    let p = rx
        .handle_datagram(t2, &pkt(2, 1, t2 - 2_000 + OFFSET))
        .unwrap();
    assert_eq!(p.boot, 2);
    // The old boot's packets, even delayed ones, are replays now.
    assert!(matches!(
        rx.handle_datagram(t2 + 1, &pkt(1, 501, t + 100_000 + OFFSET)),
        Err(Rejection::Replay { held_seq: 0, .. })
    ));
    rx.handle_datagram(t2 + 100_000, &pkt(2, 2, t2 + 100_000 + OFFSET))
        .unwrap();
    // A restart after a long silence (an hour), whatever the two clocks' rate difference
    // within DRIFT_PPM: accepted.
    let t3 = t2 + 3_600_000_000;
    let drifted = t3 + OFFSET - 3_600_000_000 / 1_000_000 * 900;
    assert_eq!(rx.handle_datagram(t3, &pkt(3, 1, drifted)).unwrap().boot, 3);
}

/// Records `n` packets of a boot at 10 Hz, starting at beacon time `from_us`.
fn recording(boot: u64, from_us: u64, n: u64, state: State) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| with_state(boot, i + 1, from_us + i * 100_000, state.clone()))
        .collect()
}

#[test]
fn a_recording_of_an_older_boot_never_takes_over_a_live_beacon() {
    let mut rx = Receiver::new(Key::dev());
    // Rehearsal (boot 1) recorded by a laptop: 600 packets announcing a blackout.
    let old = recording(1, OFFSET, 600, State::Blackout);
    // The show: boot 2 started an hour later; the relay follows it.
    let mut t = 3_600_000_000;
    let mut seq = 1;
    rx.handle_datagram(t, &pkt(2, seq, t + OFFSET)).unwrap();
    // The recording is replayed while boot 2 keeps sending at 10 Hz: not one is accepted.
    for bytes in &old {
        t += 50_000;
        assert!(matches!(
            rx.handle_datagram(t, bytes),
            Err(Rejection::Stale { .. })
        ));
        t += 50_000;
        seq += 1;
        rx.handle_datagram(t, &pkt(2, seq, t + OFFSET)).unwrap();
    }
    assert_eq!(rx.counters().stale, 600);
    let held = rx.current().unwrap();
    assert_eq!((held.boot, held.seq), (2, seq));
    assert_eq!(held.state.name(), "running");
}

#[test]
fn a_recording_never_takes_over_a_silent_relay() {
    let mut rx = Receiver::new(Key::dev());
    let t = 3_600_000_000;
    rx.handle_datagram(t, &pkt(2, 40, t + OFFSET)).unwrap();
    // Boot 2 goes silent. A long recording of the older boot 1, sent at 10 Hz for ten
    // minutes, with rising sequence numbers: refused every time.
    for (i, bytes) in recording(1, OFFSET, 6_000, State::Blackout)
        .iter()
        .enumerate()
    {
        let now = t + 1_000_000 + i as u64 * 100_000;
        assert!(matches!(
            rx.handle_datagram(now, bytes),
            Err(Rejection::Stale { .. })
        ));
    }
    // A recording of the held boot 2 itself (sequence numbers already seen): replays.
    assert!(matches!(
        rx.handle_datagram(t + 700_000_000, &pkt(2, 39, t - 100_000 + OFFSET)),
        Err(Rejection::Replay { .. })
    ));
    assert_eq!(rx.current().unwrap().boot, 2);
    assert_eq!(rx.current().unwrap().seq, 40);
    // The real beacon restarting later is followed on its first packet.
    let later = t + 800_000_000;
    assert_eq!(
        rx.handle_datagram(later, &pkt(3, 1, later + OFFSET))
            .unwrap()
            .boot,
        3
    );
}

#[test]
fn a_recording_of_an_unseen_newer_boot_is_refused_when_old() {
    // The relay holds boot 1; boot 2 ran while the relay was cut off, and was recorded.
    // Replayed two seconds after it was sent, its clock is after boot 1's but in the past.
    let mut rx = Receiver::new(Key::dev());
    rx.handle_datagram(0, &pkt(1, 9, OFFSET)).unwrap();
    let sent = 60_000_000;
    let replayed = sent + 2_000_000;
    assert!(matches!(
        rx.handle_datagram(replayed, &pkt(2, 5, sent + OFFSET)),
        Err(Rejection::Stale {
            behind_us: 2_000_000,
            ..
        })
    ));
    assert_eq!(rx.current().unwrap().boot, 1);
}

#[test]
fn a_beacon_with_its_clock_stepped_back_is_refused_until_the_relay_restarts() {
    let mut rx = Receiver::new(Key::dev());
    let t = 100_000_000;
    rx.handle_datagram(t, &pkt(1, 10, t + OFFSET)).unwrap();
    // The box's clock was stepped back a minute, then the beacon restarted: its packets look
    // like a recording and are refused, however long it sends. The relay keeps boot 1's state.
    for i in 1..=1_000 {
        let now = t + 500_000 + i * 100_000;
        assert!(matches!(
            rx.handle_datagram(now, &pkt(2, i, now + OFFSET - 60_000_000)),
            Err(Rejection::Stale { .. })
        ));
    }
    assert_eq!(rx.current().unwrap().boot, 1);
    // A restarted relay (a fresh receiver) follows it.
    let mut fresh = Receiver::new(Key::dev());
    let now = t + 200_000_000;
    assert_eq!(
        fresh
            .handle_datagram(now, &pkt(2, 2_000, now + OFFSET - 60_000_000))
            .unwrap()
            .boot,
        2
    );
}

#[test]
fn a_fresh_relay_fooled_by_a_recording_follows_the_live_beacon_next() {
    // A relay starting while a recording plays has nothing to compare with and takes the
    // first valid packet; the live beacon's next packet (later clock) replaces it.
    let mut rx = Receiver::new(Key::dev());
    let now = 3_600_000_000;
    rx.handle_datagram(now, &with_state(1, 7, OFFSET, State::Blackout))
        .unwrap();
    let p = rx
        .handle_datagram(now + 50_000, &pkt(2, 70, now + OFFSET))
        .unwrap();
    assert_eq!(p.boot, 2);
    assert!(matches!(
        rx.handle_datagram(
            now + 60_000,
            &with_state(1, 8, OFFSET + 100_000, State::Blackout)
        ),
        Err(Rejection::Replay { .. })
    ));
}

#[test]
fn retired_boots_are_bounded() {
    let mut rx = Receiver::new(Key::dev());
    for boot in 0..(RETIRED_BOOTS as u64 + 3) {
        rx.handle_datagram(boot * 1000, &pkt(boot, 1, boot * 1000 + 1))
            .unwrap();
    }
    assert_eq!(rx.retired.len(), RETIRED_BOOTS);
}
