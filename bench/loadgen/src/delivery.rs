//! Delivery-design clients: Crowdlight `/s` pollers and long-pollers, WebSocket clients and SSE
//! clients, run on one shared timeline (ramp, measurement window, end) so the designs are
//! measured alike.
//!
//! Each client notes the host time at which it first saw `--cue` as the current cue; the
//! orchestrating script fires the change and computes "time until 99 % of clients know".

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sim::http_client::Response;
use sim::piggyback::{Piggyback, spread};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::client::{BROWSER_HEADERS, Client, Failure};
use crate::net::{Kind, Sources, bytes_snapshot, connect};
use crate::procstat::ServerWatch;
use crate::stats::now_us;

/// Which design the clients speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Crowdlight: `GET /s` with `If-None-Match` every `poll` ms (±20 %), optional `/t`.
    Poll,
    /// Crowdlight long-poll, as the page does it: one `GET /s?after=v` parked at a time on a
    /// keep-alive connection, re-parked at once (35 s client timeout). `/t` at `t_per_min`
    /// (steady single samples) rides that connection ([`sim::piggyback`]): a due `/t` is sent
    /// right after the next `/s` answer, before re-parking (after 0–1 s when the answer was a
    /// new state); only when no answer comes within 35 s, or the client is not long-polling, is
    /// it sent on a short-lived connection of its own. A relay without `v`: plain polls.
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
    /// Server addresses: the clients' own first, then the ones a Crowdlight client moves to
    /// when it cannot connect (the captive DNS hands out every relay; a browser tries the next
    /// address when one refuses). WebSocket and SSE clients use the first only.
    pub targets: Vec<SocketAddr>,
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
    /// Instead of the cue: a lighting-desk colour to watch for in `/s` `live`, (zone, "#rrggbb").
    pub live: Option<(String, String)>,
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
    /// Per client: when the answer that told it the cue reached its socket (kernel receive
    /// time, Unix µs; 0 = not yet).
    arrived: Vec<AtomicI64>,
    connected: AtomicUsize,
    /// connect, io, timeout, status
    errors: [AtomicU64; 4],
    /// by Kind
    requests: [AtomicU64; 3],
    /// Requests retried on a fresh connection after the server closed an idle one.
    stale_retries: AtomicU64,
    /// Long-poll mode: `/t` sent on a connection of its own (no `/s` answer to ride in time).
    time_alone: AtomicU64,
    /// Crowdlight clients that moved to another relay after theirs refused a connection.
    moved: AtomicU64,
}

fn count(sh: &Shared, f: Failure) {
    sh.errors[f as usize].fetch_add(1, Ordering::Relaxed);
}

/// Notes the first answer that tells client `i` the timed cue: when it was read, and when it
/// reached the socket (`arrived_us`, the kernel's receive time; 0 if unknown).
fn note_cue(sh: &Shared, i: usize, body: &[u8], arrived_us: i64) {
    if sh.seen[i].load(Ordering::Relaxed) != 0 {
        return;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let seen = match &sh.plan.live {
        Some((zone, colour)) => {
            v.get("live")
                .and_then(|l| l.get(zone))
                .and_then(Value::as_str)
                == Some(colour.as_str())
        }
        None => v.get("cue").and_then(Value::as_str) == Some(sh.plan.cue.as_str()),
    };
    if seen {
        sh.seen[i].store(now_us(), Ordering::Relaxed);
        sh.arrived[i].store(arrived_us, Ordering::Relaxed);
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
        arrived: (0..plan.clients).map(|_| AtomicI64::new(0)).collect(),
        connected: AtomicUsize::new(0),
        errors: Default::default(),
        requests: Default::default(),
        stale_retries: AtomicU64::new(0),
        time_alone: AtomicU64::new(0),
        moved: AtomicU64::new(0),
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
                    let carry = Piggyback::default();
                    let at = AtomicUsize::new(0);
                    tokio::join!(
                        long_poll_client(&sh, i, &mut rng, &carry, &at),
                        time_client(&sh, i, &mut rng_t, &carry, &at)
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
    let arrived: Vec<i64> = sh
        .arrived
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .collect();
    let errors = &sh.errors;
    Ok(json!({
        "mode": match plan.mode {
            Mode::Poll => "poll",
            Mode::LongPoll => "long-poll",
            Mode::Ws => "ws",
            Mode::Sse => "sse",
        },
        "targets": plan.targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "moved": sh.moved.load(Ordering::Relaxed),
        "clients": plan.clients,
        "connected_at_window_start": connected_start,
        "connected_at_window_end": connected_end_window,
        "window_s": window_s,
        "window_bytes": window_bytes,
        "total_bytes": total_bytes,
        "window_requests": {"state": req_b[1] - req_a[1], "time": req_b[2] - req_a[2]},
        "stale_retries": sh.stale_retries.load(Ordering::Relaxed),
        "time_on_own_connection": sh.time_alone.load(Ordering::Relaxed),
        "errors": {
            "connect": errors[0].load(Ordering::Relaxed),
            "io": errors[1].load(Ordering::Relaxed),
            "timeout": errors[2].load(Ordering::Relaxed),
            "status": errors[3].load(Ordering::Relaxed),
        },
        "server": server,
        "seen_us": seen,
        "arrived_us": arrived,
    }))
}

fn headers_for(sh: &Shared) -> Vec<(&'static str, &'static str)> {
    if sh.plan.browser_headers {
        BROWSER_HEADERS.to_vec()
    } else {
        vec![]
    }
}

/// A connection to `plan.targets[at]`, or when it refuses, to the next targets in turn (a
/// browser tries every address DNS gave it): which target answered, and the connection.
async fn connect_any(
    sh: &Shared,
    at: usize,
    src: Option<IpAddr>,
    kind: Kind,
) -> Result<(usize, Client), Failure> {
    let targets = &sh.plan.targets;
    let mut failure = Failure::Connect;
    for step in 0..targets.len() {
        let i = (at + step) % targets.len();
        match Client::connect(targets[i], src, kind).await {
            Ok(c) => return Ok((i, c)),
            Err(f) => failure = f,
        }
    }
    Err(failure)
}

/// Timeout of a request answered at once (the page's POLL_TIMEOUT_MS).
const PLAIN_TIMEOUT: Duration = Duration::from_millis(4_000);
/// Client timeout of a parked `/s?after=v` (the relay holds it at most 30 s).
const LONG_TIMEOUT: Duration = Duration::from_millis(35_000);

/// A Crowdlight client's keep-alive connection and what it knows of `/s`: the 1 Hz poll loop
/// and the long-poll loop send everything through [`StateClient::get`].
struct StateClient<'a> {
    sh: &'a Shared,
    i: usize,
    /// Index in `plan.targets` of the relay this client talks to now.
    at: usize,
    host: String,
    src: Option<IpAddr>,
    base: Vec<(&'static str, &'static str)>,
    conn: Option<Client>,
    etag: Option<String>,
    version: Option<u64>,
    poll_ms: f64,
    /// Failed requests in a row.
    failures: u32,
    /// Kernel receive time of the last answer (Unix µs).
    arrived_us: i64,
}

impl<'a> StateClient<'a> {
    fn new(sh: &'a Shared, i: usize) -> Self {
        let plan = &sh.plan;
        StateClient {
            sh,
            i,
            at: 0,
            host: plan.targets[0].to_string(),
            src: plan.sources.for_client(plan.first_client + i),
            base: headers_for(sh),
            conn: None,
            etag: None,
            version: None,
            poll_ms: 1000.0,
            failures: 0,
            arrived_us: 0,
        }
    }

    /// Connects to the current relay, or when it refuses, to the next ones in turn (counted as
    /// `moved` when another one answers).
    async fn open(&mut self, kind: Kind) -> Result<(), Failure> {
        match connect_any(self.sh, self.at, self.src, kind).await {
            Ok((at, c)) => {
                if at != self.at {
                    self.at = at;
                    self.host = self.sh.plan.targets[at].to_string();
                    self.sh.moved.fetch_add(1, Ordering::Relaxed);
                }
                self.conn = Some(c);
                self.sh.connected.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(f) => {
                count(self.sh, f);
                Err(f)
            }
        }
    }

    fn close(&mut self) {
        if self.conn.take().is_some() {
            self.sh.connected.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// One GET on the keep-alive connection, (re)connecting as needed; a `200` or `304`, or
    /// the failure (counted). A failure within `stale_within` on a reused connection is retried
    /// once on a fresh one, as a browser does for an idempotent request when the server had
    /// closed the idle connection. The connection is dropped after a failure or when the server
    /// closes it.
    async fn get(
        &mut self,
        kind: Kind,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
        stale_within: Duration,
    ) -> Result<Response, Failure> {
        if !self.conn.as_ref().is_some_and(Client::is_reusable) {
            self.close();
        }
        let fresh = self.conn.is_none();
        if fresh {
            self.open(kind).await?;
        }
        let host = self.host.clone();
        let sent = Instant::now();
        let c = self.conn.as_mut().expect("connected");
        let mut result = c.get(kind, &host, path, headers, timeout).await;
        if result.is_err() && !fresh && sent.elapsed() < stale_within {
            self.sh.stale_retries.fetch_add(1, Ordering::Relaxed);
            self.close();
            self.open(kind).await?;
            let c = self.conn.as_mut().expect("connected");
            result = c.get(kind, &host, path, headers, timeout).await;
        }
        self.sh.requests[kind as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(c) = &self.conn {
            self.arrived_us = c.arrival().last_us();
        }
        let result = match result {
            Ok(r) if r.status == 200 || r.status == 304 => Ok(r),
            Ok(_) => Err(Failure::Status),
            Err(f) => Err(f),
        };
        if let Err(f) = result {
            count(self.sh, f);
        }
        if !self.conn.as_ref().is_some_and(Client::is_reusable) {
            self.close();
        }
        result
    }

    /// One `/s` request with `If-None-Match`: a `200` updates the ETag, version and poll
    /// interval, a `304` keeps them, a failure adds to `failures`. Whether the state changed;
    /// `None` on failure.
    async fn state(
        &mut self,
        path: &str,
        timeout: Duration,
        stale_within: Duration,
    ) -> Option<bool> {
        let mut headers = self.base.clone();
        let tag = self.etag.clone();
        if let Some(t) = &tag {
            headers.push(("If-None-Match", t.as_str()));
        }
        let r = match self
            .get(Kind::State, path, &headers, timeout, stale_within)
            .await
        {
            Ok(r) => r,
            Err(_) => {
                self.failures += 1;
                return None;
            }
        };
        self.failures = 0;
        if r.status == 304 {
            return Some(false);
        }
        note_cue(self.sh, self.i, &r.body, self.arrived_us);
        let new_tag = r.header("etag").map(str::to_string);
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
            self.poll_ms = p;
        }
        let changed = self.version.is_none() || new_version != self.version || new_tag != self.etag;
        self.version = new_version;
        self.etag = new_tag;
        Some(changed)
    }

    /// `/t` on this connection; whether it was answered.
    async fn time(&mut self) -> bool {
        let base = self.base.clone();
        self.get(Kind::Time, "/t", &base, PLAIN_TIMEOUT, Duration::ZERO)
            .await
            .is_ok()
    }

    /// The wait before the next plain poll: the backoff after failures, else the relay's poll
    /// interval ±20 %.
    fn poll_wait(&self, rng: &mut StdRng) -> Duration {
        let ms = if self.failures > 0 {
            backoff_ms(self.failures, rng) as f64
        } else {
            self.poll_ms.clamp(250.0, 30000.0) * (0.8 + 0.4 * rng.random::<f64>())
        };
        Duration::from_secs_f64(ms / 1000.0)
    }
}

async fn poll_client(sh: &Shared, i: usize, rng: &mut StdRng) {
    let plan = &sh.plan;
    let mut s = StateClient::new(sh, i);
    let t_every = (plan.t_per_min > 0.0).then(|| 60.0 / plan.t_per_min);
    let mut next_t =
        t_every.map(|e| Instant::now() + Duration::from_secs_f64(e * rng.random::<f64>()));
    loop {
        let answered = s.state("/s", PLAIN_TIMEOUT, Duration::MAX).await.is_some();
        if answered
            && let (Some(when), Some(every)) = (next_t, t_every)
            && Instant::now() >= when
        {
            s.time().await;
            next_t =
                Some(when + Duration::from_secs_f64(every * (0.75 + 0.5 * rng.random::<f64>())));
        }
        tokio::time::sleep(s.poll_wait(rng)).await;
    }
}

/// Long-poll `/s` like the page (page/src/poll.js): `/s` first, then `/s?after=v`; after each
/// answer, the `/t` the clock loop handed over, if one is due.
async fn long_poll_client(
    sh: &Shared,
    i: usize,
    rng: &mut StdRng,
    carry: &Piggyback<Instant>,
    at: &AtomicUsize,
) {
    const MIN_HOLD: Duration = Duration::from_millis(1_000);
    const MAX_QUICK: u32 = 3;
    let mut s = StateClient::new(sh, i);
    let mut quick = 0u32;
    loop {
        // After an error the retry is a plain /s, answered at once (the page's rule).
        let (path, timeout) = match s.version.filter(|_| s.failures == 0) {
            Some(v) => (format!("/s?after={v}"), LONG_TIMEOUT),
            None => ("/s".to_string(), PLAIN_TIMEOUT),
        };
        let sent = Instant::now();
        let answer = s.state(&path, timeout, MIN_HOLD).await;
        at.store(s.at, Ordering::Relaxed);
        let held = sent.elapsed();
        carry.set_long_polling(s.failures == 0 && s.version.is_some());
        if let Some(changed) = answer
            && let Some(report) = carry.take()
        {
            if changed {
                tokio::time::sleep(spread(rng)).await;
            }
            let _ = report.send(Instant::now());
            if !s.time().await {
                s.failures += 1;
                carry.set_long_polling(false);
            }
        }
        quick = if held < MIN_HOLD { quick + 1 } else { 0 };
        let park = s.failures == 0
            && s.version.is_some()
            && (held >= MIN_HOLD || (answer == Some(true) && quick < MAX_QUICK));
        if !park {
            tokio::time::sleep(s.poll_wait(rng)).await;
        } else if answer == Some(true) {
            // The page re-parks within REPARK_SPREAD_MS after a change (sim::poll::Rules).
            let spread = sim::poll::Rules::default().repark_spread_ms;
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..=spread))).await;
        }
    }
}

/// `/t` at `t_per_min`, each due `every·(0.75..1.25)` after the last one left (long-poll mode):
/// handed to the long-poll loop, or on a short-lived connection of its own.
/// `at`: the relay the long-poll loop talks to now (its own-connection `/t` go there too).
async fn time_client(
    sh: &Shared,
    i: usize,
    rng: &mut StdRng,
    carry: &Piggyback<Instant>,
    at: &AtomicUsize,
) {
    let plan = &sh.plan;
    if plan.t_per_min <= 0.0 {
        return;
    }
    let every = 60.0 / plan.t_per_min;
    let src = plan.sources.for_client(plan.first_client + i);
    let base = headers_for(sh);
    let mut due = Instant::now() + Duration::from_secs_f64(every * rng.random::<f64>());
    loop {
        tokio::time::sleep_until(due).await;
        let sent = match carry.hand_over(LONG_TIMEOUT).await {
            Some(sent) => sent,
            None => {
                let sent = Instant::now();
                sh.time_alone.fetch_add(1, Ordering::Relaxed);
                match connect_any(sh, at.load(Ordering::Relaxed), src, Kind::Time).await {
                    Ok((target, mut c)) => {
                        let host = plan.targets[target].to_string();
                        let r = c.get(Kind::Time, &host, "/t", &base, PLAIN_TIMEOUT).await;
                        sh.requests[Kind::Time as usize].fetch_add(1, Ordering::Relaxed);
                        match r {
                            Ok(r) if r.status == 200 => {}
                            Ok(_) => count(sh, Failure::Status),
                            Err(f) => count(sh, f),
                        }
                    }
                    Err(f) => count(sh, f),
                }
                sent
            }
        };
        due = sent + Duration::from_secs_f64(every * (0.75 + 0.5 * rng.random::<f64>()));
    }
}

async fn ws_client(sh: &Shared, i: usize, rng: &mut StdRng) {
    let plan = &sh.plan;
    let src = plan.sources.for_client(plan.first_client + i);
    let url = format!("ws://{}/", plan.targets[0]);
    let mut failures = 0u32;
    loop {
        let stream = match connect(plan.targets[0], src, Kind::Setup).await {
            Ok(s) => s,
            Err(_) => {
                sh.errors[0].fetch_add(1, Ordering::Relaxed);
                failures += 1;
                tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                continue;
            }
        };
        let arrival = stream.get_ref().arrival().clone();
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let mut ws =
            match tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config))
                .await
            {
                Ok((ws, _)) => ws,
                Err(_) => {
                    count(sh, Failure::Io);
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                    continue;
                }
            };
        ws.get_mut().sink().set(Kind::State);
        sh.connected.fetch_add(1, Ordering::Relaxed);
        failures = 0;
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Text(t)) => note_cue(sh, i, t.as_bytes(), arrival.last_us()),
                Ok(Message::Close(_)) => break,
                Ok(_) => {}
                Err(_) => {
                    count(sh, Failure::Io);
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
    let host = plan.targets[0].to_string();
    let src = plan.sources.for_client(plan.first_client + i);
    let mut headers = headers_for(sh);
    headers.retain(|(k, _)| *k != "Accept");
    headers.push(("Accept", "text/event-stream"));
    headers.push(("Cache-Control", "no-cache"));
    let mut failures = 0u32;
    loop {
        // The client owns the connection the stream is read from: it lives until the stream ends.
        let opened = match Client::connect(plan.targets[0], src, Kind::Setup).await {
            Ok(mut c) => match c
                .open(Kind::Setup, Kind::State, &host, "/events", &headers)
                .await
            {
                Ok(s) if s.status == 200 => Ok((c, s)),
                Ok(_) => Err(Failure::Status),
                Err(f) => Err(f),
            },
            Err(f) => Err(f),
        };
        let (client, mut events) = match opened {
            Ok(o) => o,
            Err(f) => {
                count(sh, f);
                failures += 1;
                tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
                continue;
            }
        };
        sh.connected.fetch_add(1, Ordering::Relaxed);
        failures = 0;
        let mut text = Vec::new();
        loop {
            match events.next_data().await {
                Ok(Some(data)) => text.extend_from_slice(&data),
                Ok(None) => break,
                Err(_) => {
                    count(sh, Failure::Io);
                    break;
                }
            }
            while let Some(end) = text.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = text.drain(..end + 2).collect();
                for line in event.split(|&b| b == b'\n') {
                    if let Some(data) = line.strip_prefix(b"data: ") {
                        note_cue(sh, i, data, client.arrival().last_us());
                    }
                }
            }
        }
        sh.connected.fetch_sub(1, Ordering::Relaxed);
        failures += 1;
        tokio::time::sleep(Duration::from_millis(backoff_ms(failures, rng))).await;
    }
}
