//! The HTTP/1.1 request path on real sockets: pipelining in order, HTTP/1.0 keep-alive rules,
//! heads split at any byte, HEAD, the `/metrics` text (every family has HELP and TYPE; checked
//! by `promtool` too when it is installed).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use portal::config::Config;
use proptest::prelude::*;

fn portal() -> InProcess {
    InProcess::start(Config::dev())
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let p = portal();
    let raw = "GET /t HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n\
               HEAD /s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n\
               GET /s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n\
               GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n\
               GET /s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let rs = split_responses(
        &tcp_raw_exchange(p.http, raw.as_bytes()),
        &[false, true, false, false],
    );
    // The fifth request comes after `Connection: close`: never answered.
    assert_eq!(rs.len(), 4);
    assert!(rs[0].json()["t"].is_u64());
    assert_eq!(rs[1].status, 200);
    assert!(rs[1].body.is_empty());
    assert_eq!(
        rs[1].header("content-length"),
        Some(rs[2].body.len().to_string().as_str())
    );
    assert_eq!(rs[2].json()["state"], "stopped");
    assert_eq!(rs[3].status, 503);
    assert_eq!(rs[3].header("connection"), Some("close"));
}

#[test]
fn http10_closes_unless_keep_alive() {
    let p = portal();
    let out = tcp_raw_exchange(p.http, b"GET /s HTTP/1.0\r\n\r\nGET /s HTTP/1.0\r\n\r\n");
    let rs = split_responses(&out, &[]);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].header("connection"), Some("close"));
    let out = tcp_raw_exchange(
        p.http,
        b"GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /s HTTP/1.0\r\n\r\n",
    );
    let rs = split_responses(&out, &[]);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].header("connection"), Some("keep-alive"));
    assert_eq!(rs[1].header("connection"), Some("close"));
}

#[test]
fn garbage_gets_400_and_close() {
    let p = portal();
    let r = parse_response(&tcp_raw_exchange(
        p.http,
        b"\x16\x03\x01\x02\x00 hello\r\n\r\n",
    ));
    assert_eq!(r.status, 400);
    assert_eq!(r.header("connection"), Some("close"));
}

#[test]
fn every_metric_family_has_help_and_type() {
    let p = portal();
    let text = get(p.http, "127.0.0.1", "/s", &[]); // at least one request sample
    assert_eq!(text.status, 200);
    let m = get(p.http, "127.0.0.1", "/metrics", &[]).text();
    for name in [
        "portal_beacon_healthy",
        "portal_beacon_state_changes_total",
        "portal_http_connections_total",
        "portal_http_idle_closed_total",
        "portal_listeners",
        "portal_wt_sessions_open",
        "portal_dns_queries_total",
    ] {
        assert!(m.contains(&format!("# HELP {name} ")), "{name}:\n{m}");
    }
    let missing = portal::metrics::undocumented_families(&m);
    assert!(missing.is_empty(), "no HELP/TYPE for {missing:?}:\n{m}");
    // The ecosystem's own linter, when installed (Debian: apt install prometheus).
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed: skipped");
        return;
    };
    child.stdin.take().unwrap().write_all(m.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Three pipelined requests written in arbitrary pieces (down to single bytes, with pauses
    /// so they arrive as separate reads) are answered exactly like one write.
    #[test]
    fn heads_split_anywhere_are_answered_the_same(cuts in proptest::collection::vec(0usize..200, 0..8)) {
        static PORTAL: std::sync::OnceLock<InProcess> = std::sync::OnceLock::new();
        let p = PORTAL.get_or_init(portal);
        let raw = b"GET /s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: x\r\n\r\n\
                    GET /t HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n\
                    GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % raw.len()).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut s = TcpStream::connect(p.http).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut from = 0;
        for c in cuts.into_iter().chain([raw.len()]) {
            s.write_all(&raw[from..c]).unwrap();
            from = c;
            std::thread::sleep(Duration::from_millis(3));
        }
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let rs = split_responses(&out, &[]);
        prop_assert_eq!(rs.len(), 3);
        prop_assert_eq!(rs[0].status, 200);
        prop_assert_eq!(rs[0].json()["state"].clone(), "stopped");
        prop_assert!(rs[1].json()["t"].is_u64());
        prop_assert_eq!(rs[2].status, 503);
    }
}
