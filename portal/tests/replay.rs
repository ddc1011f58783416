//! Replay attack end to end (issue 15 item 1): the real `beacon` binary and the real `portal`
//! binary on loopback multicast. A recording of an earlier beacon run (same venue key),
//! replayed while the live beacon runs and again after it went silent, leaves `/s` and `/t`
//! alone; a real restart is followed at once; the live beacon's next command reaches `/s`.
//! Needs the beacon binary next to the portal binary (as `with_beacon.rs`); skips otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn beacon_bin() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_portal")).with_file_name("beacon");
    p.exists().then_some(p)
}

/// A beacon daemon with its own socket and state file.
struct Beacon {
    child: Child,
    bin: PathBuf,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Beacon {
    fn start(bin: &Path, port: u16) -> Beacon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/beacon.sock");
        let child = Command::new(bin)
            .args([
                "run",
                "--dev",
                "--lead-ms",
                "200",
                "--port",
                &port.to_string(),
            ])
            .arg("--show")
            .arg(repo().join("shows/examples/minimal.toml"))
            .arg("--socket")
            .arg(&socket)
            .arg("--state-file")
            .arg(dir.path().join("state.json"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let b = Beacon {
            child,
            bin: bin.to_owned(),
            socket,
            _dir: dir,
        };
        poll_until(Duration::from_secs(20), || {
            b.try_op(&["status"]).then_some(())
        })
        .expect("beacon came up");
        b
    }

    fn try_op(&self, args: &[&str]) -> bool {
        Command::new(&self.bin)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn op(&self, args: &[&str]) {
        assert!(self.try_op(args), "beacon {args:?} failed");
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Beacon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Records `n` raw datagrams from the group.
fn record(port: u16, n: usize) -> Vec<Vec<u8>> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.set_reuse_port(true).unwrap();
    s.bind(&std::net::SocketAddr::from((GROUP, port)).into())
        .unwrap();
    s.join_multicast_v4(&GROUP, &std::net::Ipv4Addr::LOCALHOST)
        .unwrap();
    let s: std::net::UdpSocket = s.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2048];
    (0..n)
        .map(|_| {
            let len = s.recv(&mut buf).expect("beacon packet recorded");
            buf[..len].to_vec()
        })
        .collect()
}

fn metric(p: &PortalProcess, name: &str) -> u64 {
    let text = get(p.http, "127.0.0.1", "/metrics", &[]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

fn s_body(p: &PortalProcess) -> serde_json::Value {
    get(p.http, "127.0.0.1", "/s", &[]).json()
}

fn t_now(p: &PortalProcess) -> u64 {
    get(p.http, "127.0.0.1", "/t", &[]).json()["t"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_replayed_recording_never_takes_over_the_relay() {
    let Some(bin) = beacon_bin() else {
        eprintln!("SKIPPED: no beacon binary next to portal (run `cargo test --workspace`)");
        return;
    };
    let p = PortalProcess::start(&[]);
    let port = p.mcast_port;
    let stale = "portal_beacon_packets_total{result=\"stale\"}";
    let state = |want: &str| {
        poll_until(Duration::from_secs(10), || {
            let v = s_body(&p);
            (v["state"] == want).then_some(v)
        })
        .unwrap_or_else(|| panic!("/s never became {want}: {}", s_body(&p)))
    };

    // The rehearsal: a beacon in blackout, recorded by a laptop on the show LAN (on another
    // port, so this relay never held that boot: the case where it used to give in after 50
    // stale packets in a row).
    let rehearsal_port = loop {
        let p = random_port();
        if p != port {
            break p;
        }
    };
    let rehearsal = Beacon::start(&bin, rehearsal_port);
    rehearsal.op(&["blackout"]);
    let recording: Vec<Vec<u8>> = record(rehearsal_port, 70).split_off(10);
    rehearsal.stop();
    assert!(
        recording
            .iter()
            .any(|b| beacon::wire::parse(b, &beacon::wire::Key::dev())
                .is_ok_and(|p| p.state == beacon::wire::State::Blackout)),
        "the recording holds the blackout"
    );

    // The show: a new beacon run (a real restart: new boot id, its clock continuing). It is
    // followed on its first packet: none of its packets is refused as stale.
    let live = Beacon::start(&bin, port);
    live.op(&["standby", "glow"]);
    let before = state("standby");
    assert_eq!(metric(&p, stale), 0, "the restarted beacon was refused");
    let t_before = t_now(&p);

    // The recording is replayed while the live beacon runs: in one burst (no live packet in
    // between) and then spread over the live packets.
    let tx = McastSender::new(port);
    for bytes in &recording {
        tx.send(bytes);
    }
    for bytes in &recording {
        tx.send(bytes);
        std::thread::sleep(Duration::from_millis(20));
    }
    poll_until(Duration::from_secs(5), || {
        (metric(&p, stale) >= 2 * recording.len() as u64).then_some(())
    })
    .expect("every replayed packet counted as stale");
    let after = s_body(&p);
    assert_eq!(after["state"], "standby", "{after}");
    assert_eq!(after["cue"], before["cue"]);
    let t_after = t_now(&p);
    assert!(
        t_after >= t_before,
        "/t moved back: {t_before} -> {t_after}"
    );
    assert_eq!(
        get(p.http, "127.0.0.1", "/t", &[]).header("x-clock-source"),
        Some("beacon")
    );

    // The live beacon's next command reaches /s as usual.
    live.op(&["go", "glow"]);
    state("running");

    // The live beacon goes silent; the recording, replayed at length, still changes nothing:
    // the relay keeps the last good state.
    live.stop();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        for bytes in &recording {
            tx.send(bytes);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let silent = s_body(&p);
    assert_eq!(silent["state"], "running", "{silent}");
    assert_eq!(silent["cue"], "glow");
    assert!(t_now(&p) >= t_after);
}
