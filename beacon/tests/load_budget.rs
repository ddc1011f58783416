//! `beacon load` compiles off the async runtime under a time budget: a heavy but valid show
//! gets a clear answer (loaded, or refused for its budget), the daemon keeps answering while it
//! compiles, and SIGTERM during a compile stops the daemon.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use shows::testing::heavy_show;

#[test]
fn loading_a_heavy_show_gets_a_clear_answer() {
    let d = Daemon::start();
    for cues in [40, 1000] {
        let file = d.dir.path().join(format!("heavy-{cues}.toml"));
        std::fs::write(&file, heavy_show(cues)).unwrap();
        let out = d.cli(&["load", file.to_str().unwrap()]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            assert!(text.contains("heavy"), "{text}");
        } else {
            assert!(
                text.contains("time budget") || text.contains("longer than"),
                "{text}"
            );
        }
        // The daemon still answers.
        assert!(d.status()["stats"].is_object());
    }
}

#[test]
fn sigterm_during_a_compile_stops_the_daemon() {
    let mut d = Daemon::start();
    let file = d.dir.path().join("heavy.toml");
    std::fs::write(&file, heavy_show(1000)).unwrap();
    let mut load = beacon()
        .arg("--socket")
        .arg(&d.socket)
        .args(["load", file.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Wait until the daemon has started compiling (it logs the load), then SIGTERM it.
    std::thread::sleep(Duration::from_millis(300));
    let ok = Command::new("kill")
        .args(["-TERM", &d.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let child = d.child.as_mut().unwrap();
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        exited.is_some(),
        "daemon still running after SIGTERM; log: {}",
        d.logs()
    );
    let _ = load.wait();
}
