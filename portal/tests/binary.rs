//! The real binary: `--help`, config-file handling, DNS over UDP and TCP, probes, SIGTERM.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_portal");

#[test]
fn help_lists_the_run_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let out = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--dev",
        "--config",
        "--http",
        "--dns",
        "--group",
        "--port",
        "--interface",
        "--key",
        "--shows",
        "--release",
        "--canonical-url",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}

/// `portal run --help` shows the defaults the daemon really starts with (one source:
/// `portal::cli::flag_defaults`, read from the configuration itself), and no other.
#[test]
fn help_shows_the_real_defaults() {
    let out = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(out.status.success());
    let shown = crowdlight_proto::help::shown_defaults(&String::from_utf8_lossy(&out.stdout));
    let expected: Vec<(String, String)> = portal::cli::flag_defaults()
        .into_iter()
        .map(|(id, value)| (id.replace('_', "-"), value))
        .map(|(flag, value)| match flag.as_str() {
            "portal-ip" => ("ipv4".to_owned(), value),
            _ => (flag, value),
        })
        .collect();
    assert_eq!(shown, expected);
    let dev = portal::config::Config::dev();
    assert!(shown.contains(&(
        "long-poll-wait-ms".into(),
        dev.http.long_poll_wait_ms.to_string()
    )));
    assert!(shown.contains(&("http".into(), dev.http.listen.to_string())));
}

#[test]
fn refuses_the_dev_key_without_dev_and_bad_config_files() {
    let out = Command::new(BIN)
        .args(["run", "--http", "127.0.0.1:0", "--no-dns"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("development key"));

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("portal.toml");
    std::fs::write(
        &cfg,
        "[http]\nlisten = \"127.0.0.1:0\"\nheader-timeout = 5\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--dev", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("header-timeout") && err.contains("portal.toml"),
        "{err}"
    );
}

#[test]
fn config_file_run_answers_dns_over_udp_and_tcp_and_probes_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("portal.toml");
    std::fs::write(
        &cfg,
        "allow-dev-key = true\n[http]\ncanonical-url = \"http://show.venue.lan/\"\nhost-aliases = [\"show.venue.lan\"]\n[dns]\nipv4 = \"10.20.30.40\"\nttl = 7\n",
    )
    .unwrap();
    let cfg_s = cfg.display().to_string();
    let mut p = PortalProcess::start(&["--config", &cfg_s]);
    let dns = p.dns.expect("dns addr");
    for exchange in [udp_exchange, tcp_exchange] {
        let r = parse_dns(
            &exchange(
                dns,
                &dns_query(77, "connectivitycheck.gstatic.com", 1, Some(0)),
            )
            .unwrap(),
        );
        assert_eq!(r.answers, vec![(1, 7, vec![10, 20, 30, 40])]);
    }
    assert!(
        udp_exchange(dns, &[0xde, 0xad]).is_none(),
        "short message dropped"
    );
    let r = get(
        p.http,
        "connectivitycheck.gstatic.com",
        "/generate_204",
        &[],
    );
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("http://show.venue.lan/"));
    assert_eq!(get(p.http, "show.venue.lan", "/s", &[]).status, 200);
    let m = get(p.http, "show.venue.lan", "/metrics", &[]).text();
    assert!(m.contains("portal_dns_queries_total{type=\"a\"} 2"), "{m}");
    assert!(
        m.contains("portal_dns_errors_total{kind=\"dropped\"} 1"),
        "{m}"
    );

    let pid = p.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = poll_until(Duration::from_secs(10), || p.child.try_wait().unwrap());
    assert!(status.expect("exited on SIGTERM").success());
}
