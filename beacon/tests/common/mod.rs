//! Helpers for the integration tests: start the real `beacon` binary on a random port with a
//! temporary socket and state file, run CLI commands, receive its multicast on loopback.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use beacon::operator_messages::Request;
use crowdlight_proto::receiver::Receiver;
use crowdlight_proto::wire::{Key, Packet};
use socket2::{Domain, Protocol, Socket, Type};

/// The multicast group the tests use (the default; the port is random per test).
pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 77, 77);

/// Path of a test fixture.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A random port in 20000..60000.
pub fn random_port() -> u16 {
    rand::random_range(20_000..60_000)
}

/// A `beacon` command with a clean environment for the socket.
pub fn beacon() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_beacon"));
    cmd.env_remove("CROWDLIGHT_SOCKET").env("RUST_LOG", "info");
    cmd
}

/// A running daemon and its files.
pub struct Daemon {
    /// The child process.
    pub child: Option<Child>,
    /// Temp dir holding the socket and state file.
    pub dir: tempfile::TempDir,
    /// Multicast port.
    pub port: u16,
    /// Operator socket.
    pub socket: PathBuf,
    /// State file.
    pub state_file: PathBuf,
    /// How many times the process was started.
    pub spawns: u32,
    /// Arguments after the common ones (default: `--show` the fixture show).
    pub extra: Vec<std::ffi::OsString>,
}

impl Daemon {
    /// Starts `beacon run --dev` with the fixture show, on a random port.
    pub fn start() -> Daemon {
        Daemon::start_with(vec!["--show".into(), fixture("show.toml").into()])
    }

    /// Starts `beacon run --dev` on a random port with `extra` arguments.
    pub fn start_with(extra: Vec<std::ffi::OsString>) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/beacon.sock");
        let state_file = dir.path().join("state/beacon-state.json");
        std::fs::create_dir_all(state_file.parent().unwrap()).unwrap();
        let mut d = Daemon {
            child: None,
            dir,
            port: random_port(),
            socket,
            state_file,
            spawns: 0,
            extra,
        };
        d.spawn();
        d
    }

    /// (Re)starts the process with the same files and port; waits until the socket answers.
    pub fn spawn(&mut self) {
        self.spawns += 1;
        let log_path = self.dir.path().join(format!("daemon-{}.log", self.spawns));
        let log = std::fs::File::create(log_path).unwrap();
        let child = beacon()
            .args(["run", "--dev", "--lead-ms", "300", "--port"])
            .arg(self.port.to_string())
            .arg("--socket")
            .arg(&self.socket)
            .arg("--state-file")
            .arg(&self.state_file)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if beacon::client::request(&self.socket, &Request::Status).is_ok_and(|r| r.ok) {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("daemon exited early: {status}; log: {}", self.logs());
            }
            assert!(Instant::now() < deadline, "daemon did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// All daemon logs so far.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "log") {
                out += &std::fs::read_to_string(path).unwrap_or_default();
            }
        }
        out
    }

    /// Runs a CLI command against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        beacon()
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs a CLI command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "beacon {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `beacon status --json`.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).unwrap()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A loopback multicast listener feeding a [`Receiver`].
pub struct Listener {
    /// The socket.
    pub socket: std::net::UdpSocket,
    /// The receiver filter.
    pub receiver: Receiver,
    /// Origin of the receiver's local clock.
    pub epoch: Instant,
}

impl Listener {
    /// Joins [`GROUP`] on 127.0.0.1 at `port`.
    pub fn join(port: u16) -> Listener {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.set_reuse_address(true).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&SocketAddr::V4(SocketAddrV4::new(GROUP, port)).into())
            .unwrap();
        s.join_multicast_v4(&GROUP, &Ipv4Addr::LOCALHOST).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Listener {
            socket: s.into(),
            receiver: Receiver::new(Key::dev()),
            epoch: Instant::now(),
        }
    }

    /// The receiver's local clock, µs.
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// The next raw datagram (panics after 5 s of silence).
    pub fn raw(&self) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 2048];
        loop {
            match self.socket.recv(&mut buf) {
                Ok(n) => return buf[..n].to_vec(),
                Err(_) => assert!(Instant::now() < deadline, "no multicast received"),
            }
        }
    }

    /// Waits (up to 5 s) for an accepted packet matching `pred`.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Packet) -> bool) -> Packet {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let bytes = self.raw();
            let now = self.now_us();
            if let Ok(p) = self.receiver.handle_datagram(now, &bytes)
                && pred(p)
            {
                return p.clone();
            }
        }
    }
}
