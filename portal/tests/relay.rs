//! The real `portal` binary follows signed beacon packets sent to a multicast group on
//! loopback: `/s` state changes, ETag/304, `/t` in beacon time, `/healthz`, and forged,
//! replayed or garbled packets never change `/s`.

mod common;

use std::time::Duration;

use common::*;
use crowdlight_proto::wire::{self, Key, Packet, State};

struct Beacon {
    tx: McastSender,
    key: Key,
    boot: u64,
    seq: u64,
    show: [u8; 16],
}

impl Beacon {
    fn new(port: u16, show: [u8; 16]) -> Self {
        Self {
            tx: McastSender::new(port),
            key: Key::dev(),
            boot: random_u64(),
            seq: 0,
            show,
        }
    }
    /// Emits (and returns the bytes of) the next packet for `state`.
    fn send(&mut self, state: State, next: Option<&str>) -> Vec<u8> {
        self.seq += 1;
        let p = Packet {
            show: self.show,
            boot: self.boot,
            seq: self.seq,
            clock_us: now_us(),
            state,
            next: next.map(str::to_string),
            live: None,
        };
        let bytes = wire::emit(&p, &self.key);
        self.tx.send(&bytes);
        bytes
    }
}

fn show_id(file: &str) -> ([u8; 16], String) {
    let show = shows::compile_file(&repo().join("shows/examples").join(file))
        .expect("example show compiles");
    (show.id(), show.id_hex())
}

fn state_of(p: &PortalProcess) -> (serde_json::Value, String) {
    let r = get(p.http, "127.0.0.1", "/s", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=1"));
    (r.json(), r.header("etag").unwrap().to_string())
}

fn wait_state(p: &PortalProcess, want: &str) -> (serde_json::Value, String) {
    poll_until(Duration::from_secs(10), || {
        Some(state_of(p)).filter(|(v, _)| v["state"] == want)
    })
    .unwrap_or_else(|| panic!("/s never became {want}: {:?}", state_of(p).0))
}

fn metric(p: &PortalProcess, line_prefix: &str) -> u64 {
    let m = get(p.http, "127.0.0.1", "/metrics", &[]).text();
    m.lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn s_follows_the_beacon_with_etags_and_ignores_forged_and_replayed_packets() {
    let p = PortalProcess::start(&[]);
    let (id, hex) = show_id("intermission.toml");
    let mut b = Beacon::new(p.mcast_port, id);

    let (v, e0) = state_of(&p);
    assert_eq!(v["state"], "stopped");
    assert_eq!(v["poll"], 1000);
    assert_eq!(get(p.http, "127.0.0.1", "/healthz", &[]).status, 503);

    // standby
    b.send(State::Standby { cue: "warm".into() }, Some("warm"));
    let (v, e1) = wait_state(&p, "standby");
    assert_ne!(e0, e1);
    assert_eq!(v["cue"], "warm");
    assert_eq!(v["next"], "warm");
    assert_eq!(v["poll"], 500);
    assert_eq!(v["show"], format!("/show/{hex}.json"));
    assert_eq!(get(p.http, "127.0.0.1", "/healthz", &[]).status, 200);

    // The announced show is served, immutable, with ETag and 304.
    let r = get(p.http, "127.0.0.1", &format!("/show/{hex}.json"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let compiled = shows::compile_file(&repo().join("shows/examples/intermission.toml")).unwrap();
    assert_eq!(r.text(), compiled.to_json());
    let etag = r.header("etag").unwrap().to_string();
    let r = get(
        p.http,
        "127.0.0.1",
        &format!("/show/{hex}.json"),
        &[("If-None-Match", &etag)],
    );
    assert_eq!(r.status, 304);
    assert_eq!(
        get(
            p.http,
            "127.0.0.1",
            &format!("/show/{}.json", "0".repeat(32)),
            &[]
        )
        .status,
        404
    );

    // go → running, in one packet (i.e. within one repeat interval of the beacon).
    let start = now_us() + 2_000_000;
    let running = b.send(
        State::Running {
            cue: "warm".into(),
            start_us: start,
        },
        None,
    );
    let (v, e2) = wait_state(&p, "running");
    assert_eq!(v["at"], start);
    assert_eq!(v["poll"], 1000);
    assert!(v["held"].is_null());
    // Repeats of the same state keep body and ETag.
    b.send(
        State::Running {
            cue: "warm".into(),
            start_us: start,
        },
        None,
    );
    b.send(
        State::Running {
            cue: "warm".into(),
            start_us: start,
        },
        None,
    );
    std::thread::sleep(Duration::from_millis(200));
    let (_, e2b) = state_of(&p);
    assert_eq!(e2, e2b);
    // 304 on a matching If-None-Match, 200 on a stale one.
    let r = get(p.http, "127.0.0.1", "/s", &[("If-None-Match", &e2)]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(e2.as_str()));
    assert_eq!(
        get(p.http, "127.0.0.1", "/s", &[("If-None-Match", &e1)]).status,
        200
    );

    // /t answers in the beacon timebase (our packets carry our wall clock).
    let r = get(p.http, "127.0.0.1", "/t", &[]);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-clock-source"), Some("beacon"));
    let t = r.json()["t"].as_u64().unwrap();
    assert!(t.abs_diff(now_us()) < 2_000_000, "t={t}");

    // hold
    b.send(
        State::Hold {
            cue: "warm".into(),
            start_us: start,
            offset_us: 1234,
        },
        None,
    );
    let (v, _) = wait_state(&p, "hold");
    assert_eq!(v["held"], 1234);
    assert_eq!(v["at"], start);
    // blackout
    b.send(State::Blackout, None);
    let (v, e_black) = wait_state(&p, "blackout");
    assert!(v["cue"].is_null());
    assert_eq!(v["poll"], 1000);

    // Forged: a valid packet signed with another key, newer seq.
    let forged = Packet {
        show: id,
        boot: b.boot,
        seq: b.seq + 100,
        clock_us: now_us(),
        state: State::Running {
            cue: "evil".into(),
            start_us: now_us(),
        },
        next: None,
        live: None,
    };
    b.tx.send(&wire::emit(&forged, &Key::from_bytes([7; 32])));
    // Tampered: a genuine packet with one flipped byte.
    let mut tampered = running.clone();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x40;
    b.tx.send(&tampered);
    // Replayed: the genuine running packet again.
    b.tx.send(&running);
    // Garbled.
    b.tx.send(b"hello, portal");
    b.tx.send(&[]);
    let counted = poll_until(Duration::from_secs(10), || {
        let bad = metric(&p, "portal_beacon_packets_total{result=\"bad_tag\"}");
        let replay = metric(&p, "portal_beacon_packets_total{result=\"replay\"}");
        let garbled = metric(&p, "portal_beacon_packets_total{result=\"garbled\"}");
        (bad >= 1 && replay >= 1 && garbled >= 1).then_some(())
    });
    assert!(
        counted.is_some(),
        "rejections counted:\n{}",
        get(p.http, "127.0.0.1", "/metrics", &[]).text()
    );
    let (v, e_after) = state_of(&p);
    assert_eq!(v["state"], "blackout");
    assert_eq!(e_after, e_black);

    // stop
    b.send(State::Stopped, None);
    let (v, _) = wait_state(&p, "stopped");
    assert_eq!(v["show"], format!("/show/{hex}.json"));
    assert!(metric(&p, "portal_beacon_packets_total{result=\"accepted\"}") >= 7);
    assert_eq!(metric(&p, "portal_beacon_state{state=\"stopped\"}"), 1);
}

#[test]
fn unknown_show_ids_trigger_a_rescan_of_the_shows_dir() {
    let dir = tempfile::tempdir().unwrap();
    let shows_dir = dir.path().display().to_string();
    let p = PortalProcess::start(&["--shows", &shows_dir]);
    let (id, hex) = show_id("minimal.toml");
    let mut b = Beacon::new(p.mcast_port, id);
    let url = format!("/show/{hex}.json");
    b.send(State::Standby { cue: "x".into() }, None);
    wait_state(&p, "standby");
    assert_eq!(get(p.http, "127.0.0.1", &url, &[]).status, 404);
    // A bad show next to it must not stop anything.
    std::fs::write(dir.path().join("broken.toml"), "this is = not [ a show").unwrap();
    std::fs::copy(
        repo().join("shows/examples/minimal.toml"),
        dir.path().join("minimal.toml"),
    )
    .unwrap();
    let served = poll_until(Duration::from_secs(15), || {
        b.send(State::Standby { cue: "x".into() }, None);
        std::thread::sleep(Duration::from_millis(200));
        (get(p.http, "127.0.0.1", &url, &[]).status == 200).then_some(())
    });
    assert!(served.is_some(), "rescan found the show");
}
