//! The systemd units in `deploy/` pass `systemd-analyze verify` (no warnings either) and
//! carry the hardening the venue guide promises. Skipped, with a message, where
//! `systemd-analyze` is not installed (Debian package `systemd`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn unit(name: &str) -> String {
    std::fs::read_to_string(deploy().join(name)).unwrap()
}

#[test]
fn units_carry_the_hardening() {
    for name in ["crowdlight-beacon.service", "crowdlight-portal.service"] {
        let text = unit(name);
        for line in [
            "User=crowdlight",
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "Restart=always",
            "PrivateTmp=yes",
        ] {
            assert!(text.lines().any(|l| l == line), "{name} lacks {line}");
        }
    }
    let beacon = unit("crowdlight-beacon.service");
    for line in [
        "RuntimeDirectory=crowdlight",
        "StateDirectory=crowdlight",
        "CapabilityBoundingSet=",
    ] {
        assert!(beacon.lines().any(|l| l == line), "beacon lacks {line}");
    }
    let portal = unit("crowdlight-portal.service");
    assert!(
        portal
            .lines()
            .any(|l| l == "AmbientCapabilities=CAP_NET_BIND_SERVICE")
    );
}

#[test]
fn units_pass_systemd_analyze_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED: systemd-analyze not installed (apt-get install systemd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // `verify` checks that ExecStart binaries exist: point them at the built beacon (for the
    // portal unit too: only executability is checked, and it is not built by this crate).
    let exe = env!("CARGO_BIN_EXE_beacon");
    let mut paths = Vec::new();
    for name in ["crowdlight-beacon.service", "crowdlight-portal.service"] {
        let text = unit(name)
            .replace("/usr/bin/beacon", exe)
            .replace("/usr/bin/portal", exe);
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&paths)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify failed: {stderr}");
    assert!(
        stderr.trim().is_empty(),
        "verify warned (an unknown or misspelt directive?): {stderr}"
    );
}
