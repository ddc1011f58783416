//! `beacon console` against the real daemon, over raw HTTP (the Chromium test in
//! page/test/console.browser.test.mjs clicks the page itself): loopback only, status and
//! commands through the operator socket, foreign Host refused, and every API request needs
//! the console token that only the socket's users can get — tried as a second user too.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, beacon};

/// A running console: process, port, token.
struct Console(Child, u16, String);

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http(port: u16, request: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn get(port: u16, path: &str, host: &str) -> Option<(u16, String)> {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
}

fn get_with(port: u16, path: &str, token: &str) -> Option<(u16, String)> {
    http(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Console-Token: {token}\r\nConnection: close\r\n\r\n"
        ),
    )
}

fn post_with(port: u16, body: &str, token: &str) -> Option<(u16, String)> {
    http(
        port,
        &format!(
            "POST /api/command HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nX-Console-Token: {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn start_console(d: &Daemon) -> Console {
    start_console_with(d, &[])
}

fn start_console_with(d: &Daemon, extra: &[&str]) -> Console {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = beacon()
        .arg("--socket")
        .arg(&d.socket)
        .args(["console", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first line is the URL to open, with the token in its fragment.
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let prefix = format!("operator console: http://127.0.0.1:{port}/#token=");
    let token = line
        .trim()
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("unexpected console line {line:?}"))
        .to_owned();
    assert_eq!(token.len(), 32, "{token}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(port, "/", &format!("127.0.0.1:{port}")).is_none() {
        assert!(Instant::now() < deadline, "console did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    Console(child, port, token)
}

#[test]
fn console_drives_the_daemon_through_the_socket() {
    let d = Daemon::start();
    let c = start_console(&d);
    let host = format!("127.0.0.1:{}", c.1);
    let (status, page) = get(c.1, "/", &host).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("Crowdlight console"));
    let (status, body) = get_with(c.1, "/api/status", &c.2).unwrap();
    assert_eq!(status, 200);
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["status"]["state"], "stopped");
    assert_eq!(reply["status"]["show_info"]["cues"][0], "intro");

    let (status, body) = post_with(c.1, r#"{"cmd":"go","cue":"finale"}"#, &c.2).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(d.status()["cue"], "finale");
    let (_, body) = post_with(c.1, r#"{"cmd":"resume"}"#, &c.2).unwrap();
    assert!(body.contains("not_held"), "{body}");
    // The console never hands out the token itself.
    let (status, _) = post_with(c.1, r#"{"cmd":"console-token"}"#, &c.2).unwrap();
    assert_eq!(status, 403);

    // One layer checks Host on every route, the page's too.
    for path in ["/", "/console.js", "/api/status", "/api/relays"] {
        assert_eq!(get(c.1, path, "evil.example").unwrap().0, 403, "{path}");
    }
}

#[test]
fn commands_without_the_token_are_refused() {
    let d = Daemon::start();
    let c = start_console(&d);
    for token in ["", "0", &"0".repeat(32), &c.2[..31]] {
        let (status, body) = post_with(c.1, r#"{"cmd":"blackout"}"#, token).unwrap();
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("unauthorized"), "{body}");
        assert_eq!(get_with(c.1, "/api/status", token).unwrap().0, 401);
        assert_eq!(get_with(c.1, "/api/relays", token).unwrap().0, 401);
    }
    assert_eq!(d.status()["state"], "stopped");
    // The page and its script need no token (they carry none).
    let host = format!("127.0.0.1:{}", c.1);
    assert_eq!(get(c.1, "/", &host).unwrap().0, 200);
    assert_eq!(get(c.1, "/console.js", &host).unwrap().0, 200);
}

/// Runs `program args` as the unprivileged `nobody` (uid/gid 65534, no supplementary
/// groups: setpriv).
fn as_nobody(program: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(program)
        .args(args)
        .env_remove("CROWDLIGHT_SOCKET")
        .output()
        .expect("setpriv runs")
}

#[test]
fn another_local_user_cannot_drive_the_beacon_through_the_console() {
    if !rustix::process::getuid().is_root() {
        eprintln!("SKIPPED: needs root to run a client as a second user (nobody)");
        return;
    }
    let d = Daemon::start();
    let c = start_console(&d);
    let url = format!("http://127.0.0.1:{}/api/command", c.1);
    // As `nobody`: the console answers (loopback is open to every local user)...
    let page = as_nobody(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://127.0.0.1:{}/", c.1),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&page.stdout), "200");
    // ...but a command without the token is refused, and the beacon is untouched.
    let out = as_nobody(
        "curl",
        &[
            "-s",
            "-w",
            "\n%{http_code}",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"cmd":"blackout"}"#,
            &url,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n401"), "{text}");
    assert_eq!(d.status()["state"], "stopped");
    // `nobody` cannot get a token of its own: the socket is not theirs.
    let bin = env!("CARGO_BIN_EXE_beacon");
    let socket = d.socket.to_str().unwrap();
    let mine = as_nobody(
        bin,
        &["--socket", socket, "console", "--listen", "127.0.0.1:0"],
    );
    assert!(!mine.status.success());
    let err = String::from_utf8_lossy(&mine.stderr);
    assert!(
        err.contains("console token") && err.contains("permission"),
        "{err}"
    );
    let status = as_nobody(bin, &["--socket", socket, "blackout"]);
    assert!(!status.status.success());
    assert_eq!(d.status()["state"], "stopped");
    // The operator's own console, with the token, works.
    let (status, body) = post_with(c.1, r#"{"cmd":"blackout"}"#, &c.2).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(d.status()["state"], "blackout");
}

#[test]
fn console_refuses_a_non_loopback_address() {
    let out = beacon()
        .args(["console", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

/// A stand-in relay answering `/metrics` with `body` on every connection.
fn fake_relay(body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn the_console_shows_the_live_audience_of_each_relay() {
    let d = Daemon::start();
    let with_gauge = fake_relay(
        "# TYPE portal_listeners gauge\nportal_listeners 1234\nportal_beacon_healthy 1\n\
         portal_http_requests_total{route=\"s\",status=\"200\"} 10\n",
    );
    let without = fake_relay("portal_beacon_healthy 1\n");
    let c = start_console_with(
        &d,
        &[
            "--relay",
            &format!("http://127.0.0.1:{with_gauge}"),
            "--relay",
            &format!("http://127.0.0.1:{without}"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let relays = loop {
        let (status, body) = get_with(c.1, "/api/relays", &c.2).unwrap();
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v[0]["reachable"] == true && v[1]["reachable"] == true {
            break v;
        }
        assert!(Instant::now() < deadline, "relays never scraped: {v}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(relays[0]["listeners"], 1234);
    assert!(relays[1]["listeners"].is_null(), "{relays}");
    // The page sums the gauge into "audience now".
    let (_, script) = get(c.1, "/console.js", &format!("127.0.0.1:{}", c.1)).unwrap();
    assert!(script.contains("r.listeners"));
}
