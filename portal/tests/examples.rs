//! Every example portal config under `config/` parses as shipped and validates once its venue
//! paths and addresses are swapped for local ones; `portal validate` names each problem with
//! exit 0 valid / 1 invalid / 2 unreadable or usage. SIGHUP rescans the shows directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_portal");

fn examples() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo().join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("portal")
        })
        .collect();
    out.sort();
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The example with venue paths and addresses made valid on this machine.
fn localised(example: &Path, dir: &Path) -> PathBuf {
    let key = dir.join("venue.key");
    std::fs::write(&key, "5a".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace("/etc/crowdlight/venue.key", key.to_str().unwrap())
        .replace(
            "/etc/crowdlight/shows",
            repo().join("shows/examples").to_str().unwrap(),
        )
        .replace("\"0.0.0.0:80\"", &format!("\"127.0.0.1:{}\"", free_port()))
        .replace(
            "\"10.78.0.11:53\"",
            &format!("\"127.0.0.1:{}\"", free_port()),
        )
        .replace("interface = \"10.77.0.11\"", "interface = \"127.0.0.1\"");
    let out = dir.join(example.file_name().unwrap());
    std::fs::write(&out, text).unwrap();
    out
}

fn validate(config: &Path) -> std::process::Output {
    Command::new(BIN)
        .arg("validate")
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn every_example_portal_config_validates() {
    let list = examples();
    assert!(!list.is_empty(), "config/portal.toml is missing");
    for example in list {
        portal::config::Config::load(&example).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = localised(&example, dir.path());
        let out = validate(&config);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{}: {text}", example.display());
        assert!(
            text.contains("valid") && text.contains("compiled"),
            "{text}"
        );
    }
}

#[test]
fn validate_names_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = localised(&repo().join("config/portal.toml"), dir.path());
    let text = std::fs::read_to_string(&good).unwrap();
    let check = |name: &str, body: String, want: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let out = validate(&path);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(want), "{name}: want {want:?} in {err}");
    };
    check(
        "unknown.toml",
        format!("{text}\nlisten-addr = 1\n"),
        "listen-addr",
    );
    check(
        "address.toml",
        text.replace("group = \"239.255.77.77\"", "group = \"239.255\""),
        "group",
    );
    let open = dir.path().join("open.key");
    std::fs::write(&open, "5a".repeat(32)).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    check(
        "openkey.toml",
        text.replace("venue.key", "open.key"),
        "key-file",
    );
    check(
        "noshows.toml",
        text.replace("shows/examples", "shows/none-here"),
        "shows:",
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http_line = text
        .lines()
        .find(|l| l.starts_with("listen = \"127.0.0.1:"))
        .unwrap();
    check(
        "busy.toml",
        text.replacen(
            http_line,
            &format!("listen = \"{}\"", taken.local_addr().unwrap()),
            1,
        ),
        "already in use",
    );
    check(
        "iface.toml",
        text.replace("interface = \"127.0.0.1\"", "interface = \"192.0.2.7\""),
        "beacon:",
    );
    assert_eq!(
        validate(&dir.path().join("absent.toml")).status.code(),
        Some(2)
    );
    let out = Command::new(BIN).arg("validate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sighup_rescans_the_shows_directory() {
    let dir = tempfile::tempdir().unwrap();
    let shows = dir.path().join("shows");
    std::fs::create_dir(&shows).unwrap();
    let examples = repo().join("shows/examples");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    sources.sort();
    let first = &sources[0];
    std::fs::copy(first, shows.join(first.file_name().unwrap())).unwrap();
    // A second, different show: the first with another title.
    let other =
        std::fs::read_to_string(first)
            .unwrap()
            .replacen("title = \"", "title = \"Reloaded ", 1);
    let other_id = shows::compile_str(&other, "other.toml").unwrap().id_hex();
    let shows_s = shows.display().to_string();
    let p = PortalProcess::start(&["--shows", &shows_s]);
    let path = format!("/show/{other_id}.json");
    assert_eq!(get(p.http, "127.0.0.1", &path, &[]).status, 404);

    std::fs::write(shows.join("other.toml"), other).unwrap();
    let pid = p.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let served = poll_until(Duration::from_secs(10), || {
        (get(p.http, "127.0.0.1", &path, &[]).status == 200).then_some(())
    });
    assert!(served.is_some(), "the new show is served after SIGHUP");
    let log = p.drain_log().join("\n");
    assert!(log.contains("rescanned"), "{log}");
}
