//! SIGHUP reloads the configured show without dropping the running cue (same show id) or
//! loads the new one as `beacon load` would; SIGTERM stops cleanly and removes the socket.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, fixture};

fn signal(d: &Daemon, name: &str) {
    let ok = std::process::Command::new("kill")
        .args([format!("-{name}"), d.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sighup_keeps_the_cue_or_loads_the_new_show() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("beacon.toml");
    let write_config = |show: &std::path::Path| {
        std::fs::write(
            &config,
            format!("show = {:?}\n", show.display().to_string()),
        )
        .unwrap();
    };
    write_config(&fixture("show.toml"));
    let mut d = Daemon::start_with(vec!["--config".into(), config.clone().into()]);
    d.ok(&["go", "intro"]);
    let before = d.status();
    assert_eq!(before["state"], "running");

    // Same show: nothing changes, not even the boot.
    signal(&d, "HUP");
    wait_until("the reload to be logged", || {
        d.logs().contains("SIGHUP: reloaded")
    });
    let after = d.status();
    for field in ["state", "cue", "start_us", "show", "boot"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert!(d.logs().contains("same show as before"), "{}", d.logs());

    // Another show: loaded and stopped, as `beacon load` does.
    write_config(&fixture("other.toml"));
    signal(&d, "HUP");
    wait_until("the new show", || d.status()["show"] != before["show"]);
    assert_eq!(d.status()["state"], "stopped");

    // A broken config: logged, nothing changes.
    let show = d.status()["show"].clone();
    std::fs::write(&config, "shw = 1\n").unwrap();
    signal(&d, "HUP");
    wait_until("the refusal", || {
        d.logs().contains("cannot re-read the config")
    });
    assert_eq!(d.status()["show"], show);

    // SIGTERM: clean exit, socket removed.
    signal(&d, "TERM");
    let mut child = d.child.take().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!d.socket.exists(), "socket removed on SIGTERM");
}
