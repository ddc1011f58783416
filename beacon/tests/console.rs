//! `beacon console` against the real daemon, over raw HTTP (the Chromium test in
//! page/test/console.browser.test.mjs clicks the page itself): loopback only, status and
//! commands through the operator socket, foreign Host refused.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, beacon};

struct Console(Child, u16);

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

fn post(port: u16, body: &str) -> Option<(u16, String)> {
    http(
        port,
        &format!(
            "POST /api/command HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn start_console(d: &Daemon) -> Console {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = beacon()
        .arg("--socket")
        .arg(&d.socket)
        .args(["console", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(port, "/", &format!("127.0.0.1:{port}")).is_none() {
        assert!(Instant::now() < deadline, "console did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    Console(child, port)
}

#[test]
fn console_drives_the_daemon_through_the_socket() {
    let d = Daemon::start();
    let c = start_console(&d);
    let host = format!("127.0.0.1:{}", c.1);
    let (status, page) = get(c.1, "/", &host).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("Crowdlight console"));
    let (status, body) = get(c.1, "/api/status", &host).unwrap();
    assert_eq!(status, 200);
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["status"]["state"], "stopped");
    assert_eq!(reply["status"]["show_info"]["cues"][0], "intro");

    let (status, body) = post(c.1, r#"{"cmd":"go","cue":"finale"}"#).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(d.status()["cue"], "finale");
    let (_, body) = post(c.1, r#"{"cmd":"resume"}"#).unwrap();
    assert!(body.contains("not_held"), "{body}");

    assert_eq!(get(c.1, "/api/status", "evil.example").unwrap().0, 403);
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
