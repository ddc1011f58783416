//! HTTPS goes through the same connection path as HTTP: the same refusals (bodies 413, other
//! methods 405, oversized or over-long heads 431, malformed 400), pipelining in order, the
//! same header and idle timers (slowloris sockets are reclaimed, TLS handshakes included), the
//! same gauges — on the real binary with a short-lived rcgen certificate.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;

fn https_metric(p: &PortalProcess, prefix: &str) -> i64 {
    metric_value(p.http, prefix)
}

#[test]
fn https_refuses_bodies_methods_and_oversized_heads_like_http() {
    let dir = tempfile::tempdir().unwrap();
    let der = write_cert(dir.path(), 9);
    let p = start_with_tls(dir.path(), &[]);
    let https = p.https.unwrap();
    let ask = |raw: &str| {
        let out = tls_exchange(https, &der, raw.as_bytes());
        parse_response(&out)
    };
    for (raw, status) in [
        (
            "POST /s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
            413,
        ),
        (
            "GET /s HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            413,
        ),
        (
            "GET /s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nContent-Length: 7\r\n\r\n",
            413,
        ),
        (
            "DELETE /s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            405,
        ),
        ("GET /s HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("\x01\x02 garbage\r\n\r\n", 400),
    ] {
        assert_eq!(ask(raw).status, status, "{raw:?}");
    }
    // A head larger than the limit (16 KiB by default), and one with too many lines.
    let big = format!(
        "GET /s HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "x".repeat(40_000)
    );
    assert_eq!(ask(&big).status, 431);
    let mut many = "GET /s HTTP/1.1\r\nHost: localhost\r\n".to_string();
    for i in 0..100 {
        many.push_str(&format!("X-{i}: 1\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(ask(&many).status, 431);
    // Pipelined requests are answered in order on one connection; HEAD has no body.
    let raw = "GET /s HTTP/1.1\r\nHost: localhost\r\n\r\n\
               HEAD /t HTTP/1.1\r\nHost: localhost\r\n\r\n\
               GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let rs = split_responses(
        &tls_exchange(https, &der, raw.as_bytes()),
        &[false, true, false],
    );
    assert_eq!(rs.len(), 3);
    assert_eq!(rs[0].json()["state"], "stopped");
    assert_eq!(rs[1].header("x-clock-source"), Some("system"));
    assert!(rs[1].body.is_empty());
    assert_eq!(rs[2].status, 503);
    // The same refusals are counted in the one /metrics, and plain HTTP still answers.
    assert!(
        https_metric(
            &p,
            "portal_http_requests_total{route=\"rejected\",status=\"413\"}"
        ) >= 3
    );
    assert_eq!(get(p.http, "127.0.0.1", "/s", &[]).status, 200);
}

#[test]
fn https_slowloris_sockets_do_not_starve_polls_and_are_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let der = write_cert(dir.path(), 9);
    let p = start_with_tls(
        dir.path(),
        &[
            "--header-timeout-ms",
            "10000",
            "--max-connections-per-address",
            "100000",
        ],
    );
    let https = p.https.unwrap();
    // Half finish the handshake and send half a request head (the slow part to set up, so
    // first); half never start the TLS handshake.
    let mut tls_sockets = Vec::new();
    for _ in 0..150 {
        let mut s = tls_stream(https, &der);
        s.write_all(b"GET /s HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            .unwrap();
        s.flush().unwrap();
        tls_sockets.push(s);
    }
    let mut raw_sockets: Vec<std::net::TcpStream> = (0..150)
        .map(|_| std::net::TcpStream::connect(https).unwrap())
        .collect();
    let held = poll_until(Duration::from_secs(20), || {
        (https_metric(&p, "portal_http_open_connections{scheme=\"https\"}") >= 250).then_some(())
    });
    assert!(held.is_some(), "attackers accepted");
    for _ in 0..10 {
        let out = tls_exchange(
            https,
            &der,
            b"GET /s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(parse_response(&out).json()["state"], "stopped");
    }
    // Every attacker is closed by the header timer (handshake or head).
    for s in raw_sockets.iter_mut().step_by(15) {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 256];
        let r = s.read(&mut buf);
        assert!(
            matches!(r, Ok(0))
                || r.as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "handshake-less socket not closed: {r:?}"
        );
    }
    for s in tls_sockets.iter_mut().step_by(15) {
        s.sock
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut buf = [0u8; 256];
        let r = s.read(&mut buf);
        assert!(
            !r.as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut),
            "slow TLS head not closed: {r:?}"
        );
    }
    let drained = poll_until(Duration::from_secs(30), || {
        (https_metric(&p, "portal_http_open_connections{scheme=\"https\"}") <= 2).then_some(())
    });
    assert!(drained.is_some(), "HTTPS connections reclaimed");
    assert!(https_metric(&p, "portal_https_tls_errors_total") >= 100);
    assert!(https_metric(&p, "portal_http_header_timeouts_total") >= 100);
}

#[test]
fn https_connections_without_progress_are_closed_by_the_idle_timer() {
    let dir = tempfile::tempdir().unwrap();
    let der = write_cert(dir.path(), 9);
    let p = start_with_tls(
        dir.path(),
        &["--header-timeout-ms", "60000", "--idle-timeout-ms", "400"],
    );
    let mut s = tls_stream(p.https.unwrap(), &der);
    s.write_all(b"GET /s HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    s.flush().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    // The answer, then the server closes the idle connection.
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("not closed by the idle timer: {e}"),
        }
    }
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 OK"));
    assert!(https_metric(&p, "portal_http_idle_closed_total") >= 1);
}
