//! Drives every operator command through the real CLI against the real daemon and checks the
//! state it multicasts on loopback.

mod common;

use common::{Daemon, Listener};
use crowdlight_proto::wire::State;

fn show_id(d: &Daemon) -> [u8; 16] {
    let hex_id = d.status()["show"].as_str().unwrap().to_owned();
    hex::decode(hex_id).unwrap().try_into().unwrap()
}

#[test]
fn every_command_changes_the_multicast_state() {
    let d = Daemon::start();
    let mut rx = Listener::join(d.port);
    let id = show_id(&d);
    let p = rx.wait_for("stopped", |p| p.state == State::Stopped);
    assert_eq!(p.show, id);
    assert_eq!(p.next.as_deref(), Some("intro"));

    let out = d.ok(&["standby", "finale"]);
    assert!(out.contains("standby finale"), "{out}");
    rx.wait_for("standby", |p| {
        p.state
            == State::Standby {
                cue: "finale".into(),
            }
            && p.next.as_deref() == Some("finale")
    });

    let out = d.ok(&["go"]);
    assert!(
        out.contains("go finale") && out.contains("in 300 ms"),
        "{out}"
    );
    let status = d.status();
    assert_eq!(status["state"], "running");
    assert_eq!(status["cue"], "finale");
    let start_us = status["start_us"].as_u64().unwrap();
    let p = rx.wait_for("running", |p| matches!(p.state, State::Running { .. }));
    assert_eq!(
        p.state,
        State::Running {
            cue: "finale".into(),
            start_us
        }
    );
    assert!(
        start_us > p.clock_us,
        "GO leads: the start is in the future"
    );

    let out = d.ok(&["go", "intro"]);
    assert!(out.contains("go intro"), "{out}");
    rx.wait_for("intro", |p| p.state.cue() == Some("intro"));
    std::thread::sleep(std::time::Duration::from_millis(400));

    let out = d.ok(&["hold"]);
    assert!(out.starts_with("hold intro at"), "{out}");
    let p = rx.wait_for("hold", |p| matches!(p.state, State::Hold { .. }));
    let offset = p.state.offset_us().unwrap();

    let out = d.ok(&["resume"]);
    assert!(out.starts_with("resume intro"), "{out}");
    let p = rx.wait_for("resumed", |p| matches!(p.state, State::Running { .. }));
    // Continuing from the frozen offset: start = resume time - offset.
    let start = p.state.start_us().unwrap();
    assert!(start + offset <= p.clock_us);

    d.ok(&["blackout"]);
    rx.wait_for("blackout", |p| p.state == State::Blackout);
    d.ok(&["stop"]);
    rx.wait_for("stopped again", |p| p.state == State::Stopped);

    // An End cue returns to stopped by itself after lead + duration (300 ms + 1 s).
    d.ok(&["go", "flash"]);
    rx.wait_for("flash", |p| p.state.cue() == Some("flash"));
    let p = rx.wait_for("flash ended", |p| p.state == State::Stopped);
    assert_eq!(p.next.as_deref(), Some("finale"));

    let text = d.ok(&["status"]);
    assert!(text.starts_with("stopped, next: finale"), "{text}");
    let json = d.status();
    for key in ["state", "cue", "seq", "show"] {
        assert!(json.get(key).is_some(), "status --json lacks {key}: {json}");
    }
}

#[test]
fn load_replaces_the_show_and_bad_shows_are_refused() {
    let d = Daemon::start();
    let mut rx = Listener::join(d.port);
    let first = show_id(&d);
    d.ok(&["go", "intro"]);
    rx.wait_for("running", |p| p.state.cue() == Some("intro"));

    let out = d.cli(&["load", common::fixture("bad.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("invalid show") && err.contains("bad.toml"),
        "{err}"
    );
    let status = d.status();
    assert_eq!(
        (status["state"].as_str(), status["cue"].as_str()),
        (Some("running"), Some("intro"))
    );
    assert_eq!(show_id(&d), first);

    let out = d.ok(&["load", common::fixture("other.toml").to_str().unwrap()]);
    assert!(out.contains("loaded \"Other\""), "{out}");
    let second = show_id(&d);
    assert_ne!(second, first);
    rx.wait_for("new show, stopped", |p| {
        p.show == second && p.state == State::Stopped
    });
    d.ok(&["go", "glow"]);
    rx.wait_for("glow", |p| p.state.cue() == Some("glow"));
}

#[test]
fn refusals_are_one_line_with_nonzero_exit() {
    let d = Daemon::start();
    let out = d.cli(&["go", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        "beacon: unknown cue \"nope\"; valid cues: intro, flash, finale\n"
    );
    let out = d.cli(&["hold"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("nothing is running")
    );
    let out = d.cli(&["resume"]);
    assert_eq!(out.status.code(), Some(1));

    let missing = d.dir.path().join("nowhere/beacon.sock");
    let out = common::beacon()
        .env("CROWDLIGHT_SOCKET", &missing)
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no beacon daemon running"), "{err}");
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["status", "--help"],
        vec!["load", "--help"],
        vec!["standby", "--help"],
        vec!["go", "--help"],
        vec!["hold", "--help"],
        vec!["resume", "--help"],
        vec!["blackout", "--help"],
        vec!["stop", "--help"],
    ] {
        let out = common::beacon().args(&sub).output().unwrap();
        assert!(out.status.success(), "{sub:?}");
        assert!(!out.stdout.is_empty(), "{sub:?}");
    }
}

/// `beacon run --help` shows the defaults the daemon really resolves (one source:
/// `beacon::config::flag_defaults`, read from `Settings::resolve`), and no other.
#[test]
fn run_help_shows_the_real_defaults() {
    let out = common::beacon().args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let shown = crowdlight_proto::help::shown_defaults(&String::from_utf8_lossy(&out.stdout));
    let expected: Vec<(String, String)> = beacon::config::flag_defaults()
        .into_iter()
        .map(|(id, value)| (id.replace('_', "-"), value))
        .collect();
    assert_eq!(shown, expected);
    assert!(shown.contains(&(
        "lead-ms".into(),
        (beacon::engine::DEFAULT_LEAD_US / 1000).to_string()
    )));
    assert!(shown.contains(&("port".into(), crowdlight_proto::DEFAULT_PORT.to_string())));
}

#[test]
fn replies_stay_small_whatever_the_show_or_the_request() {
    let d = Daemon::start();
    // A show with 2,970 errors (an unknown colour in each of three segments of 990 cues, under
    // the 1,000-cue cap): about 250 kB of compiler report, more than the 64 KiB frame cap.
    let mut show = String::from("title = \"Many\"\nzones = [\"hall\"]\n\n");
    for i in 0..990 {
        show += &format!("[[cue]]\nname = \"c{i}\"\nend = \"end\"\n");
        for _ in 0..3 {
            show += "[[cue.segment]]\nkind = \"solid\"\ndur = \"1s\"\ncolour = \"nosuch\"\n\n";
        }
    }
    let path = d.dir.path().join("many.toml");
    std::fs::write(&path, show).unwrap();
    let out = d.cli(&["load", path.to_str().unwrap()]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "refused, not a transport error: {err}"
    );
    assert_eq!(err.lines().count(), 1);
    assert!(err.len() < 16 * 1024, "{} bytes", err.len());
    assert!(err.contains("unknown colour 'nosuch'"), "{err}");
    assert!(err.contains("more lines not shown"), "{err}");
    assert!(
        d.logs().lines().all(|l| l.len() < 16 * 1024),
        "a huge log line"
    );

    // Cue names: longer than any cue can be is refused plainly, and never echoed whole.
    let long = "x".repeat(65);
    let out = d.cli(&["go", &long]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cue names are at most 64 bytes"), "{err}");
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    let huge = serde_json::json!({"cmd": "standby", "cue": "y".repeat(60_000)}).to_string();
    beacon::operator_messages::write_frame(&mut s, huge.as_bytes()).unwrap();
    let reply = beacon::operator_messages::read_frame(&mut s).unwrap();
    assert!(reply.len() < 1024, "{} bytes", reply.len());

    // Unknown fields are refused on bare commands too.
    for bad in [
        r#"{"cmd":"stop","x":1}"#,
        r#"{"cmd":"blackout","cue":"intro"}"#,
    ] {
        beacon::operator_messages::write_frame(&mut s, bad.as_bytes()).unwrap();
        let reply: beacon::operator_messages::Response =
            serde_json::from_slice(&beacon::operator_messages::read_frame(&mut s).unwrap())
                .unwrap();
        assert_eq!(reply.kind.as_deref(), Some("malformed"), "{bad}");
    }
    assert_eq!(d.status()["state"], "stopped");
}
