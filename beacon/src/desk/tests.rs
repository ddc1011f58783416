//! The desk core on a virtual clock: trigger, control, live zones, priority, loss, refusals.

use super::*;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn desk() -> Desk {
    Desk::new(DeskConfig {
        sacn: Some(1),
        artnet: Some(0),
        patch: Patch {
            trigger: Some(1),
            control: Some(2),
            zones: vec!["left=10".parse().unwrap(), "right=13:rgbd".parse().unwrap()],
        },
        allow: Vec::new(),
        interface: Ipv4Addr::LOCALHOST,
    })
}

fn levels(pairs: &[(usize, u8)]) -> Vec<u8> {
    let mut out = vec![0u8; 512];
    for (addr, v) in pairs {
        out[addr - 1] = *v;
    }
    out
}

fn send(d: &mut Desk, now: u64, cid: u8, prio: u8, seq: u8, slots: &[u8]) -> Result<(), Refusal> {
    d.handle_sacn(
        now,
        LO,
        &sacn::encode([cid; 16], "desk", prio, seq, false, 1, slots),
    )
}

#[test]
fn trigger_fires_on_change_only() {
    let mut d = desk();
    send(&mut d, 0, 1, 100, 1, &levels(&[(1, 2)])).unwrap();
    assert_eq!(d.poll_action(), Some(DeskAction::GoNumber(2)));
    send(&mut d, 25_000, 1, 100, 2, &levels(&[(1, 2)])).unwrap();
    assert_eq!(d.poll_action(), None, "a held value is not a GO");
    send(&mut d, 50_000, 1, 100, 3, &levels(&[(1, 0)])).unwrap();
    assert_eq!(d.poll_action(), None, "0 fires nothing");
    send(&mut d, 75_000, 1, 100, 4, &levels(&[(1, 2)])).unwrap();
    assert_eq!(d.poll_action(), Some(DeskAction::GoNumber(2)));
    // Loss then the same value again: no second GO.
    d.handle_timeout(75_000 + SOURCE_TIMEOUT_US);
    send(&mut d, 5_000_000, 1, 100, 9, &levels(&[(1, 2)])).unwrap();
    assert_eq!(d.poll_action(), None);
    assert_eq!(d.status(5_000_000).actions, 2);
}

#[test]
fn control_bands_fire_once() {
    let mut d = desk();
    send(&mut d, 0, 1, 100, 1, &levels(&[(2, 70)])).unwrap();
    send(&mut d, 1, 1, 100, 2, &levels(&[(2, 100)])).unwrap();
    send(&mut d, 2, 1, 100, 3, &levels(&[(2, 200)])).unwrap();
    assert_eq!(
        d.poll_action(),
        Some(DeskAction::Control(ControlAction::Hold))
    );
    assert_eq!(
        d.poll_action(),
        Some(DeskAction::Control(ControlAction::Blackout))
    );
    assert_eq!(d.poll_action(), None);
}

#[test]
fn live_zones_follow_the_desk_and_release_on_loss() {
    let mut d = desk();
    send(&mut d, 0, 1, 100, 1, &levels(&[(10, 255), (12, 10)])).unwrap();
    let live = d.poll_live().unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live["left"], [255, 0, 10]);
    assert_eq!(d.poll_live(), None, "once per change");
    send(&mut d, 1, 1, 100, 2, &levels(&[(10, 255), (12, 10)])).unwrap();
    assert_eq!(d.poll_live(), None);
    assert_eq!(d.poll_timeout(), Some(1 + SOURCE_TIMEOUT_US));
    d.handle_timeout(SOURCE_TIMEOUT_US);
    assert_eq!(d.poll_live(), None, "not yet: 2.5 s after the last packet");
    d.handle_timeout(1 + SOURCE_TIMEOUT_US);
    assert_eq!(d.poll_live(), Some(BTreeMap::new()), "released");
}

#[test]
fn stream_terminated_releases_at_once() {
    let mut d = desk();
    send(&mut d, 0, 1, 100, 1, &levels(&[(10, 255)])).unwrap();
    d.poll_live();
    d.handle_sacn(
        10,
        LO,
        &sacn::encode([1; 16], "desk", 100, 2, true, 1, &levels(&[(10, 255)])),
    )
    .unwrap();
    assert_eq!(d.poll_live(), Some(BTreeMap::new()));
}

#[test]
fn higher_priority_wins_then_hands_back() {
    let mut d = desk();
    send(&mut d, 0, 1, 100, 1, &levels(&[(10, 255)])).unwrap();
    send(&mut d, 0, 2, 150, 1, &levels(&[(11, 255)])).unwrap();
    assert_eq!(d.status(0).held["left"], "#00ff00");
    // The 150 source goes silent; 100 keeps sending.
    for i in 1..=110u64 {
        send(
            &mut d,
            i * 25_000,
            1,
            100,
            (1 + i) as u8,
            &levels(&[(10, 255)]),
        )
        .unwrap();
        d.handle_timeout(i * 25_000);
    }
    assert_eq!(d.status(110 * 25_000).held["left"], "#ff0000");
}

#[test]
fn refusals_are_counted_and_change_nothing() {
    let mut d = desk();
    send(&mut d, 0, 1, 100, 10, &levels(&[(10, 255)])).unwrap();
    d.poll_live();
    assert_eq!(d.handle_sacn(1, LO, b"garbage"), Err(Refusal::Malformed));
    assert_eq!(d.handle_sacn(1, LO, &[0; 1500]), Err(Refusal::Oversized));
    let foreign = sacn::encode([1; 16], "desk", 100, 11, false, 2, &levels(&[(10, 1)]));
    assert_eq!(
        d.handle_sacn(1, LO, &foreign),
        Err(Refusal::ForeignUniverse)
    );
    assert_eq!(
        send(&mut d, 1, 1, 100, 9, &levels(&[(10, 1)])),
        Err(Refusal::Sequence)
    );
    let far = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
    let ok = sacn::encode([1; 16], "desk", 100, 12, false, 1, &levels(&[(10, 1)]));
    assert_eq!(d.handle_sacn(1, far, &ok), Err(Refusal::Denied));
    assert_eq!(d.poll_live(), None);
    let st = d.status(1);
    assert_eq!(st.accepted, 1);
    for reason in [
        "malformed",
        "oversized",
        "foreign_universe",
        "sequence",
        "denied",
    ] {
        assert_eq!(st.refused[reason], 1, "{reason}");
    }
    assert_eq!(st.held["left"], "#ff0000");
}

#[test]
fn artnet_feeds_the_same_merge_and_answers_polls() {
    let mut d = desk();
    let dmx = artnet::encode(1, 0, &levels(&[(13, 255), (16, 255)]));
    assert_eq!(d.handle_artnet(0, LO, &dmx), Ok(None));
    assert_eq!(d.poll_live().unwrap()["right"], [255, 0, 0]);
    let foreign = artnet::encode(2, 5, &levels(&[(13, 255)]));
    assert_eq!(
        d.handle_artnet(0, LO, &foreign),
        Err(Refusal::ForeignUniverse)
    );
    let poll = artnet_protocol::ArtCommand::Poll(artnet_protocol::Poll::default())
        .write_to_buffer()
        .unwrap();
    let reply = d.handle_artnet(0, LO, &poll).unwrap().unwrap();
    assert!(reply.starts_with(b"Art-Net\0\x00\x21"));
    let st = d.status(0);
    assert_eq!(
        (st.poll_replies, st.sources[0].protocol),
        (1, Protocol::Artnet)
    );
    assert_eq!(st.sources[0].priority, ARTNET_PRIORITY);
}

proptest::proptest! {
    /// Whatever arrives, the desk core never panics and counts every datagram once.
    #[test]
    fn any_datagram_is_applied_ignored_or_refused(
        datagrams in proptest::collection::vec(
            (proptest::bool::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..700)),
            1..20,
        )
    ) {
        let mut d = desk();
        for (i, (sacn_port, bytes)) in datagrams.iter().enumerate() {
            let now = i as u64 * 10_000;
            if *sacn_port {
                let _ = d.handle_sacn(now, LO, bytes);
            } else {
                let _ = d.handle_artnet(now, LO, bytes);
            }
            d.handle_timeout(now);
            while d.poll_action().is_some() {}
            let _ = d.poll_live();
        }
        let st = d.status(0);
        let refused: u64 = st.refused.values().sum();
        proptest::prop_assert_eq!(st.accepted + refused + st.ignored + st.poll_replies, datagrams.len() as u64);
    }
}
