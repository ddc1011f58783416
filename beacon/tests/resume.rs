//! Crash resume: `kill -9` then restart continues the same cue at the same absolute start,
//! under a new boot id that receivers accept.

mod common;

use common::{Daemon, Listener};
use crowdlight_proto::wire::State;

#[test]
fn kill_9_and_restart_resume_the_timeline_with_a_new_boot() {
    let mut d = Daemon::start();
    let mut rx = Listener::join(d.port);
    d.ok(&["go", "intro"]);
    let before = rx.wait_for("running", |p| p.state.cue() == Some("intro"));
    let start_us = before.state.start_us().unwrap();

    d.kill9();
    assert!(d.socket.exists(), "kill -9 leaves a stale socket behind");
    d.spawn();
    let after = rx.wait_for("resumed", |p| p.boot != before.boot);
    assert_eq!(
        after.state,
        State::Running {
            cue: "intro".into(),
            start_us
        }
    );
    assert_eq!(after.show, before.show);
    assert_eq!(d.status()["start_us"].as_u64(), Some(start_us));

    // Hold survives a crash too, with its offset.
    d.ok(&["hold"]);
    let held = rx.wait_for("hold", |p| matches!(p.state, State::Hold { .. }));
    d.kill9();
    d.spawn();
    let again = rx.wait_for("held after restart", |p| p.boot != held.boot);
    assert_eq!(again.state, held.state);
    assert_eq!(rx.receiver.counters().stale, 0);
}
