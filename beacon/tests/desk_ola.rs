//! The beacon driven by a real lighting-desk stack: Debian's OLA (`olad` with its E1.31 and
//! Art-Net plugins, `ola_patch`, `ola_set_dmx`, `ola_streaming_client`) sends sACN and Art-Net
//! to the real daemon (OLA universe 1 → sACN universe 1 and Art-Net port-address 1).
//!
//! OLA's E1.31 plugin will not use a loopback interface, so the test builds a network
//! namespace of its own (root only: `unshare -n`), with a veth pair 10.99.0.1 ↔ 10.99.0.2;
//! nothing leaves it. olad refuses to run as root and runs as `nobody`. Without root, `olad`
//! or `unshare` the test says why and passes (CI runs as root with `ola` installed).
//!
//! Checks: a trigger value from `ola_set_dmx` fires the cue once, though it arrives over both
//! protocols (OLA broadcasts its ArtDmx; it reaches the beacon from 127.0.0.1, the broadcast
//! looped back); a zone's RGB held from
//! `ola_streaming_client` is live; a second sACN source at a higher priority (a scripted
//! sender inside the namespace) wins and hands back; killing `olad` releases the zone after
//! the 2.5 s source timeout.

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use beacon::desk::sacn;
use common::{beacon, fixture, random_port};

const DESK_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
const OLA_CID: &str = "6c9a4a1e-3c5f-4b8e-9d2a-0a0b0c0d0e01";
/// Every OLA plugin but E1.31 is switched off: nothing but the desk's sACN is sent.
const OFF: [&str; 20] = [
    "artnet",
    "dummy",
    "espnet",
    "ftdidmx",
    "gpio",
    "karate",
    "kinet",
    "milinst",
    "opendmx",
    "openpixelcontrol",
    "osc",
    "pathport",
    "renard",
    "sandnet",
    "shownet",
    "spi",
    "stageprofi",
    "uartdmx",
    "usbdmx",
    "usbserial",
];

/// A network namespace held open by a sleeping child, and everything started in it.
struct Netns {
    holder: Child,
    children: Vec<Child>,
}

impl Netns {
    fn create() -> Result<Netns, String> {
        let holder = Command::new("unshare")
            .args(["-n", "sleep", "600"])
            .spawn()
            .map_err(|e| format!("unshare: {e}"))?;
        let ns = Netns {
            holder,
            children: Vec::new(),
        };
        std::thread::sleep(Duration::from_millis(100));
        for args in [
            "link set lo up",
            "link add v0 type veth peer name v1",
            "addr add 10.99.0.1/24 dev v0",
            "addr add 10.99.0.2/24 dev v1",
            "link set v0 up",
            "link set v1 up",
        ] {
            let ok = ns
                .cmd("ip")
                .args(args.split(' '))
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(format!("ip {args} failed in the namespace"));
            }
        }
        Ok(ns)
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/net", self.holder.id()))
    }

    /// `program` run inside the namespace.
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        c
    }

    /// A UDP socket bound inside the namespace (made on a thread that joined it).
    fn udp(&self, addr: &str) -> UdpSocket {
        let path = self.path();
        let addr = addr.to_owned();
        std::thread::spawn(move || {
            let ns = std::fs::File::open(path).unwrap();
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            UdpSocket::bind(addr).unwrap()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn skip_reason() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root: cannot make a network namespace".into());
    }
    [
        "olad",
        "ola_patch",
        "ola_set_dmx",
        "ola_streaming_client",
        "ola_dev_info",
        "unshare",
        "nsenter",
        "setpriv",
        "ip",
    ]
    .iter()
    .find(|p| !have(p))
    .map(|p| format!("{p} is not installed (apt-get install ola iproute2 util-linux)"))
}

fn write_ola_config(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for plugin in OFF {
        std::fs::write(dir.join(format!("ola-{plugin}.conf")), "enabled = false\n").unwrap();
    }
    std::fs::write(
        dir.join("ola-e131.conf"),
        format!(
            "enabled = true\nip = {DESK_IP}\ncid = {OLA_CID}\ninput_ports = 1\noutput_ports = 1\n\
             prepend_hostname = false\nignore_preview = true\ndraft_discovery = false\ndscp = 0\nrevision = 0.46\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("ola-artnet.conf"),
        format!(
            "enabled = true\nip = {DESK_IP}\nnet = 0\nsubnet = 0\noutput_ports = 1\n\
             short_name = desk test\nlong_name = desk test\nalways_broadcast = true\n\
             use_limited_broadcast = false\nuse_loopback = false\n"
        ),
    )
    .unwrap();
    // olad runs as nobody: it must read and write its config.
    let chown = |p: &Path| {
        let ok = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(p)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chown {}", p.display());
    };
    chown(dir);
}

fn status(socket: &Path) -> serde_json::Value {
    let out = beacon()
        .arg("--socket")
        .arg(socket)
        .args(["status", "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn wait_status(
    socket: &Path,
    what: &str,
    within: Duration,
    logs: impl Fn() -> String,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let s = status(socket);
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {s}\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ola_drives_the_beacon() {
    if let Some(reason) = skip_reason() {
        eprintln!("desk_ola: skipped: {reason}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut ns = match Netns::create() {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("desk_ola: skipped: {e}");
            return;
        }
    };
    let conf = dir.path().join("ola");
    write_ola_config(&conf);
    let olad_log = dir.path().join("olad.log");
    let beacon_log = dir.path().join("beacon.log");
    let logs = {
        let (a, b) = (olad_log.clone(), beacon_log.clone());
        move || {
            format!(
                "olad: {}\nbeacon: {}",
                std::fs::read_to_string(&a).unwrap_or_default(),
                std::fs::read_to_string(&b).unwrap_or_default()
            )
        }
    };
    let olad = ns
        .cmd("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "olad",
            "--no-http",
            "-l",
            "3",
            "-c",
        ])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&olad_log).unwrap())
        .spawn()
        .unwrap();
    ns.children.push(olad);
    // olad is up when its E1.31 and Art-Net devices are listed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let device = |text: &str, name: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with("Device ") && l.contains(name))?;
        Some(
            line.trim_start_matches("Device ")
                .split(':')
                .next()?
                .to_owned(),
        )
    };
    let (e131, artnet) = loop {
        let out = ns.cmd("ola_dev_info").output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if let (Some(a), Some(b)) = (device(&text, "E1.31"), device(&text, "ArtNet")) {
            break (a, b);
        }
        assert!(
            Instant::now() < deadline,
            "olad did not come up: {}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for dev in [&e131, &artnet] {
        let ok = ns
            .cmd("ola_patch")
            .args(["-d", dev, "-p", "0", "-u", "1"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "ola_patch -d {dev} failed: {}", logs());
    }

    let socket = dir.path().join("run/beacon.sock");
    let child = ns
        .cmd(env!("CARGO_BIN_EXE_beacon"))
        .env_remove("CROWDLIGHT_SOCKET")
        .args(["run", "--dev", "--lead-ms", "300", "--show"])
        .arg(fixture("show.toml"))
        .arg("--socket")
        .arg(&socket)
        .arg("--state-file")
        .arg(dir.path().join("state/beacon-state.json"))
        .args(["--port", &random_port().to_string()])
        .args([
            "--interface",
            "10.99.0.1",
            "--desk-allow",
            "10.99.0.1,10.99.0.2,127.0.0.1",
        ])
        .args([
            "--sacn",
            "1",
            "--artnet",
            "1",
            "--trigger-address",
            "1",
            "--patch",
            "left=10",
            "--patch",
            "right=13",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&beacon_log).unwrap())
        .spawn()
        .unwrap();
    ns.children.push(child);
    wait_status(&socket, "the beacon", Duration::from_secs(20), &logs, |s| {
        s["state"].is_string()
    });

    // ola_set_dmx: trigger value 2 fires the show's second cue.
    let ok = ns
        .cmd("ola_set_dmx")
        .args(["-u", "1", "-d", "2"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    wait_status(&socket, "GO flash", Duration::from_secs(10), &logs, |s| {
        s["cue"] == "flash" && s["state"] == "running"
    });
    let s = wait_status(
        &socket,
        "both protocols",
        Duration::from_secs(10),
        &logs,
        |s| {
            let sources = s["desk"]["sources"].as_array().cloned().unwrap_or_default();
            ["sacn", "artnet"]
                .iter()
                .all(|p| sources.iter().any(|x| x["protocol"] == *p))
        },
    );
    let sources = s["desk"]["sources"].as_array().unwrap();
    let sacn_source = sources.iter().find(|x| x["protocol"] == "sacn").unwrap();
    assert_eq!(sacn_source["cid"], OLA_CID, "{s}");
    assert_eq!(sacn_source["priority"], 100);
    assert_eq!(sacn_source["address"], "10.99.0.1");
    assert_eq!(s["desk"]["actions"], 1, "one GO for both protocols: {s}");

    // ola_streaming_client holds "left" red (OLA sends on change only: a line every 200 ms).
    let mut streamer = ns
        .cmd("ola_streaming_client")
        .args(["-u", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = streamer.stdin.take().unwrap();
    let feeding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let feeder = {
        let feeding = feeding.clone();
        std::thread::spawn(move || {
            let mut i = 0u32;
            while feeding.load(std::sync::atomic::Ordering::Relaxed) {
                // Value 2 held on the trigger; blue flickers 0/1 so OLA keeps sending.
                let line = format!("2,0,0,0,0,0,0,0,0,255,0,{}\n", i % 2);
                if stdin.write_all(line.as_bytes()).is_err() {
                    return;
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    ns.children.push(streamer);
    wait_status(
        &socket,
        "left held red",
        Duration::from_secs(10),
        &logs,
        |s| {
            let c = s["desk"]["held"]["left"].as_str().unwrap_or("");
            c.starts_with("#ff0000") || c.starts_with("#ff0001")
        },
    );
    assert_eq!(
        status(&socket)["desk"]["actions"],
        1,
        "a held trigger is not a GO"
    );

    // A second desk at priority 150 wins; when it terminates its stream OLA's wins again.
    let second = ns.udp("10.99.0.2:0");
    let mut levels = vec![0u8; 512];
    levels[0] = 2;
    levels[10] = 255; // left green
    for seq in 0..3u8 {
        let bytes = sacn::encode([0x42; 16], "second desk", 150, seq, false, 1, &levels);
        second.send_to(&bytes, ("10.99.0.1", sacn::PORT)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_status(
        &socket,
        "priority 150 wins",
        Duration::from_secs(5),
        &logs,
        |s| s["desk"]["held"]["left"] == "#00ff00",
    );
    let bytes = sacn::encode([0x42; 16], "second desk", 150, 3, true, 1, &levels);
    second.send_to(&bytes, ("10.99.0.1", sacn::PORT)).unwrap();
    wait_status(&socket, "OLA again", Duration::from_secs(5), &logs, |s| {
        s["desk"]["held"]["left"]
            .as_str()
            .is_some_and(|c| c.starts_with("#ff000"))
    });

    // Kill olad: the zone is released after the source timeout.
    let killed = Instant::now();
    feeding.store(false, std::sync::atomic::Ordering::Relaxed);
    let olad = &mut ns.children[0];
    olad.kill().unwrap();
    olad.wait().unwrap();
    let s = wait_status(&socket, "release", Duration::from_secs(10), &logs, |s| {
        s["desk"]["held"] == serde_json::json!({}) && s["live"] == serde_json::json!({})
    });
    eprintln!(
        "desk_ola: released {:?} after olad was killed",
        killed.elapsed()
    );
    assert!(
        s["desk"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["live"] == false),
        "{s}"
    );
    assert!(s["show"].is_string(), "the show carries on: {s}");
    let _ = feeder.join();
}
