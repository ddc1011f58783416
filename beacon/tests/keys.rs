//! `beacon run` key and config handling through the real binary.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use beacon::protocol::Request;
use beacon::receiver::Receiver;
use beacon::wire::Key;
use common::Listener;

fn run_fails(args: &[&str], dir: &std::path::Path) -> String {
    let out = common::beacon()
        .arg("run")
        .args(args)
        .arg("--socket")
        .arg(dir.join("beacon.sock"))
        .arg("--port")
        .arg(common::random_port().to_string())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn production_refuses_dev_key_open_key_files_and_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let dev_key = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/dev.key");
    let err = run_fails(&["--key-file", dev_key], dir.path());
    assert!(err.contains("development key without --dev"), "{err}");
    let err = run_fails(&[], dir.path());
    assert!(err.contains("no venue key"), "{err}");

    let open = dir.path().join("open.key");
    std::fs::write(&open, "11".repeat(32)).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = run_fails(&["--key-file", open.to_str().unwrap()], dir.path());
    assert!(err.contains("chmod 600"), "{err}");

    let config = dir.path().join("beacon.toml");
    std::fs::write(&config, "prot = 7777\n").unwrap();
    let err = run_fails(&["--config", config.to_str().unwrap()], dir.path());
    assert!(err.contains("beacon.toml") && err.contains("prot"), "{err}");
    assert!(!dir.path().join("beacon.sock").exists());
}

#[test]
fn runs_from_a_config_file_with_a_venue_key() {
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("venue.key");
    std::fs::write(&key_path, [0x42u8; 32]).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let port = common::random_port();
    let socket = dir.path().join("sock/beacon.sock");
    let config = dir.path().join("beacon.toml");
    std::fs::write(
        &config,
        format!(
            "key-file = {key:?}\nport = {port}\ninterface = \"127.0.0.1\"\nttl = 1\n\
             multicast-loop = true\nsocket = {socket:?}\nshow = {show:?}\nlead-ms = 200\n",
            key = key_path,
            socket = socket,
            show = common::fixture("show.toml"),
        ),
    )
    .unwrap();
    let mut child = common::beacon()
        .args(["run", "--config"])
        .arg(&config)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut rx = Listener::join(port);
    rx.receiver = Receiver::new(Key::from_bytes([0x42; 32]));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !beacon::client::request(&socket, &Request::Status).is_ok_and(|r| r.ok) {
        assert!(Instant::now() < deadline, "daemon did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    let reply = beacon::client::request(
        &socket,
        &Request::Go {
            cue: Some("intro".into()),
        },
    )
    .unwrap();
    assert!(reply.message.unwrap().contains("in 200 ms"));
    rx.wait_for("running under the venue key", |p| {
        p.state.cue() == Some("intro")
    });
    // The dev key does not verify these packets.
    let mut dev = Receiver::new(Key::dev());
    assert!(dev.handle_datagram(&rx.raw()).is_err());
    child.kill().unwrap();
    child.wait().unwrap();
}
