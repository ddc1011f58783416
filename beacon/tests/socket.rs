//! The operator socket itself: permissions, malformed and oversized requests, SIGTERM clean-up.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use beacon::operator_messages::{self, Response};
use common::Daemon;

fn exchange(stream: &mut UnixStream, body: &[u8]) -> Response {
    operator_messages::write_frame(stream, body).unwrap();
    serde_json::from_slice(&operator_messages::read_frame(stream).unwrap()).unwrap()
}

#[test]
fn socket_and_directory_permissions() {
    let d = Daemon::start();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d.socket), 0o660);
    assert_eq!(mode(d.socket.parent().unwrap()), 0o700);
}

#[test]
fn malformed_requests_are_answered_and_counted() {
    let d = Daemon::start();
    let mut s = UnixStream::connect(&d.socket).unwrap();
    for bad in [
        &b"not json"[..],
        br#"{"cmd":"dance"}"#,
        br#"{"cmd":"go","cue":1}"#,
    ] {
        let reply = exchange(&mut s, bad);
        assert!(!reply.ok);
        assert_eq!(reply.kind.as_deref(), Some("malformed"));
    }
    // The same connection still works after malformed requests.
    let reply = exchange(&mut s, br#"{"cmd":"status"}"#);
    assert!(reply.ok);
    assert_eq!(reply.stats.unwrap().malformed_requests, 3);

    // An oversized frame is refused without reading it, and the connection closed.
    let mut s = UnixStream::connect(&d.socket).unwrap();
    s.write_all(&(10_000_000u32).to_be_bytes()).unwrap();
    let reply: Response =
        serde_json::from_slice(&operator_messages::read_frame(&mut s).unwrap()).unwrap();
    assert_eq!(reply.kind.as_deref(), Some("malformed"));
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!(d.status()["state"], "stopped", "the daemon is unharmed");
}

#[test]
fn sigterm_shuts_down_cleanly_and_removes_the_socket() {
    let mut d = Daemon::start();
    let mut child = d.child.take().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {}", d.logs());
    assert!(!d.socket.exists());
    assert!(d.state_file.exists());
}

#[test]
fn second_daemon_on_the_same_socket_is_refused() {
    let d = Daemon::start();
    let out = common::beacon()
        .args([
            "run",
            "--dev",
            "--port",
            &common::random_port().to_string(),
            "--socket",
        ])
        .arg(&d.socket)
        .arg("--state-file")
        .arg(d.dir.path().join("other-state.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("already running"), "{err}");
    assert!(d.socket.exists(), "the running daemon's socket stays");
}

#[test]
fn connections_beyond_the_cap_are_told_busy() {
    let d = Daemon::start();
    let idle: Vec<UnixStream> = (0..beacon::daemon::operator::MAX_CONNECTIONS)
        .map(|_| UnixStream::connect(&d.socket).unwrap())
        .collect();
    let mut extra = UnixStream::connect(&d.socket).unwrap();
    let reply: Response =
        serde_json::from_slice(&operator_messages::read_frame(&mut extra).unwrap()).unwrap();
    assert_eq!(reply.kind.as_deref(), Some("busy"));
    drop(idle);
    // Slots free up once the idle connections close.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut s = UnixStream::connect(&d.socket).unwrap();
        let _ = operator_messages::write_frame(&mut s, br#"{"cmd":"status"}"#);
        let reply: Option<Response> = operator_messages::read_frame(&mut s)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(reply) = reply.filter(|r| r.ok) {
            assert!(reply.stats.unwrap().busy_connections >= 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
