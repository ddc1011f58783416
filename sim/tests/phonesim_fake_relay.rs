//! Runs the real `phonesim` binary against tiny fake relays on loopback: the whole join
//! (captive probe → redirect → page → /s → show → /t bursts → /s polls) and relay failover.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const CUE_AT: u64 = 1_800_000_000_000_000;

/// A keep-alive HTTP/1.1 relay stand-in; `broken` answers 503 to everything. Counts requests.
async fn fake_relay(broken: bool) -> (std::net::SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
                    let mut inm = None;
                    loop {
                        let mut h = String::new();
                        if stream.read_line(&mut h).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if h.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("if-none-match:") {
                            inm = Some(v.trim().to_string());
                        }
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_micros();
                    let state = format!(
                        r#"{{"state":"running","cue":"wash","at":{CUE_AT},"held":null,"next":null,"poll":500,"show":"/show/abc.json"}}"#
                    );
                    let (status, extra, body) = match (broken, path.as_str()) {
                        (true, _) => ("503 Unavailable", String::new(), "down".to_string()),
                        (_, "/generate_204") => (
                            "302 Found",
                            "Location: http://show.test/\r\n".to_string(),
                            String::new(),
                        ),
                        (_, "/") => ("200 OK", String::new(), "<html>page</html>".into()),
                        (_, "/t") => ("200 OK", String::new(), format!(r#"{{"t":{now}}}"#)),
                        (_, "/s") if inm.as_deref() == Some("\"v1\"") => {
                            ("304 Not Modified", "ETag: \"v1\"\r\n".into(), String::new())
                        }
                        (_, "/s") => ("200 OK", "ETag: \"v1\"\r\n".into(), state),
                        (_, "/show/abc.json") => ("200 OK", String::new(), "{}".into()),
                        _ => ("404 Not Found", String::new(), String::new()),
                    };
                    let len = if status.starts_with("304") {
                        String::new()
                    } else {
                        format!("Content-Length: {}\r\n", body.len())
                    };
                    let resp = format!("HTTP/1.1 {status}\r\n{extra}{len}\r\n{body}");
                    if stream.get_mut().write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, hits)
}

fn run_phonesim(relays: &[std::net::SocketAddr], phones: &str) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_phonesim"));
    cmd.args([
        "run",
        "--phones",
        phones,
        "--duration-s",
        "5",
        "--ramp-s",
        "0.5",
    ]);
    cmd.args([
        "--host",
        "show.test",
        "--json",
        "-",
        "--report-every-s",
        "0",
    ]);
    for r in relays {
        cmd.args(["--relay", &r.to_string()]);
    }
    let out = cmd.output().expect("run phonesim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "phonesim failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = &stdout[stdout.find("\n{").expect("json report") + 1..];
    serde_json::from_str(json).expect("json report parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_join_sync_and_poll() {
    let (relay, hits) = fake_relay(false).await;
    let report = tokio::task::spawn_blocking(move || run_phonesim(&[relay], "20"))
        .await
        .unwrap();
    let s = &report["summary"];
    assert_eq!(s["phones"], 20);
    assert_eq!(s["synced"], 20);
    assert_eq!(s["captive_ok"], 20);
    assert_eq!(s["page_ok"], 20);
    assert_eq!(s["show_ok"], 20);
    assert_eq!(s["phones_cue_restarted"], 0);
    assert_eq!(s["states"]["running"], 20);
    // Same host clock, no impairment: the error is bounded by the loopback round trip.
    assert!(s["err_max_ms"].as_f64().unwrap() < 50.0, "{s}");
    for p in report["phones"].as_array().unwrap() {
        assert_eq!(p["at_us"], CUE_AT);
        assert!(p["samples"].as_u64().unwrap() >= 32, "{p}");
    }
    assert!(hits.load(Ordering::Relaxed) > 20 * 36);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_fail_over_from_a_broken_relay() {
    let (good, _) = fake_relay(false).await;
    let (bad, bad_hits) = fake_relay(true).await;
    let report = tokio::task::spawn_blocking(move || run_phonesim(&[good, bad], "10"))
        .await
        .unwrap();
    let s = &report["summary"];
    assert_eq!(s["synced"], 10);
    assert_eq!(s["phones_failed_over"], 5, "{s}");
    assert_eq!(s["relays"]["0"], 10, "{s}");
    assert!(bad_hits.load(Ordering::Relaxed) >= 5);
}
