//! The socket and state directories and the state file on the real daemon (issue 15 item 4,
//! issue 17 item 2): created private whatever the umask, refused before anything in them is
//! read when they are not ours or writable by others, the state file written 0600; `--fresh`
//! discards the persisted state and says what it held.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, beacon, fixture, random_port};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// `beacon run --dev` that is expected to exit by itself (refused); killed after 20 s.
fn run_refused(args: &[&std::ffi::OsStr]) -> Output {
    let mut cmd = beacon();
    cmd.args(["run", "--dev", "--port", &random_port().to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A state file naming the fixture show, in `dir`, as an earlier run would leave it.
fn plant_state(dir: &Path) -> std::path::PathBuf {
    let state = dir.join("beacon-state.json");
    let json = serde_json::json!({
        "show_path": fixture("show.toml"),
        "show_id": null,
        "state": {"Standby": {"cue": "finale"}},
        "armed": "finale",
        "last_cue": null,
    });
    std::fs::write(&state, json.to_string()).unwrap();
    state
}

#[test]
fn the_default_directory_is_created_0700_and_the_state_file_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    // Default paths under XDG_RUNTIME_DIR; a permissive umask must not matter.
    let port = random_port();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000; exec {} run --dev --port {port}",
            env!("CARGO_BIN_EXE_beacon")
        ))
        .env("XDG_RUNTIME_DIR", &xdg)
        .env_remove("CROWDLIGHT_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = xdg.join("crowdlight");
    let socket = dir.join("beacon.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !beacon::client::request(&socket, &beacon::operator_messages::Request::Status)
        .is_ok_and(|r| r.ok)
    {
        assert!(Instant::now() < deadline, "daemon did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let reply =
        beacon::client::request(&socket, &beacon::operator_messages::Request::Blackout).unwrap();
    assert!(reply.ok);
    let state = dir.join("beacon-state.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !state.exists() {
        assert!(Instant::now() < deadline, "state file not written");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&state), 0o600);
    assert_eq!(mode(&socket), 0o660);
    // Only the state file and the socket: no temp file left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn a_writable_directory_is_refused_before_the_state_file_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    plant_state(&dir);
    for m in [0o777, 0o775, 0o1777] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(m)).unwrap();
        let out = run_refused(&["--socket".as_ref(), dir.join("beacon.sock").as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "mode {m:o} accepted: {stderr}");
        assert!(
            stderr.contains("writable by group or others") && stderr.contains("chmod go-w"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("resumed") && !stderr.contains("finale"),
            "the state file was read: {stderr}"
        );
        assert!(!dir.join("beacon.sock").exists());
    }
    // A state directory elsewhere is checked the same way.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let sockdir = tmp.path().join("sock");
    let out = run_refused(&[
        "--socket".as_ref(),
        sockdir.join("beacon.sock").as_os_str(),
        "--state-file".as_ref(),
        dir.join("beacon-state.json").as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("writable by group or others"), "{stderr}");
}

#[test]
fn a_directory_of_another_user_is_refused() {
    if !rustix::process::getuid().is_root() {
        eprintln!("SKIPPED: needs root to give a directory to another user");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("theirs");
    std::fs::create_dir(&dir).unwrap();
    plant_state(&dir);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    let out = run_refused(&["--socket".as_ref(), dir.join("beacon.sock").as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("belongs to uid 65534"), "{stderr}");
    assert!(
        !stderr.contains("finale"),
        "the state file was read: {stderr}"
    );
}

#[test]
fn fresh_discards_the_persisted_state_and_says_what_it_held() {
    let mut d = Daemon::start();
    d.ok(&["standby", "finale"]);
    d.ok(&["go", "finale"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&d.state_file).is_ok_and(|s| s.contains("Running")) {
        assert!(Instant::now() < deadline, "state not persisted");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Without --fresh the persisted show wins over --show.
    d.kill9();
    d.extra = vec!["--show".into(), fixture("other.toml").into()];
    d.spawn();
    assert_eq!(d.status()["cue"], "finale");
    // With --fresh: the configured show, stopped, and the log says what was discarded.
    d.kill9();
    d.extra.push("--fresh".into());
    d.spawn();
    let status = d.status();
    assert_eq!(status["state"], "stopped", "{status}");
    let other = std::fs::read_to_string(fixture("other.toml")).unwrap();
    let title = status["show_info"]["title"].as_str().unwrap().to_owned();
    assert!(other.contains(&title), "{title} is not other.toml's title");
    let logs = d.logs();
    assert!(
        logs.contains("--fresh: discarded the persisted state")
            && logs.contains("finale")
            && logs.contains("running"),
        "{logs}"
    );
}

#[test]
fn run_help_says_where_state_is_kept_and_that_it_wins() {
    let out = beacon().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "beacon-state.json",
        "/tmp/crowdlight-$UID/",
        "wins over --show",
        "--fresh",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from:\n{help}");
    }
}
