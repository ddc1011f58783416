//! Runs the real `phonesim` binary against tiny fake relays on loopback: the whole join
//! (captive probe → redirect → page → /s → show → /t bursts → /s long-polls), relay failover,
//! and the fallback to plain polling for a relay without long-poll.
//!
//! The fake relay implements the contract's long-poll: `/s` carries `v`; `/s?after=V` answers at
//! once when `v` ≠ `V`, else holds until the state changes or `HOLD` passes, then answers (304
//! to a matching `If-None-Match`).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;

const CUE_AT: u64 = 1_800_000_000_000_000;
const CUE_AT_2: u64 = 1_800_000_100_000_000;
/// The fake relay's longest hold (the real relay's is 30 s; short here to exercise timeouts).
const HOLD: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// 503 to everything.
    Broken,
    /// No `v` in `/s`, `after=` ignored (a relay from before long-poll).
    Plain,
    /// The contract's long-poll.
    LongPoll,
}

/// (version, cue, at) of the fake relay's state.
type State = (u64, &'static str, u64);

struct Fake {
    addr: std::net::SocketAddr,
    hits: Arc<AtomicU64>,
    /// `/s` requests with `after=`.
    after_hits: Arc<AtomicU64>,
    state: watch::Sender<State>,
}

fn state_json(kind: Kind, (v, cue, at): State) -> String {
    let v = if kind == Kind::LongPoll {
        format!(r#","v":{v}"#)
    } else {
        String::new()
    };
    format!(
        r#"{{"state":"running","cue":"{cue}","at":{at},"held":null,"next":null,"poll":500,"show":"/show/abc.json"{v}}}"#
    )
}

/// A keep-alive HTTP/1.1 relay stand-in. Counts requests.
async fn fake_relay(kind: Kind) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicU64::new(0));
    let after_hits = Arc::new(AtomicU64::new(0));
    let (state, _) = watch::channel((1u64, "wash", CUE_AT));
    let (counter, after_counter, states) = (hits.clone(), after_hits.clone(), state.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (counter, after_counter) = (counter.clone(), after_counter.clone());
            let mut rx = states.subscribe();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let target = line.split(' ').nth(1).unwrap_or("/").to_string();
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
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
                    let after = query
                        .strip_prefix("after=")
                        .and_then(|a| a.parse::<u64>().ok());
                    if after.is_some() {
                        after_counter.fetch_add(1, Ordering::Relaxed);
                    }
                    if kind == Kind::LongPoll
                        && path == "/s"
                        && let Some(after) = after
                    {
                        // Hold while the version is the one the phone has.
                        let _ =
                            tokio::time::timeout(HOLD, rx.wait_for(|(v, _, _)| *v != after)).await;
                    }
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_micros();
                    let current = *rx.borrow();
                    let etag = format!("\"v{}\"", current.0);
                    let (status, extra, body) = match (kind, path) {
                        (Kind::Broken, _) => ("503 Unavailable", String::new(), "down".to_string()),
                        (_, "/generate_204") => (
                            "302 Found",
                            "Location: http://show.test/\r\n".to_string(),
                            String::new(),
                        ),
                        (_, "/") => ("200 OK", String::new(), "<html>page</html>".into()),
                        (_, "/t") => ("200 OK", String::new(), format!(r#"{{"t":{now}}}"#)),
                        (_, "/s") if inm.as_deref() == Some(etag.as_str()) => (
                            "304 Not Modified",
                            format!("ETag: {etag}\r\n"),
                            String::new(),
                        ),
                        (_, "/s") => (
                            "200 OK",
                            format!("ETag: {etag}\r\n"),
                            state_json(kind, current),
                        ),
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
    Fake {
        addr,
        hits,
        after_hits,
        state,
    }
}

fn run_phonesim(relays: &[std::net::SocketAddr], phones: &str, seconds: &str) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_phonesim"));
    cmd.args([
        "run",
        "--phones",
        phones,
        "--duration-s",
        seconds,
        "--ramp-s",
        "0.5",
        "--rate-window-s",
        "3",
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
async fn phones_join_sync_and_long_poll() {
    let relay = fake_relay(Kind::LongPoll).await;
    let addr = relay.addr;
    let run = tokio::task::spawn_blocking(move || run_phonesim(&[addr], "20", "7"));
    // A new cue while the phones are parked.
    tokio::time::sleep(Duration::from_secs(4)).await;
    relay.state.send_replace((2, "chase", CUE_AT_2));
    let report = run.await.unwrap();
    let s = &report["summary"];
    assert_eq!(s["phones"], 20);
    assert_eq!(s["synced"], 20);
    assert_eq!(s["captive_ok"], 20);
    assert_eq!(s["page_ok"], 20);
    assert_eq!(s["show_ok"], 20);
    assert_eq!(s["long_polling"], 20, "{s}");
    assert_eq!(s["states"]["running"], 20);
    assert_eq!(s["errors"]["timeout"], 0, "{s}");
    // Same host clock, no impairment: the error is bounded by the loopback round trip.
    assert!(s["err_max_ms"].as_f64().unwrap() < 50.0, "{s}");
    // Every phone learned the new cue, by the parked request.
    assert_eq!(s["last_cue_at_us"], CUE_AT_2, "{s}");
    assert_eq!(s["last_cue_phones"], 20, "{s}");
    for p in report["phones"].as_array().unwrap() {
        assert_eq!(p["at_us"], CUE_AT_2);
        assert_eq!(p["cue"], "chase");
        // A quiet loopback: the join burst settles early, but takes at least its minimum.
        assert!(p["samples"].as_u64().unwrap() >= 8, "{p}");
    }
    // Parked requests, not polls: about one /s per hold (2 s here) and per change, per phone.
    let r = &report["rates"];
    assert!(r["state_per_phone_min"].as_f64().unwrap() < 60.0, "{r}");
    assert!(relay.after_hits.load(Ordering::Relaxed) >= 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_poll_a_relay_without_long_poll() {
    let relay = fake_relay(Kind::Plain).await;
    let addr = relay.addr;
    let report = tokio::task::spawn_blocking(move || run_phonesim(&[addr], "10", "5"))
        .await
        .unwrap();
    let s = &report["summary"];
    assert_eq!(s["synced"], 10);
    assert_eq!(s["long_polling"], 0, "{s}");
    assert_eq!(s["states"]["running"], 10);
    assert_eq!(relay.after_hits.load(Ordering::Relaxed), 0);
    // Polled at the relay's 500 ms ±20 %.
    let r = &report["rates"];
    assert!(r["state_per_phone_min"].as_f64().unwrap() > 60.0, "{r}");
    assert!(relay.hits.load(Ordering::Relaxed) > 10 * 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_fail_over_from_a_broken_relay() {
    let good = fake_relay(Kind::LongPoll).await;
    let bad = fake_relay(Kind::Broken).await;
    let addrs = [good.addr, bad.addr];
    let report = tokio::task::spawn_blocking(move || run_phonesim(&addrs, "10", "5"))
        .await
        .unwrap();
    let s = &report["summary"];
    assert_eq!(s["synced"], 10);
    assert_eq!(s["phones_failed_over"], 5, "{s}");
    assert_eq!(s["relays"]["0"], 10, "{s}");
    assert!(bad.hits.load(Ordering::Relaxed) >= 5);
}
