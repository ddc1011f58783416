//! The real `portal` binary with a short-lived rcgen certificate: HTTPS serves the page, `/wt`
//! (with the pinnable certificate hash) and the RFC 8908 API; plain HTTP redirects the page to
//! HTTPS but still answers probes; a `wtransport` client (pinning the hash, like a browser's
//! `serverCertificateHashes`) gets its time datagrams answered and every beacon state change
//! pushed as the exact `/s` bytes; the session cap answers `429`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use crowdlight_proto::wire::{self, Key, Packet, State};
use portal::webtransport::wire as wt_wire;
use wtransport::{ClientConfig, Endpoint};

/// One HTTPS GET (trusting exactly `cert_der`).
fn https_get(addr: SocketAddr, cert_der: &[u8], path: &str) -> Resp {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    parse_response(&tls_exchange(addr, cert_der, request.as_bytes()))
}

fn send_state(port: u16, seq: u64, state: State) {
    let show = shows::compile_file(&repo().join("shows/examples/intermission.toml")).unwrap();
    let p = Packet {
        show: show.id(),
        boot: 42,
        seq,
        clock_us: now_us(),
        state,
        next: None,
        live: None,
    };
    McastSender::new(port).send(&wire::emit(&p, &Key::dev()));
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(addr: SocketAddr, hash: [u8; 32]) -> wtransport::Connection {
    let cfg = ClientConfig::builder()
        .with_bind_address("127.0.0.1:0".parse().unwrap())
        .with_server_certificate_hashes([wtransport::tls::Sha256Digest::new(hash)])
        .build();
    let ep = Endpoint::client(cfg).unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        ep.connect(format!("https://127.0.0.1:{}/wt", addr.port())),
    )
    .await
    .expect("connect in time")
    .expect("session")
}

/// Receives datagrams until one satisfies `f` (bounded).
async fn recv_until<T>(
    c: &wtransport::Connection,
    mut f: impl FnMut(&[u8]) -> Option<T>,
) -> Option<T> {
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let d = tokio::time::timeout_at(end, c.receive_datagram())
            .await
            .ok()?
            .ok()?;
        if let Some(v) = f(&d) {
            return Some(v);
        }
    }
}

fn sha256(der: &[u8]) -> [u8; 32] {
    *wtransport::tls::Certificate::from_der(der.to_vec())
        .unwrap()
        .hash()
        .as_ref()
}

#[test]
fn https_serves_page_wt_document_and_captive_api_and_http_redirects_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let der = write_cert(dir.path(), 9);
    let p = start_with_tls(dir.path(), &[]);
    let https = p.https.unwrap();

    let r = https_get(https, &der, "/");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Crowdlight"));
    let r = https_get(https, &der, "/wt");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(
        v["url"],
        format!("https://localhost:{}/wt", https.port()),
        "{v}"
    );
    let hex: String = sha256(&der).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v["hashes"][0], hex);
    let r = https_get(https, &der, "/api/captive");
    assert_eq!(r.header("content-type"), Some("application/captive+json"));
    assert_eq!(
        r.json()["user-portal-url"],
        format!("https://127.0.0.1:{}/", https.port())
    );
    assert_eq!(https_get(https, &der, "/s").json()["state"], "stopped");

    // Plain HTTP: the page moves to HTTPS; probes are still intercepted; /s still answers.
    let r = get(p.http, "127.0.0.1", "/", &[]);
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("https://127.0.0.1:{}/", https.port()).as_str())
    );
    let r = get(p.http, "captive.apple.com", "/hotspot-detect.html", &[]);
    assert_eq!(r.status, 302);
    assert_eq!(get(p.http, "127.0.0.1", "/s", &[]).status, 200);
    let m = get(p.http, "127.0.0.1", "/metrics", &[]).text();
    assert!(
        m.contains("portal_http_connections_total{scheme=\"https\"} "),
        "{m}"
    );
    assert!(m.contains("portal_wt_sessions_open 0"), "{m}");
}

#[test]
fn long_lived_certificate_is_not_offered_for_pinning() {
    let dir = tempfile::tempdir().unwrap();
    let der = write_cert(dir.path(), 90);
    let p = start_with_tls(dir.path(), &[]);
    let v = https_get(p.https.unwrap(), &der, "/wt").json();
    assert_eq!(v["hashes"], serde_json::json!([]));
}

#[test]
fn time_datagrams_are_answered_and_state_changes_are_pushed_as_s_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let der = write_cert(dir.path(), 9);
    let p = start_with_tls(dir.path(), &[]);
    let https = p.https.unwrap();
    rt().block_on(async {
        let c = connect(https, sha256(&der)).await;
        // The current state arrives at once (the exact /s body).
        let first = recv_until(&c, |d| (d.first() == Some(&b'{')).then(|| d.to_vec()))
            .await
            .expect("initial state push");
        assert_eq!(first, get(p.http, "127.0.0.1", "/s", &[]).body);

        // Time: beacon µs for our request id (no beacon yet: system time fallback).
        let before = now_us();
        c.send_datagram(wt_wire::time_request(77, 12.5)).unwrap();
        let (id, ms, t) = recv_until(&c, wt_wire::parse_time_reply)
            .await
            .expect("time reply");
        assert_eq!((id, ms), (77, 12.5));
        assert!(t.abs_diff(before) < 5_000_000, "t={t} before={before}");

        // A beacon GO is pushed without polling.
        let start_us = now_us() + 1_000_000;
        send_state(
            p.mcast_port,
            1,
            State::Running {
                cue: "warm".into(),
                start_us,
            },
        );
        let pushed = recv_until(&c, |d| {
            let v: serde_json::Value = serde_json::from_slice(d).ok()?;
            (v["state"] == "running").then(|| d.to_vec())
        })
        .await
        .expect("pushed running state");
        let v: serde_json::Value = serde_json::from_slice(&pushed).unwrap();
        assert_eq!(v["cue"], "warm");
        assert_eq!(v["at"], start_us);
        assert_eq!(pushed, get(p.http, "127.0.0.1", "/s", &[]).body);

        // Repeats of the push arrive (×3 for loss) with the same bytes.
        let mut copies = 1;
        while copies < 3 {
            match recv_until(&c, |d| Some(d.to_vec())).await {
                Some(d) if d == pushed => copies += 1,
                Some(_) => {}
                None => break,
            }
        }
        assert_eq!(copies, 3);

        // Garbage is counted, not fatal: the session still answers.
        c.send_datagram(b"xyz").unwrap();
        c.send_datagram(wt_wire::time_request(78, 1.0)).unwrap();
        let (id, _, t2) = recv_until(&c, wt_wire::parse_time_reply).await.unwrap();
        assert_eq!(id, 78);
        assert!(t2 >= t);

        let m = get(p.http, "127.0.0.1", "/metrics", &[]).text();
        assert!(m.contains("portal_wt_sessions_open 1"), "{m}");
        assert!(
            m.contains("portal_wt_datagrams_total{kind=\"bad\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("portal_wt_datagrams_total{kind=\"time\"} 2"),
            "{m}"
        );
    });
}

#[test]
fn sessions_beyond_the_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let der = write_cert(dir.path(), 9);
    let p = start_with_tls(dir.path(), &["--wt-max-sessions", "1"]);
    let https = p.https.unwrap();
    rt().block_on(async {
        let _first = connect(https, sha256(&der)).await;
        let cfg = ClientConfig::builder()
            .with_bind_address("127.0.0.1:0".parse().unwrap())
            .with_server_certificate_hashes([wtransport::tls::Sha256Digest::new(sha256(&der))])
            .build();
        let ep = Endpoint::client(cfg).unwrap();
        let second = tokio::time::timeout(
            Duration::from_secs(10),
            ep.connect(format!("https://127.0.0.1:{}/wt", https.port())),
        )
        .await
        .expect("answered in time");
        assert!(second.is_err(), "second session must be refused");
    });
    let m = get(p.http, "127.0.0.1", "/metrics", &[]).text();
    assert!(m.contains("portal_wt_sessions_refused_total 1"), "{m}");
}

#[test]
fn sighup_reloads_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let old = write_cert(dir.path(), 9);
    let p = start_with_tls(dir.path(), &[]);
    let https = p.https.unwrap();
    let hex = |der: &[u8]| -> String { sha256(der).iter().map(|b| format!("{b:02x}")).collect() };
    assert_eq!(https_get(https, &old, "/wt").json()["hashes"][0], hex(&old));
    let new = write_cert(dir.path(), 9);
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let seen = poll_until(Duration::from_secs(10), || {
        let r = std::panic::catch_unwind(|| https_get(https, &new, "/wt"));
        r.ok()
            .filter(|r| r.status == 200)
            .map(|r| r.json()["hashes"][0].clone())
    });
    assert_eq!(seen, Some(serde_json::Value::from(hex(&new))));
    // A broken file keeps the working certificate.
    std::fs::write(dir.path().join("cert.pem"), "garbage").unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &p.child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(https_get(https, &new, "/wt").json()["hashes"][0], hex(&new));
}

#[test]
fn idle_sessions_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let der = write_cert(dir.path(), 9);
    let cfg = dir.path().join("portal.toml");
    std::fs::write(
        &cfg,
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\nlisten = \"127.0.0.1:0\"\nwt-idle-timeout-ms = 400\n",
            dir.path().join("cert.pem"),
            dir.path().join("key.pem")
        ),
    )
    .unwrap();
    let p = PortalProcess::start(&["--config", cfg.to_str().unwrap()]);
    let https = p.https.expect("https from [tls]");
    rt().block_on(async {
        let c = connect(https, sha256(&der)).await;
        // No traffic from us: the relay closes the session after its idle timeout.
        let closed = tokio::time::timeout(Duration::from_secs(10), c.closed()).await;
        assert!(closed.is_ok(), "session still open");
    });
    let closed = poll_until(Duration::from_secs(5), || {
        let m = get(p.http, "127.0.0.1", "/metrics", &[]).text();
        m.contains("portal_wt_sessions_idle_closed_total 1")
            .then_some(())
            .filter(|_| m.contains("portal_wt_sessions_open 0"))
    });
    assert!(closed.is_some());
}
