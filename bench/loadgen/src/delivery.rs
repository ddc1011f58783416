//! Delivery-design clients: Crowdlight `/s` pollers and long-pollers, WebSocket clients and SSE
//! clients, run on one shared timeline (ramp, measurement window, end) so the designs are
//! measured alike.
//!
//! Each client notes the host time at which it first saw `--cue` as the current cue; the
//! orchestrating script fires the change and computes "time until 99 % of clients know".

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::http::{BROWSER_HEADERS, Chunked, Conn};
use crate::net::{Kind, Sources, bytes_snapshot, connect};
use crate::procstat::ServerWatch;
use crate::stats::now_us;

/// Which design the clients speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Crowdlight: `GET /s` with `If-None-Match` every `poll` ms (±20 %), optional `/t`.
    Poll,
    /// Crowdlight long-poll, as the page does it: one `GET /s?after=v` parked at a time on a
    /// keep-alive connection, re-parked at once (35 s client timeout); `/t` at `t_per_min` on a
    /// short-lived second connection (a browser cannot send it behind the parked request, and
    /// the relay closes keep-alive connections idle for 5 s). A relay without `v`: plain polls.
    LongPoll,
    /// WebSocket broadcast: one socket, the server pushes each state.
    Ws,
    /// Server-Sent Events: `GET /events`, the server pushes each state.
    Sse,
}

/// The run's parameters.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Design.
    pub mode: Mode,
    /// Server address.
    pub target: SocketAddr,
    /// Clients in this process.
    pub clients: usize,
    /// Index of this process's first client (for seeds and source addresses).
    pub first_client: usize,
    /// Host time (µs) of t = 0.
    pub start_us: i64,
    /// Clients connect evenly over this many seconds.
    pub ramp_s: f64,
    /// Measurement window, seconds after t = 0.
    pub window: (f64, f64),
    /// End, seconds after t = 0.
    pub end_s: f64,
    /// Cue name to watch for.
    pub cue: String,
    /// Source addresses.
    pub sources: Sources,
    /// Server processes to watch.
    pub server_pids: Vec<u32>,
    /// `/t` exchanges per client per minute (poll mode).
    pub t_per_min: f64,
    /// Send a phone browser's request headers (poll and SSE).
    pub browser_headers: bool,
}

struct Shared {
    plan: Plan,
    seen: Vec<AtomicI64>,
    connected: AtomicUsize,
    /// connect, io, timeout, status
    errors: [AtomicU64; 4],
    /// by Kind
    requests: [AtomicU64; 3],
    /// Requests retried on a fresh connection after the server closed an idle one.
    stale_retries: AtomicU64,
}

fn err(sh: &Shared, e: &anyhow::Error) {
    let text = format!("{e:#}");
    let k = if text.contains("timeout") { 2 } else { 1 };
    sh.errors[k].fetch_add(1, Ordering::Relaxed);
}

fn note_cue(sh: &Shared, i: usize, body: &[u8]) {
    if sh.seen[i].load(Ordering::Relaxed) != 0 {
        return;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    if v.get("cue").and_then(Value::as_str) == Some(sh.plan.cue.as_str()) {
        sh.seen[i].store(now_us(), Ordering::Relaxed);
    }
}

fn backoff_ms(failures: u32, rng: &mut StdRng) -> u64 {
    let ceiling = (500.0 * 2f64.powi(failures.saturating_sub(1).min(20) as i32)).min(8000.0);
    (ceiling * rng.random::<f64>()).max(50.0) as u64
}

/// Runs the plan and returns the figures as JSON.
pub async fn run(plan: Plan) -> anyhow::Result<Value> {
    let delay_us = (plan.start_us - now_us()).max(0) as u64;
    let t0 = Instant::now() + Duration::from_micros(delay_us);
    let at = |s: f64| t0 + Duration::from_secs_f64(s.max(0.0));
    let sh = Arc::new(Shared {
        seen: (0..plan.clients).map(|_| AtomicI64::new(0)).collect(),
        connected: AtomicUsize::new(0),
        errors: Default::default(),
        requests: Default::default(),
        stale_retries: AtomicU64::new(0),
        plan: plan.clone(),
    });
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..plan.clients {
        let sh = sh.clone();
        let when = at(plan.ramp_s * i as f64 / plan.clients as f64);
        tasks.spawn(async move {
            tokio::time::sleep_until(when).await;
            let mut rng = StdRng::seed_from_u64((sh.plan.first_client + i) as u64 * 7919 + 1);
            match sh.plan.mode {
                Mode::Poll => poll_client(&sh, i, &mut rng).await,
                Mode::LongPoll => {
                    let mut rng_t = StdRng::seed_from_u64(rng.random());
                    tokio::join!(
                        long_poll_client(&sh, i, &mut rng),
                        time_client(&sh, i, &mut rng_t)
                    );
                }
                Mode::Ws => ws_client(&sh, i, &mut rng).await,
                Mode::Sse => sse_client(&sh, i, &mut rng).await,
            }
        });
    }
    let mut watch = ServerWatch::new(plan.server_pids.clone());
    tokio::time::sleep_until(at(plan.window.0)).await;
    let connected_start = sh.connected.load(Ordering::Relaxed);
    let bytes_a = bytes_snapshot();
    let req_a: Vec<u64> = sh
        .requests
        .iter()
        .map(|r| r.load(Ordering::Relaxed))
        .collect();
    watch.start();
    while Instant::now() + Duration::from_secs(1) < at(plan.window.1) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        watch.sample();
    }
    tokio::time::sleep_until(at(plan.window.1)).await;
    let window_s = plan.window.1 - plan.window.0;
    let server = watch.finish(window_s);
    let bytes_b = bytes_snapshot();
    let req_b: Vec<u64> = sh
        .requests
        .iter()
        .map(|r| r.load(Ordering::Relaxed))
        .collect();
    let connected_end_window = sh.connected.load(Ordering::Relaxed);
    tokio::time::sleep_until(at(plan.end_s)).await;
    tasks.abort_all();
    let bytes_end = bytes_snapshot();
    let kinds = ["setup", "state", "time"];
    let mut window_bytes = serde_json::Map::new();
    let mut total_bytes = serde_json::Map::new();
    for (k, name) in kinds.iter().enumerate() {
        window_bytes.insert(
            name.to_string(),
            json!({"rx": bytes_b[k][0] - bytes_a[k][0], "tx": bytes_b[k][1] - bytes_a[k][1]}),
        );
        total_bytes.insert(
            name.to_string(),
            json!({"rx": bytes_end[k][0], "tx": bytes_end[k][1]}),
        );
    }
    let seen: Vec<i64> = sh.seen.iter().map(|s| s.load(Ordering::Relaxed)).collect();
    let errors = &sh.errors;
    Ok(json!({
        "mode": match plan.mode {
            Mode::Poll => "poll",
            Mode::LongPoll => "long-poll",
            Mode::Ws => "ws",
            Mode::Sse => "sse",
        },
        "target": plan.target.to_string(),
        "clients": plan.clients,
        "connected_at_window_start": connected_start,
        "connected_at_window_end": connected_end_window,
        "window_s": window_s,
        "window_bytes": window_bytes,
        "total_bytes": total_bytes,
        "window_requests": {"state": req_b[1] - req_a[1], "time": req_b[2] - req_a[2]},
        "stale_retries": sh.stale_retries.load(Ordering::Relaxed),
        "errors": {
            "connect": errors[0].load(Ordering::Relaxed),
            "io": errors[1].load(Ordering::Relaxed),
            "timeout": errors[2].load(Ordering::Relaxed),
            "status": errors[3].load(Ordering::Relaxed),
        },
        "server": server,
        "seen_us": seen,
    }))
}

fn headers_for(sh: &Shared) -> Vec<(&'static str, &'static str)> {
    if sh.plan.browser_headers {
        BROWSER_HEADERS.to_vec()
    } else {
        vec![]
    }
}

async fn poll_client(sh: &Shared, i: usize, rng: &mut StdRng) {
    let plan = &sh.plan;
    let host = plan.target.to_string();
    let src = plan.sources.for_client(plan.first_client + i);
    let base = headers_for(sh);
    let timeout = Duration::from_millis(4000);
    let mut conn: Option<Conn> = None;
    let mut etag: Option<String> = None;
    let mut failures = 0u32;
    let mut reused = false;
    let t_every = (plan.t_per_min > 0.0).then(|| 60.0 / plan.t_per_min);
    let mut next_t =
        t_every.map(|e| Instant::now() + Duration::from_secs_f64(e * rng.random::<f64>()));
    loop {
        if conn.is_none() {
            match connect(plan.target, src, Kind::State).await {
                Ok(c) => {
                    conn = Some(Conn::new(c));
                    sh.connected.fetch_add(1, Ordering::Relaxed);
                    reused = false;
                }
                Err(_) => {
                    sh.errors[0].fetch_add(1, Ordering::Relaxed);
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected");
        c.io.kind = Kind::State;
        let mut headers = base.clone();
        let tag;
        if let Some(t) = &etag {
            tag = t.clone();
            headers.push(("If-None-Match", tag.as_str()));
        }
        let mut poll_ms = 1000.0;
        let mut result = c.get(&host, "/s", &headers, timeout).await;
        if result.is_err() && reused {
            // A browser retries an idempotent request once on a fresh connection when a reused
            // keep-alive connection turns out to be closed by the server.
            sh.stale_retries.fetch_add(1, Ordering::Relaxed);
            sh.connected.fetch_sub(1, Ordering::Relaxed);
            conn = None;
            match connect(plan.target, src, Kind::State).await {
                Ok(fresh) => {
                    conn = Some(Conn::new(fresh));
                    sh.connected.fetch_add(1, Ordering::Relaxed);
                    let c = conn.as_mut().expect("connected");
                    result = c.get(&host, "/s", &headers, timeout).await;
                }
                Err(e) => result = Err(anyhow::anyhow!("connect: {e}")),
            }
        }
        reused = true;
        let Some(c) = conn.as_mut() else {
            sh.errors[0].fetch_add(1, Ordering::Relaxed);
            failures += 1;
            tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
            continue;
        };
        sh.requests[Kind::State as usize].fetch_add(1, Ordering::Relaxed);
        let mut close = false;
        match result {
            Ok(r) if r.status == 200 => {
                etag = r.header("etag").map(str::to_string);
                note_cue(sh, i, &r.body);
                if let Ok(v) = serde_json::from_slice::<Value>(&r.body) {
                    poll_ms = v.get("poll").and_then(Value::as_f64).unwrap_or(1000.0);
                }
                close = r.close;
                failures = 0;
            }
            Ok(r) if r.status == 304 => {
                close = r.close;
                failures = 0;
            }
            Ok(_) => {
                sh.errors[3].fetch_add(1, Ordering::Relaxed);
                failures += 1;
            }
            Err(e) => {
                err(sh, &e);
                failures += 1;
                close = true;
            }
        }
        if failures == 0
            && let (Some(when), Some(every)) = (next_t, t_every)
            && Instant::now() >= when
        {
            c.io.kind = Kind::Time;
            match c.get(&host, "/t", &base, timeout).await {
                Ok(_) => {}
                Err(e) => {
                    err(sh, &e);
                    close = true;
                }
            }
            sh.requests[Kind::Time as usize].fetch_add(1, Ordering::Relaxed);
            next_t =
                Some(when + Duration::from_secs_f64(every * (0.75 + 0.5 * rng.random::<f64>())));
        }
        if close {
            conn = None;
            sh.connected.fetch_sub(1, Ordering::Relaxed);
        }
        let wait = if failures > 0 {
            backoff_ms(failures, rng) as f64
        } else {
            poll_ms.clamp(250.0, 30000.0) * (0.8 + 0.4 * rng.random::<f64>())
        };
        tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0)).await;
    }
}

/// Long-poll `/s` like the page (page/src/poll.js): `/s` first, then `/s?after=v`.
async fn long_poll_client(sh: &Shared, i: usize, rng: &mut StdRng) {
    const LONG_TIMEOUT: Duration = Duration::from_millis(35_000);
    const PLAIN_TIMEOUT: Duration = Duration::from_millis(4_000);
    const MIN_HOLD: Duration = Duration::from_millis(1_000);
    const MAX_QUICK: u32 = 3;
    let plan = &sh.plan;
    let host = plan.target.to_string();
    let src = plan.sources.for_client(plan.first_client + i);
    let base = headers_for(sh);
    let mut conn: Option<Conn> = None;
    let mut etag: Option<String> = None;
    let mut version: Option<u64> = None;
    let mut failures = 0u32;
    let mut quick = 0u32;
    let mut reused = false;
    loop {
        if conn.is_none() {
            match connect(plan.target, src, Kind::State).await {
                Ok(c) => {
                    conn = Some(Conn::new(c));
                    sh.connected.fetch_add(1, Ordering::Relaxed);
                    reused = false;
                }
                Err(_) => {
                    sh.errors[0].fetch_add(1, Ordering::Relaxed);
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                    continue;
                }
            }
        }
        // After an error the retry is a plain /s, answered at once (the page's rule).
        let (path, timeout) = match version.filter(|_| failures == 0) {
            Some(v) => (format!("/s?after={v}"), LONG_TIMEOUT),
            None => ("/s".to_string(), PLAIN_TIMEOUT),
        };
        let mut headers = base.clone();
        let tag;
        if let Some(t) = &etag {
            tag = t.clone();
            headers.push(("If-None-Match", tag.as_str()));
        }
        let sent = Instant::now();
        let c = conn.as_mut().expect("connected");
        let mut result = c.get(&host, &path, &headers, timeout).await;
        if result.is_err() && reused && sent.elapsed() < MIN_HOLD {
            // A reused keep-alive connection the server had closed: retry once on a fresh one,
            // as a browser does for an idempotent request.
            sh.stale_retries.fetch_add(1, Ordering::Relaxed);
            sh.connected.fetch_sub(1, Ordering::Relaxed);
            conn = None;
            match connect(plan.target, src, Kind::State).await {
                Ok(fresh) => {
                    conn = Some(Conn::new(fresh));
                    sh.connected.fetch_add(1, Ordering::Relaxed);
                    let c = conn.as_mut().expect("connected");
                    result = c.get(&host, &path, &headers, timeout).await;
                }
                Err(e) => result = Err(anyhow::anyhow!("connect: {e}")),
            }
        }
        reused = true;
        if conn.is_none() {
            sh.errors[0].fetch_add(1, Ordering::Relaxed);
            failures += 1;
            tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
            continue;
        }
        sh.requests[Kind::State as usize].fetch_add(1, Ordering::Relaxed);
        let held = sent.elapsed();
        let mut close = false;
        let mut changed = false;
        let mut poll_ms = 1000.0;
        match result {
            Ok(r) if r.status == 200 => {
                let new_tag = r.header("etag").map(str::to_string);
                note_cue(sh, i, &r.body);
                let v = serde_json::from_slice::<Value>(&r.body).ok();
                let new_version = v
                    .as_ref()
                    .and_then(|v| v.get("v"))
                    .and_then(Value::as_u64)
                    .filter(|v| *v < 1 << 53);
                if let Some(p) = v
                    .as_ref()
                    .and_then(|v| v.get("poll"))
                    .and_then(Value::as_f64)
                {
                    poll_ms = p;
                }
                changed = version.is_none() || new_version != version || new_tag != etag;
                version = new_version;
                etag = new_tag;
                close = r.close;
                failures = 0;
            }
            Ok(r) if r.status == 304 => {
                close = r.close;
                failures = 0;
            }
            Ok(_) => {
                sh.errors[3].fetch_add(1, Ordering::Relaxed);
                failures += 1;
            }
            Err(e) => {
                err(sh, &e);
                failures += 1;
                close = true;
            }
        }
        if close {
            conn = None;
            sh.connected.fetch_sub(1, Ordering::Relaxed);
        }
        quick = if held < MIN_HOLD { quick + 1 } else { 0 };
        let wait = if failures > 0 {
            backoff_ms(failures, rng) as f64
        } else if version.is_some() && (held >= MIN_HOLD || (changed && quick < MAX_QUICK)) {
            0.0
        } else {
            poll_ms.clamp(250.0, 30000.0) * (0.8 + 0.4 * rng.random::<f64>())
        };
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0)).await;
        }
    }
}

/// `/t` at `t_per_min` (±25 %) on a short-lived connection each (long-poll mode).
async fn time_client(sh: &Shared, i: usize, rng: &mut StdRng) {
    let plan = &sh.plan;
    if plan.t_per_min <= 0.0 {
        return;
    }
    let every = 60.0 / plan.t_per_min;
    let host = plan.target.to_string();
    let src = plan.sources.for_client(plan.first_client + i);
    let base = headers_for(sh);
    let mut next = Instant::now() + Duration::from_secs_f64(every * rng.random::<f64>());
    loop {
        tokio::time::sleep_until(next).await;
        next += Duration::from_secs_f64(every * (0.75 + 0.5 * rng.random::<f64>()));
        match connect(plan.target, src, Kind::Time).await {
            Ok(c) => {
                let mut c = Conn::new(c);
                if let Err(e) = c.get(&host, "/t", &base, Duration::from_millis(4000)).await {
                    err(sh, &e);
                }
                sh.requests[Kind::Time as usize].fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                sh.errors[0].fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn ws_client(sh: &Shared, i: usize, rng: &mut StdRng) {
    let plan = &sh.plan;
    let src = plan.sources.for_client(plan.first_client + i);
    let url = format!("ws://{}/", plan.target);
    let mut failures = 0u32;
    loop {
        let stream = match connect(plan.target, src, Kind::Setup).await {
            Ok(s) => s,
            Err(_) => {
                sh.errors[0].fetch_add(1, Ordering::Relaxed);
                failures += 1;
                tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                continue;
            }
        };
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let mut ws =
            match tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config))
                .await
            {
                Ok((ws, _)) => ws,
                Err(e) => {
                    err(sh, &anyhow::anyhow!("handshake: {e}"));
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                    continue;
                }
            };
        ws.get_mut().kind = Kind::State;
        sh.connected.fetch_add(1, Ordering::Relaxed);
        failures = 0;
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Text(t)) => note_cue(sh, i, t.as_bytes()),
                Ok(Message::Close(_)) => break,
                Ok(_) => {}
                Err(e) => {
                    err(sh, &anyhow::anyhow!("ws: {e}"));
                    break;
                }
            }
        }
        sh.connected.fetch_sub(1, Ordering::Relaxed);
        failures += 1;
        tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
    }
}

async fn sse_client(sh: &Shared, i: usize, rng: &mut StdRng) {
    let plan = &sh.plan;
    let host = plan.target.to_string();
    let src = plan.sources.for_client(plan.first_client + i);
    let mut headers = headers_for(sh);
    headers.retain(|(k, _)| *k != "Accept");
    headers.push(("Accept", "text/event-stream"));
    headers.push(("Cache-Control", "no-cache"));
    let mut failures = 0u32;
    loop {
        let stream = match connect(plan.target, src, Kind::Setup).await {
            Ok(s) => s,
            Err(_) => {
                sh.errors[0].fetch_add(1, Ordering::Relaxed);
                failures += 1;
                tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                continue;
            }
        };
        let mut c = Conn::new(stream);
        let head = async {
            c.send_get(&host, "/events", &headers).await?;
            c.read_response(false).await
        };
        match head.await {
            Ok(r) if r.status == 200 => {}
            Ok(_) => {
                sh.errors[3].fetch_add(1, Ordering::Relaxed);
                failures += 1;
                tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                continue;
            }
            Err(e) => {
                err(sh, &e);
                failures += 1;
                tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                continue;
            }
        }
        c.io.kind = Kind::State;
        sh.connected.fetch_add(1, Ordering::Relaxed);
        failures = 0;
        let mut dec = Chunked::default();
        let mut text = Vec::new();
        loop {
            match c.read_chunked(&mut dec, &mut text).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    err(sh, &e);
                    break;
                }
            }
            while let Some(end) = text.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = text.drain(..end + 2).collect();
                for line in event.split(|&b| b == b'\n') {
                    if let Some(data) = line.strip_prefix(b"data: ") {
                        note_cue(sh, i, data);
                    }
                }
            }
        }
        sh.connected.fetch_sub(1, Ordering::Relaxed);
        failures += 1;
        tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
    }
}
