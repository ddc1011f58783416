//! Every example beacon config under `config/` validates (its venue paths and addresses
//! swapped for temporary ones), and `beacon validate` says exactly what is wrong otherwise,
//! with exit 0 valid / 1 invalid / 2 unreadable or usage.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{beacon, random_port};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn examples(prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo().join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && p.file_name().unwrap().to_string_lossy().starts_with(prefix)
        })
        .collect();
    out.sort();
    out
}

/// The example with its venue paths and addresses made valid on this machine.
fn localised(example: &Path, dir: &Path) -> PathBuf {
    let key = dir.join("venue.key");
    std::fs::write(&key, "5a".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let show = repo().join("shows/examples/intermission.toml");
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace("/etc/crowdlight/venue.key", key.to_str().unwrap())
        .replace(
            "/etc/crowdlight/shows/intermission.toml",
            show.to_str().unwrap(),
        )
        .replace("/run/crowdlight/", &format!("{}/run/", dir.display()))
        .replace("/var/lib/crowdlight/", &format!("{}/state/", dir.display()))
        .replace("10.77.0.2:9000", &format!("127.0.0.1:{}", random_port()))
        .replace("\"10.77.0.2\"", "\"127.0.0.1\"");
    let out = dir.join(example.file_name().unwrap());
    std::fs::write(&out, text).unwrap();
    out
}

fn validate(config: &Path) -> std::process::Output {
    beacon().arg("validate").arg(config).output().unwrap()
}

#[test]
fn every_config_is_for_a_known_daemon() {
    let all = examples("");
    assert!(!all.is_empty());
    for p in all {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("beacon") || name.starts_with("portal"),
            "{name}: example configs are named beacon*.toml or portal*.toml"
        );
    }
}

#[test]
fn every_example_beacon_config_validates() {
    let list = examples("beacon");
    assert!(!list.is_empty(), "config/beacon.toml is missing");
    for example in list {
        // As shipped it parses: every key is known and every value well-formed.
        beacon::config::read_file(&example).unwrap();
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
            text.contains("valid") && text.contains("Intermission"),
            "{text}"
        );
    }
}

#[test]
fn validate_names_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = localised(&repo().join("config/beacon.toml"), dir.path());
    let text = std::fs::read_to_string(&good).unwrap();
    let check = |name: &str, body: String, want: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, body).unwrap();
        let out = validate(&path);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(want), "{name}: want {want:?} in {err}");
    };

    check("unknown.toml", format!("{text}\nprot = 1\n"), "prot");
    check(
        "address.toml",
        text.replace("group = \"239.255.77.77\"", "group = \"239.255.77\""),
        "group",
    );
    check(
        "unicast.toml",
        text.replace("group = \"239.255.77.77\"", "group = \"10.0.0.1\""),
        "not an IPv4 multicast address",
    );
    check(
        "nokey.toml",
        text.replace("venue.key", "missing.key"),
        "cannot read key file",
    );
    let open = dir.path().join("open.key");
    std::fs::write(&open, "5a".repeat(32)).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    check(
        "openkey.toml",
        text.replace("venue.key", "open.key"),
        "chmod 600",
    );
    check(
        "devkey.toml",
        text.replace(
            dir.path().join("venue.key").to_str().unwrap(),
            repo().join("config/dev.key").to_str().unwrap(),
        ),
        "development key",
    );
    check(
        "noshow.toml",
        text.replace("intermission.toml", "no-such-show.toml"),
        "does not exist",
    );
    let busy = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let osc_line = text.lines().find(|l| l.starts_with("osc =")).unwrap();
    check(
        "busy.toml",
        text.replace(osc_line, &format!("osc = \"127.0.0.1:{busy_port}\"")),
        "already in use",
    );

    // Unreadable file and bad usage: exit 2.
    let out = validate(&dir.path().join("absent.toml"));
    assert_eq!(out.status.code(), Some(2));
    let out = beacon().arg("validate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
