//! End to end with the real `beacon` daemon and operator CLI: `/s` follows `beacon go`,
//! `hold`, `blackout`, `stop`. The beacon binary is a sibling of the portal binary when the
//! workspace is built (`cargo test --workspace`, as CI runs); when it is absent (e.g.
//! `cargo test -p portal` alone) the test says so and passes without running.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

fn beacon_bin() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_portal")).with_file_name("beacon");
    p.exists().then_some(p)
}

struct Daemon(Child);
impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn s_follows_beacon_go_hold_blackout_stop() {
    let Some(bin) = beacon_bin() else {
        eprintln!("SKIPPED: no beacon binary next to portal (run `cargo test --workspace`)");
        return;
    };
    let p = PortalProcess::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("beacon.sock");
    let _daemon = Daemon(
        Command::new(&bin)
            .args(["run", "--dev", "--port", &p.mcast_port.to_string()])
            .arg("--socket")
            .arg(&sock)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let op = |args: &[&str]| {
        let out = Command::new(&bin)
            .arg("--socket")
            .arg(&sock)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "beacon {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let state = |want: &str| {
        poll_until(Duration::from_secs(10), || {
            let v = get(p.http, "127.0.0.1", "/s", &[]).json();
            (v["state"] == want).then_some(v)
        })
        .unwrap_or_else(|| panic!("/s never became {want}"))
    };
    // The daemon needs a moment to create its socket.
    poll_until(Duration::from_secs(10), || sock.exists().then_some(())).expect("beacon socket");
    state("stopped");
    assert!(
        poll_until(Duration::from_secs(5), || (get(
            p.http,
            "127.0.0.1",
            "/healthz",
            &[]
        )
        .status
            == 200)
            .then_some(()))
        .is_some()
    );
    op(&["go"]);
    let v = state("running");
    assert!(v["at"].as_u64().is_some());
    assert!(v["show"].as_str().unwrap().starts_with("/show/"));
    assert_eq!(
        get(p.http, "127.0.0.1", v["show"].as_str().unwrap(), &[]).status,
        200
    );
    op(&["hold"]);
    assert!(state("hold")["held"].as_u64().is_some());
    op(&["blackout"]);
    state("blackout");
    op(&["stop"]);
    state("stopped");
}
