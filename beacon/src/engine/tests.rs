//! Engine tests on a virtual clock.

use super::*;

const T0: u64 = 1_764_000_000_000_000;
const MS: u64 = 1000;

fn cue(name: &str, duration_ms: u64, end: CueEnd) -> CueInfo {
    CueInfo {
        name: name.into(),
        duration_ms,
        end,
    }
}

fn show() -> ShowInfo {
    ShowInfo::new(
        [1; 16],
        "Test".into(),
        "/shows/test.toml".into(),
        vec![
            cue("doors", 10_000, CueEnd::Loop),
            cue("flash", 2_000, CueEnd::End),
            cue("finale", 5_000, CueEnd::Hold),
        ],
    )
    .unwrap()
}

fn engine() -> Engine {
    Engine::new(EngineConfig::default(), 42, T0, Some(show()))
}

/// Drives the engine from `from` to `to` (inclusive) like the daemon does: sleep until
/// `poll_timeout`, send what is due. Returns (time, packet) pairs.
fn run(e: &mut Engine, from: u64, to: u64) -> Vec<(u64, Packet)> {
    let mut out = Vec::new();
    let mut now = from;
    loop {
        while let Some(p) = e.poll_transmit(now) {
            out.push((now, p));
        }
        let next = e.poll_timeout();
        assert!(next > now, "poll_timeout {next} not after {now}");
        if next > to {
            return out;
        }
        now = next;
    }
}

#[test]
fn repeats_at_10_hz_after_initial_burst() {
    let mut e = engine();
    let sent = run(&mut e, T0, T0 + 1000 * MS);
    let times: Vec<u64> = sent.iter().map(|(t, _)| (t - T0) / MS).collect();
    assert_eq!(
        times,
        [0, 20, 50, 150, 250, 350, 450, 550, 650, 750, 850, 950]
    );
    let seqs: Vec<u64> = sent.iter().map(|(_, p)| p.seq).collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
    assert!(sent.iter().all(|(t, p)| p.clock_us == *t && p.boot == 42));
    assert_eq!(sent[0].1.show, [1; 16]);
    assert_eq!(sent[0].1.state, State::Stopped);
    assert_eq!(sent[0].1.next.as_deref(), Some("doors"));
}

#[test]
fn change_sends_burst_and_go_has_lead() {
    let mut e = engine();
    run(&mut e, T0, T0 + 500 * MS);
    let now = T0 + 510 * MS;
    let reply = e
        .handle_command(now, Command::Go(Some("doors".into())))
        .unwrap();
    assert!(reply.message.contains("in 1500 ms"), "{}", reply.message);
    assert_eq!(reply.status.start_us, Some(now + 1500 * MS));
    let sent = run(&mut e, now, now + 200 * MS);
    let times: Vec<u64> = sent.iter().map(|(t, _)| (t - now) / MS).collect();
    assert_eq!(times, [0, 20, 50, 150]);
    assert!(sent.iter().all(|(_, p)| p.state
        == State::Running {
            cue: "doors".into(),
            start_us: now + 1500 * MS
        }));
    assert_eq!(sent[0].1.next.as_deref(), Some("flash"));
}

#[test]
fn standby_then_bare_go_then_next() {
    let mut e = engine();
    e.handle_command(T0, Command::Standby("flash".into()))
        .unwrap();
    assert_eq!(
        e.state(),
        &State::Standby {
            cue: "flash".into()
        }
    );
    assert_eq!(e.packet(T0).next.as_deref(), Some("flash"));
    e.handle_command(T0 + MS, Command::Go(None)).unwrap();
    assert_eq!(e.state().cue(), Some("flash"));
    // Bare go while running: the next cue in show order.
    let r = e.handle_command(T0 + 2 * MS, Command::Go(None)).unwrap();
    assert_eq!(r.status.cue.as_deref(), Some("finale"));
    assert_eq!(r.status.next, None);
    assert_eq!(
        e.handle_command(T0 + 3 * MS, Command::Go(None)),
        Err(CommandError::NothingToGo {
            valid: vec!["doors".into(), "flash".into(), "finale".into()]
        })
    );
}

#[test]
fn standby_while_running_only_arms() {
    let mut e = engine();
    e.handle_command(T0, Command::Go(Some("doors".into())))
        .unwrap();
    let r = e
        .handle_command(T0 + MS, Command::Standby("finale".into()))
        .unwrap();
    assert_eq!(r.status.state, "running");
    assert_eq!(r.status.next.as_deref(), Some("finale"));
    e.handle_command(T0 + 2 * MS, Command::Go(None)).unwrap();
    assert_eq!(e.state().cue(), Some("finale"));
}

#[test]
fn unknown_cue_lists_valid_ones_and_changes_nothing() {
    let mut e = engine();
    e.handle_command(T0, Command::Go(Some("doors".into())))
        .unwrap();
    let before = e.snapshot();
    let err = e
        .handle_command(T0 + MS, Command::Go(Some("nope".into())))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown cue \"nope\"; valid cues: doors, flash, finale"
    );
    assert_eq!(err.kind(), "unknown_cue");
    assert!(e.handle_command(T0, Command::Standby("x".into())).is_err());
    assert_eq!(e.snapshot(), before);
}

#[test]
fn hold_and_resume_keep_the_position() {
    let mut e = engine();
    e.handle_command(T0, Command::Go(Some("doors".into())))
        .unwrap();
    let start = T0 + 1500 * MS;
    assert_eq!(
        e.handle_command(T0, Command::Resume),
        Err(CommandError::NotHeld("running".into()))
    );
    e.handle_command(start + 3000 * MS, Command::Hold).unwrap();
    assert_eq!(
        e.state(),
        &State::Hold {
            cue: "doors".into(),
            start_us: start,
            offset_us: 3000 * MS
        }
    );
    let later = start + 60_000 * MS;
    let r = e.handle_command(later, Command::Resume).unwrap();
    assert_eq!(r.status.start_us, Some(later - 3000 * MS));
    assert_eq!(r.status.state, "running");
    // Hold during the lead time freezes at 0.
    e.handle_command(later, Command::Go(Some("finale".into())))
        .unwrap();
    e.handle_command(later + MS, Command::Hold).unwrap();
    assert_eq!(e.state().offset_us(), Some(0));
}

#[test]
fn end_cue_returns_to_stopped_hold_and_loop_keep_running() {
    let mut e = engine();
    e.handle_command(T0, Command::Go(Some("flash".into())))
        .unwrap();
    let end = T0 + 1500 * MS + 2000 * MS;
    assert_eq!(e.poll_timeout().min(end), e.poll_timeout());
    let sent = run(&mut e, T0, end + 100 * MS);
    let (t, first_stopped) = sent
        .iter()
        .find(|(_, p)| p.state == State::Stopped)
        .unwrap();
    assert_eq!(*t, end, "the end is a timer, not the next repeat");
    assert_eq!(first_stopped.next.as_deref(), Some("finale"));
    // The change burst follows the end.
    assert!(sent.iter().any(|(t, _)| *t == end + 20 * MS));

    for name in ["doors", "finale"] {
        e.handle_command(T0, Command::Go(Some(name.into())))
            .unwrap();
        run(&mut e, T0, T0 + 60_000 * MS);
        assert_eq!(e.state().name(), "running", "{name}");
    }
}

#[test]
fn blackout_stop_and_no_show() {
    let mut e = engine();
    e.handle_command(T0, Command::Go(Some("doors".into())))
        .unwrap();
    e.handle_command(T0, Command::Blackout).unwrap();
    assert_eq!(e.state(), &State::Blackout);
    assert_eq!(e.packet(T0).next.as_deref(), Some("flash"));
    assert_eq!(
        e.handle_command(T0, Command::Hold),
        Err(CommandError::NotRunning("blackout".into()))
    );
    e.handle_command(T0, Command::Stop).unwrap();
    assert_eq!(e.state(), &State::Stopped);

    let mut empty = Engine::new(EngineConfig::default(), 1, T0, None);
    assert_eq!(
        empty.handle_command(T0, Command::Go(None)),
        Err(CommandError::NoShow)
    );
    assert_eq!(empty.poll_transmit(T0).unwrap().show, NO_SHOW);
    let r = empty.handle_command(T0, Command::Status).unwrap();
    assert_eq!(r.status.show, None);
}

#[test]
fn load_replaces_show_and_same_show_keeps_state() {
    let mut e = engine();
    e.handle_command(T0, Command::Go(Some("doors".into())))
        .unwrap();
    let r = e.handle_command(T0, Command::Load(show())).unwrap();
    assert!(r.message.contains("state unchanged"), "{}", r.message);
    assert_eq!(e.state().name(), "running");
    let mut other = show();
    other.id = [2; 16];
    let r = e.handle_command(T0, Command::Load(other)).unwrap();
    assert_eq!(r.status.state, "stopped");
    assert_eq!(r.status.show.as_deref(), Some(&*hex::encode([2u8; 16])));
}

#[test]
fn persists_once_per_change_and_restores_with_new_boot() {
    let mut e = engine();
    assert!(e.poll_persist().is_some());
    assert!(e.poll_persist().is_none());
    e.handle_command(T0, Command::Go(Some("doors".into())))
        .unwrap();
    let snap = e.poll_persist().unwrap();
    assert!(e.poll_persist().is_none());
    let json = serde_json::to_string(&snap).unwrap();
    let snap: Snapshot = serde_json::from_str(&json).unwrap();

    let later = T0 + 30_000 * MS;
    let mut r = Engine::restore(
        EngineConfig::default(),
        43,
        later,
        snap.clone(),
        Some(show()),
    );
    let p = r.poll_transmit(later).expect("first packet at once");
    assert_eq!(p.boot, 43);
    assert_eq!(
        p.state,
        State::Running {
            cue: "doors".into(),
            start_us: T0 + 1500 * MS
        }
    );
    // A show file that changed since: come up stopped.
    let mut changed = show();
    changed.id = [9; 16];
    let r2 = Engine::restore(EngineConfig::default(), 44, later, snap, Some(changed));
    assert_eq!(r2.state(), &State::Stopped);
}

#[test]
fn restore_of_a_finished_end_cue_is_stopped() {
    let mut e = engine();
    e.handle_command(T0, Command::Go(Some("flash".into())))
        .unwrap();
    let snap = e.snapshot();
    let r = Engine::restore(
        EngineConfig::default(),
        2,
        T0 + 3_600 * MS * 1000,
        snap,
        Some(show()),
    );
    assert_eq!(r.state(), &State::Stopped);
    assert_eq!(r.next().as_deref(), Some("finale"));
}

#[test]
fn show_info_validation() {
    let long = "x".repeat(65);
    assert!(matches!(
        ShowInfo::new(
            [0; 16],
            "t".into(),
            "p".into(),
            vec![cue(&long, 1, CueEnd::End)]
        ),
        Err(ShowInfoError::NameTooLong { len: 65, .. })
    ));
    assert_eq!(
        ShowInfo::new([0; 16], "t".into(), "p".into(), vec![]),
        Err(ShowInfoError::NoCues)
    );
}

#[test]
fn clock_text_is_utc_time_of_day() {
    // 2025-11-25 17:00:00.250 UTC
    assert_eq!(clock_text(1_764_090_000_250_000), "17:00:00.250 UTC");
}

fn zoned_engine() -> Engine {
    let mut s = show();
    s.zones = vec!["left".into(), "right".into()];
    Engine::new(EngineConfig::default(), 42, T0, Some(s))
}

fn live(pairs: &[(&str, [u8; 3])]) -> Command {
    Command::Live {
        zones: pairs.iter().map(|(z, c)| ((*z).to_owned(), *c)).collect(),
        lost: false,
    }
}

#[test]
fn live_first_change_is_a_cut_ahead_by_the_lead() {
    let mut e = zoned_engine();
    let now = T0 + 1000 * MS;
    e.handle_command(now, live(&[("right", [255, 0, 0])]))
        .unwrap();
    let p = e.poll_transmit(now).unwrap();
    let layer = p.live.unwrap();
    assert_eq!((layer.at_us, layer.fade_us), (now + LIVE_LEAD_US, 0));
    assert_eq!(
        layer.zones,
        vec![crate::wire::LiveZone {
            zone: 1,
            rgb: [255, 0, 0]
        }]
    );
    // The change burst follows, like any state change.
    assert!(e.poll_timeout() <= now + 20 * MS);
}

#[test]
fn a_continuous_desk_fade_is_coalesced_to_one_layer_per_interval() {
    let mut e = zoned_engine();
    let mut layers = Vec::new();
    // A desk fading "left" from black to white at 44 Hz for 20 s.
    let start = T0 + 1000 * MS;
    let frames = 20 * 44;
    let mut now = start;
    for i in 0..frames {
        now = start + i * 1_000_000 / 44;
        let v = (i * 255 / frames) as u8 + 1;
        for (_, p) in run(&mut e, now.saturating_sub(1_000_000 / 44) + 1, now) {
            if let Some(l) = p.live
                && layers.last() != Some(&l)
            {
                layers.push(l);
            }
        }
        e.handle_command(now, live(&[("left", [v, v, v])])).unwrap();
    }
    for (_, p) in run(&mut e, now + 1, now + 2 * LIVE_INTERVAL_US) {
        if let Some(l) = p.live
            && layers.last() != Some(&l)
        {
            layers.push(l);
        }
    }
    // One cut, then one layer per interval (+ the last one).
    assert!(
        layers.len() <= 1 + 20_000_000 / LIVE_INTERVAL_US as usize + 1,
        "{}",
        layers.len()
    );
    assert_eq!(layers[0].fade_us, 0);
    for pair in layers.windows(2) {
        assert!(pair[1].at_us - pair[0].at_us >= LIVE_INTERVAL_US);
        assert_eq!(pair[1].fade_us, LIVE_INTERVAL_US);
    }
    // The last layer carries the desk's last value.
    let last = frames - 1;
    let v = (last * 255 / frames) as u8 + 1;
    assert_eq!(layers.last().unwrap().zones[0].rgb, [v, v, v]);
}

#[test]
fn live_release_unknown_zones_and_show_changes() {
    let mut e = zoned_engine();
    let err = e
        .handle_command(T0, live(&[("balcony", [1, 2, 3])]))
        .unwrap_err();
    assert_eq!(err.kind(), "unknown_zone");
    assert!(
        e.packet(T0).live.is_none(),
        "nothing held yet: no layer at all"
    );
    e.handle_command(T0, live(&[("left", [9, 9, 9])])).unwrap();
    // Released 5 s later (after the interval): published at once, empty.
    e.handle_command(T0 + 5_000 * MS, live(&[])).unwrap();
    let layer = e.packet(T0 + 5_000 * MS).live.unwrap();
    assert!(layer.zones.is_empty());
    assert_eq!(layer.at_us, T0 + 5_000 * MS + LIVE_LEAD_US);
    // Held, changed 1 s later (deferred), then the desk is lost: released at once.
    e.handle_command(T0 + 10_000 * MS, live(&[("left", [1, 1, 1])]))
        .unwrap();
    e.handle_command(T0 + 11_000 * MS, live(&[("left", [2, 2, 2])]))
        .unwrap();
    assert_eq!(
        e.packet(T0 + 11_000 * MS).live.unwrap().zones[0].rgb,
        [1, 1, 1],
        "deferred"
    );
    let lost = Command::Live {
        zones: Default::default(),
        lost: true,
    };
    e.handle_command(T0 + 12_000 * MS, lost).unwrap();
    let layer = e.packet(T0 + 12_000 * MS).live.unwrap();
    assert!(layer.zones.is_empty());
    assert_eq!(layer.at_us, T0 + 12_000 * MS + LIVE_LEAD_US);
    // Held again, then a show without zones: the layer is emptied at once.
    e.handle_command(T0 + 20_000 * MS, live(&[("right", [1, 1, 1])]))
        .unwrap();
    let mut other = show();
    other.id = [2; 16];
    e.handle_command(T0 + 20_100 * MS, Command::Load(other))
        .unwrap();
    assert!(e.packet(T0 + 20_100 * MS).live.unwrap().zones.is_empty());
    assert!(e.status(T0).live.is_empty());
}
