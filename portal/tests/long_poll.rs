//! `/s?after=V` long-poll on the real binary with signed beacon packets on loopback multicast:
//! parked requests are woken by a state change (and counted in `portal_listeners` while they
//! wait), time out with the current state (200, or 304 to a matching `If-None-Match`), bad
//! `after` values are answered at once, two relays hearing the same beacon agree on `v`, a
//! beacon restart resuming the same cue keeps `v`, and SIGTERM answers parked requests.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use crowdlight_proto::wire::{self, Key, Packet, State};

/// Signed packets from one beacon boot.
struct Beacon {
    tx: McastSender,
    boot: u64,
    seq: u64,
}

impl Beacon {
    fn new(port: u16) -> Self {
        Self {
            tx: McastSender::new(port),
            boot: random_u64(),
            seq: 0,
        }
    }

    fn send(&mut self, state: State) {
        self.seq += 1;
        let p = Packet {
            show: [7; 16],
            boot: self.boot,
            seq: self.seq,
            clock_us: now_us(),
            state,
            next: None,
            live: None,
        };
        self.tx.send(&wire::emit(&p, &Key::dev()));
    }
}

fn state(p: &PortalProcess) -> (u64, String, serde_json::Value) {
    let r = get(p.http, "127.0.0.1", "/s", &[]);
    assert_eq!(r.status, 200);
    let v = r.json();
    let version = v["v"].as_u64().expect("v is an unsigned integer");
    assert!(version < 1 << 53);
    (version, r.header("etag").unwrap().to_string(), v)
}

fn wait_for(p: &PortalProcess, want: &str) -> (u64, String, serde_json::Value) {
    poll_until(Duration::from_secs(10), || {
        Some(state(p)).filter(|(_, _, v)| v["state"] == want)
    })
    .unwrap_or_else(|| panic!("/s never became {want}"))
}

/// Sends a long-poll on a new keep-alive connection (not read yet).
fn park(addr: SocketAddr, after: u64, extra: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET /s?after={after} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n"
    )
    .unwrap();
    s
}

fn listeners(p: &PortalProcess) -> i64 {
    metric_value(p.http, "portal_listeners")
}

#[test]
fn parked_requests_are_woken_by_a_state_change() {
    let p = PortalProcess::start(&["--long-poll-wait-ms", "30000"]);
    let (v0, etag0, _) = state(&p);
    let mut parked: Vec<TcpStream> = (0..5).map(|_| park(p.http, v0, "")).collect();
    parked.push(park(p.http, v0, &format!("If-None-Match: {etag0}\r\n")));
    let all = poll_until(Duration::from_secs(10), || {
        (listeners(&p) == 6).then_some(())
    });
    assert!(all.is_some(), "portal_listeners = {}", listeners(&p));
    let mut b = Beacon::new(p.mcast_port);
    b.send(State::Standby { cue: "warm".into() });
    let mut seen = None;
    for s in &mut parked {
        let r = read_response(s);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("cache-control"), Some("public, max-age=1"));
        let v = r.json();
        assert_eq!(v["state"], "standby");
        assert_ne!(v["v"].as_u64(), Some(v0));
        seen.get_or_insert(v["v"].clone());
        assert_eq!(Some(&v["v"]), seen.as_ref());
    }
    let gone = poll_until(Duration::from_secs(10), || {
        (listeners(&p) == 0).then_some(())
    });
    assert!(gone.is_some(), "portal_listeners back to 0");
    // The connections stay usable: the next long-poll with the new v parks again.
    let v1 = seen.unwrap().as_u64().unwrap();
    let s = &mut parked[0];
    write!(s, "GET /s?after={v1} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let one = poll_until(Duration::from_secs(10), || {
        (listeners(&p) == 1).then_some(())
    });
    assert!(one.is_some());
    b.send(State::Running {
        cue: "warm".into(),
        start_us: now_us() + 1_000_000,
    });
    let r = read_response(s);
    assert_eq!(r.json()["state"], "running");
    assert!(
        metric_value(
            p.http,
            "portal_http_requests_total{route=\"s\",status=\"200\"}"
        ) >= 7
    );
}

#[test]
fn a_parked_request_times_out_with_the_current_state() {
    let p = PortalProcess::start(&["--long-poll-wait-ms", "300"]);
    let (v0, etag0, body0) = state(&p);
    let mut s = park(p.http, v0, "");
    let r = read_response(&mut s);
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), body0);
    assert_eq!(r.header("etag"), Some(etag0.as_str()));
    // Unchanged after the wait: not for a shared cache (it would hand it straight back).
    assert_eq!(r.header("cache-control"), Some("public, max-age=0"));
    // Same connection, with the ETag: 304 after the wait.
    write!(
        s,
        "GET /s?after={v0} HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: {etag0}\r\n\r\n"
    )
    .unwrap();
    let r = read_response(&mut s);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    // HEAD parks too and gets the head only.
    write!(s, "HEAD /s?after={v0} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let r = read_head(&mut s);
    assert_eq!(r.status, 200);
    assert_eq!(listeners(&p), 0);
}

/// Reads the head of a response to HEAD (no body follows).
fn read_head(s: &mut TcpStream) -> Resp {
    use std::io::Read;
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "closed");
        raw.push(byte[0]);
    }
    parse_response(&raw)
}

#[test]
fn bad_after_values_are_answered_at_once() {
    // A 30 s wait: any of these that parked would hit the 20 s read timeout and fail.
    let p = PortalProcess::start(&["--long-poll-wait-ms", "30000"]);
    let (v0, _, _) = state(&p);
    let other = (v0 + 1) % (1 << 53);
    for query in [
        "after=".to_string(),
        "after".to_string(),
        "after=abc".to_string(),
        "after=-1".to_string(),
        format!("after={v0}&after={v0}"),
        format!("after=+{v0}"),
        format!("after={v0}.0"),
        "after=99999999999999999999999999999999".to_string(),
        "after=18446744073709551616".to_string(),
        "after=9007199254740992".to_string(),
        format!("after={other}"),
        format!("after=%20{v0}"),
        "after=\u{e9}".to_string(),
    ] {
        let r = get(p.http, "127.0.0.1", &format!("/s?{query}"), &[]);
        assert!(r.status == 200 || r.status == 400, "{query}: {}", r.status);
        if r.status == 200 {
            assert_eq!(r.json()["v"], v0, "{query}");
        }
    }
    assert_eq!(listeners(&p), 0);
    // The portal is still fine.
    assert_eq!(state(&p).0, v0);
}

#[test]
fn two_relays_hearing_the_same_beacon_agree_on_v() {
    let port = random_port();
    let a = PortalProcess::start_on(port, &[]);
    let b = PortalProcess::start_on(port, &[]);
    assert_eq!(state(&a).0, state(&b).0, "same v before any packet");
    let mut beacon = Beacon::new(port);
    let start = now_us() + 2_000_000;
    beacon.send(State::Running {
        cue: "warm".into(),
        start_us: start,
    });
    let (va, ea, _) = wait_for(&a, "running");
    let (vb, eb, _) = wait_for(&b, "running");
    assert_eq!(va, vb);
    assert_eq!(ea, eb);
    // A parked request on one relay with the other's v parks (same version).
    let mut s = park(a.http, vb, "");
    assert!(
        poll_until(Duration::from_secs(10), || (listeners(&a) == 1)
            .then_some(()))
        .is_some()
    );
    beacon.send(State::Blackout);
    assert_eq!(read_response(&mut s).json()["state"], "blackout");
}

#[test]
fn a_beacon_restart_resuming_the_same_cue_keeps_v() {
    let p = PortalProcess::start(&["--long-poll-wait-ms", "1500"]);
    let start = now_us() + 1_000_000;
    let running = State::Running {
        cue: "warm".into(),
        start_us: start,
    };
    let mut first = Beacon::new(p.mcast_port);
    first.send(running.clone());
    let (v1, etag1, _) = wait_for(&p, "running");
    let changes = metric_value(p.http, "portal_beacon_state_changes_total");
    // A parked phone across the restart: not woken by it, answered with the same v.
    let mut s = park(p.http, v1, "");
    // The beacon restarts (new boot id, seq from 1) and resumes the same cue.
    let mut second = Beacon::new(p.mcast_port);
    for _ in 0..3 {
        second.send(running.clone());
        std::thread::sleep(Duration::from_millis(50));
    }
    let accepted = poll_until(Duration::from_secs(10), || {
        (metric_value(p.http, "portal_beacon_packets_total{result=\"accepted\"}") >= 4)
            .then_some(())
    });
    assert!(accepted.is_some(), "the restarted beacon is followed");
    let r = read_response(&mut s);
    assert_eq!(r.json()["v"], v1);
    let (v2, etag2, _) = state(&p);
    assert_eq!((v2, etag2), (v1, etag1));
    assert_eq!(
        metric_value(p.http, "portal_beacon_state_changes_total"),
        changes
    );
}

#[test]
fn sigterm_answers_parked_requests() {
    let mut p = PortalProcess::start(&["--long-poll-wait-ms", "30000"]);
    let (v0, _, _) = state(&p);
    let mut s = park(p.http, v0, "");
    assert!(
        poll_until(Duration::from_secs(10), || (listeners(&p) == 1)
            .then_some(()))
        .is_some()
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Answered (well before the 30 s wait, else the 20 s read timeout fails this).
    let r = read_response(&mut s);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    let exited = poll_until(Duration::from_secs(10), || {
        p.child.try_wait().ok().flatten()
    });
    assert!(
        exited.is_some_and(|s| s.success()),
        "portal exits on SIGTERM"
    );
}

/// Plain-HTTP long-polls wait in the lot, away from their task: a phone that leaves is let go
/// at its answer (the next state change or the wait's end), and the connection gauges agree.
#[test]
fn a_phone_that_left_while_parked_is_let_go_at_its_answer() {
    let p = PortalProcess::start(&["--long-poll-wait-ms", "30000"]);
    let (v0, _, _) = state(&p);
    let mut stay: Vec<TcpStream> = (0..2).map(|_| park(p.http, v0, "")).collect();
    let leaver = park(p.http, v0, "");
    assert!(
        poll_until(Duration::from_secs(10), || (listeners(&p) == 3)
            .then_some(()))
        .is_some()
    );
    drop(leaver);
    let mut b = Beacon::new(p.mcast_port);
    b.send(State::Standby { cue: "warm".into() });
    for s in &mut stay {
        assert_eq!(read_response(s).json()["state"], "standby");
    }
    // Open: the two that stay plus the metrics request itself.
    let settled = poll_until(Duration::from_secs(10), || {
        (listeners(&p) == 0
            && metric_value(p.http, "portal_http_open_connections{scheme=\"http\"}") == 3)
            .then_some(())
    });
    assert!(
        settled.is_some(),
        "listeners {}, open {}",
        listeners(&p),
        metric_value(p.http, "portal_http_open_connections{scheme=\"http\"}")
    );
}

/// A request pipelined behind a parked one waits for it, in order.
#[test]
fn a_request_pipelined_behind_a_parked_one_is_answered_after_it() {
    let p = PortalProcess::start(&["--long-poll-wait-ms", "30000"]);
    let (v0, _, _) = state(&p);
    let mut s = TcpStream::connect(p.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET /s?after={v0} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    assert!(
        poll_until(Duration::from_secs(10), || (listeners(&p) == 1)
            .then_some(()))
        .is_some()
    );
    let mut b = Beacon::new(p.mcast_port);
    b.send(State::Standby { cue: "warm".into() });
    let first = read_head(&mut s);
    assert_eq!(first.status, 200);
    let len: usize = first.header("content-length").unwrap().parse().unwrap();
    let mut body = vec![0; len];
    std::io::Read::read_exact(&mut s, &mut body).unwrap();
    assert!(String::from_utf8_lossy(&body).contains("standby"));
    let second = read_head(&mut s);
    assert!(
        matches!(second.status, 200 | 503),
        "/healthz: {}",
        second.status
    );
}
