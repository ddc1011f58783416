//! OSC input: real OSC datagrams over UDP to the real daemon change the multicast state
//! through the same command path as the socket; garbage is counted and the show goes on.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use beacon::osc::encode_message;
use common::{Daemon, Listener, fixture, random_port};
use crowdlight_proto::wire::State;
use rosc::OscType;

fn osc_daemon() -> (Daemon, u16) {
    let osc_port = random_port();
    let d = Daemon::start_with(vec![
        "--show".into(),
        fixture("show.toml").into(),
        "--osc".into(),
        format!("127.0.0.1:{osc_port}").into(),
    ]);
    (d, osc_port)
}

fn wait_stat(d: &Daemon, name: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = d.status()["stats"][name].as_u64().unwrap_or(0);
        if got >= want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed at {got}, want {want}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn osc_commands_drive_the_beacon() {
    let (d, port) = osc_daemon();
    let mut rx = Listener::join(d.port);
    let desk = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |addr: &str, args: Vec<OscType>| {
        desk.send_to(&encode_message(addr, args), ("127.0.0.1", port))
            .unwrap();
    };

    send(
        "/crowdlight/standby",
        vec![OscType::String("finale".into())],
    );
    rx.wait_for("standby", |p| {
        p.state
            == State::Standby {
                cue: "finale".into(),
            }
    });
    send("/crowdlight/go", vec![]);
    rx.wait_for(
        "running finale",
        |p| matches!(&p.state, State::Running { cue, .. } if cue == "finale"),
    );
    send("/crowdlight/go", vec![OscType::String("intro".into())]);
    rx.wait_for("running intro", |p| p.state.cue() == Some("intro"));
    send("/crowdlight/hold", vec![OscType::Float(1.0)]);
    rx.wait_for("hold", |p| matches!(p.state, State::Hold { .. }));
    send("/crowdlight/resume", vec![OscType::Float(0.0)]); // a button release: ignored
    send("/crowdlight/resume", vec![]);
    rx.wait_for("resumed", |p| matches!(p.state, State::Running { .. }));
    send("/crowdlight/blackout", vec![OscType::Int(1)]);
    rx.wait_for("blackout", |p| p.state == State::Blackout);
    send("/crowdlight/stop", vec![]);
    rx.wait_for("stopped", |p| p.state == State::Stopped);
    wait_stat(&d, "osc_commands", 7);

    // Garbage, unknown addresses, bad arguments and unknown cues never stop the show.
    send("/crowdlight/go", vec![OscType::String("intro".into())]);
    rx.wait_for("running again", |p| p.state.cue() == Some("intro"));
    desk.send_to(b"definitely not OSC", ("127.0.0.1", port))
        .unwrap();
    send("/crowdlight/dance", vec![]);
    send("/crowdlight/standby", vec![]);
    send("/crowdlight/go", vec![OscType::String("nope".into())]);
    wait_stat(&d, "osc_malformed", 3);
    wait_stat(&d, "refused_commands", 1);
    let status = d.status();
    assert_eq!(status["state"], "running");
    assert_eq!(status["cue"], "intro");
    let logs = d.logs();
    assert!(logs.contains("malformed OSC packet"), "{logs}");
}

#[test]
fn a_non_loopback_osc_address_needs_an_allowlist() {
    let out = common::beacon()
        .args(["run", "--dev", "--osc", "0.0.0.0:9000", "--socket"])
        .arg(std::env::temp_dir().join("never-used/beacon.sock"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("osc-allow"), "{err}");
}

#[test]
fn senders_outside_the_allowlist_are_dropped() {
    // Listening on loopback but allowing only another address: our loopback desk is refused.
    let osc_port = random_port();
    let d = Daemon::start_with(vec![
        "--show".into(),
        fixture("show.toml").into(),
        "--osc".into(),
        format!("127.0.0.1:{osc_port}").into(),
        "--osc-allow".into(),
        "127.0.0.2".into(),
    ]);
    let desk = UdpSocket::bind("127.0.0.1:0").unwrap();
    desk.send_to(
        &encode_message("/crowdlight/go", vec![]),
        ("127.0.0.1", osc_port),
    )
    .unwrap();
    wait_stat(&d, "osc_denied", 1);
    assert_eq!(d.status()["state"], "stopped");
    // The allowed source gets through.
    let allowed = UdpSocket::bind("127.0.0.2:0").unwrap();
    allowed
        .send_to(
            &encode_message("/crowdlight/go", vec![]),
            ("127.0.0.1", osc_port),
        )
        .unwrap();
    wait_stat(&d, "osc_commands", 1);
    assert_eq!(d.status()["state"], "running");
}
