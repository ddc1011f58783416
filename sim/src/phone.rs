//! One simulated phone: joins like a real one (captive probe → page → `/s` → show → `/t`
//! burst), then long-polls `/s` (`/s?after=v`, or plain polls for a relay without `v`) and
//! samples `/t` with the page's rules ([`crate::poll`], [`crate::sync::Schedule`]), syncing its
//! own drifting clock with the page's algorithm ([`crate::sync`]).
//!
//! Two loops share the phone: the state loop (`/s`) and the clock loop (`/t`). Bursts (join,
//! re-sync) go on the clock loop's own connection, as a browser sends them beside a parked
//! request. Once the schedule is steady and the phone long-polls, a due single sample rides
//! the long-poll connection instead ([`crate::piggyback`]): the state loop sends it right after
//! the next `/s` answer, before re-parking; it falls back to its own connection when no answer
//! comes within the long-poll client timeout or the phone is not long-polling. Everything the
//! phone learns is written to a shared [`PhoneStatus`] so the simulator can report at any
//! moment.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::http_client::{Conn, HttpError, Response};
use crate::piggyback::{Piggyback, spread};
use crate::poll::{Poller, Rules};
use crate::sync::{BUDGET_MS, ClockSync, Model, Schedule, budget_for, make_sample};

/// The captive probe a phone sends first (Android's), with its `Host`.
pub const CAPTIVE_PROBE: (&str, &str) = ("connectivitycheck.gstatic.com", "/generate_204");

/// Host clock now, µs since the Unix epoch (the beacon timebase on a single machine).
pub fn host_now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A relay the phone may talk to.
#[derive(Debug, Clone)]
pub struct Relay {
    /// Where to connect.
    pub addr: SocketAddr,
    /// `Host` header for the page requests.
    pub host: String,
}

/// A phone's `performance.now()`: reads `origin_ms` at host time `anchor_us`, runs `drift`
/// fast (e.g. 30e-6 for 30 ppm) and is quantised to `quantum_ms` (Chrome 0.1, Safari 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LocalClock {
    /// Reading at the anchor, ms.
    pub origin_ms: f64,
    /// Drift, dimensionless.
    pub drift: f64,
    /// Host time of the anchor, µs.
    pub anchor_us: i64,
    /// Resolution, ms (0 = exact).
    pub quantum_ms: f64,
}

impl LocalClock {
    /// The phone's clock reading (ms) at host time `host_us`, exact (no quantisation).
    pub fn exact_ms(&self, host_us: i64) -> f64 {
        self.origin_ms + (host_us - self.anchor_us) as f64 / 1000.0 * (1.0 + self.drift)
    }

    /// The phone's clock reading (ms) at host time `host_us`, as the page would read it.
    pub fn now_ms(&self, host_us: i64) -> f64 {
        let exact = self.exact_ms(host_us);
        if self.quantum_ms > 0.0 {
            (exact / self.quantum_ms).floor() * self.quantum_ms
        } else {
            exact
        }
    }
}

/// `/s` as the page reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDoc {
    /// `stopped|standby|running|hold|blackout`.
    pub state: String,
    /// Cue name.
    #[serde(default)]
    pub cue: Option<String>,
    /// Cue start, beacon µs.
    #[serde(default)]
    pub at: Option<i64>,
    /// Offset into the cue while held, µs.
    #[serde(default)]
    pub held: Option<i64>,
    /// Armed next cue.
    #[serde(default)]
    pub next: Option<String>,
    /// Server-directed poll interval, ms.
    #[serde(default)]
    pub poll: Option<u64>,
    /// Show URL.
    #[serde(default)]
    pub show: Option<String>,
    /// State version for long-poll (absent on relays without long-poll).
    #[serde(default)]
    pub v: Option<serde_json::Value>,
}

impl StateDoc {
    /// The version when it is an unsigned integer below 2^53 (what the page accepts).
    pub fn version(&self) -> Option<u64> {
        self.v
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .filter(|v| *v < 1 << 53)
    }
}

/// Everything the simulator wants to know about one phone, updated as it runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhoneStatus {
    /// Relay index the phone started on.
    pub first_relay: usize,
    /// Relay index it talks to now.
    pub relay: usize,
    /// Relay switches.
    pub failovers: u64,
    /// Requests sent.
    pub requests: u64,
    /// `/s` requests sent (plain and long-poll).
    pub state_requests: u64,
    /// Of those, `/s?after=` requests.
    pub long_polls: u64,
    /// `/t` requests sent.
    pub time_requests: u64,
    /// HTTP bytes read + written (heads and bodies).
    pub http_bytes: u64,
    /// Requests retried on a fresh connection after the relay had closed an idle one.
    pub stale_retries: u64,
    /// Host time the phone started, µs.
    pub started_us: i64,
    /// Host time each entry of `running_keys` was first seen, µs.
    pub running_seen_us: Vec<i64>,
    /// Failed requests by kind.
    pub errors: ErrorCounts,
    /// The captive probe got an answer that opens the portal (not a `204`).
    pub captive_ok: Option<bool>,
    /// `/` answered 200 with a body.
    pub page_ok: bool,
    /// The show JSON was fetched.
    pub show_ok: bool,
    /// `/t` samples accepted.
    pub samples: u64,
    /// Current clock model.
    pub model: Option<Model>,
    /// The budget the current cue asks of the `/t` schedule, ms (set by the state loop).
    pub sync_budget_ms: Option<f64>,
    /// The phone's clock.
    pub clock: Option<LocalClock>,
    /// Last `/s` answer.
    pub state: Option<StateDoc>,
    /// Distinct `(cue, at)` seen while running, in order.
    pub running_keys: Vec<(String, i64)>,
    /// Times the state went from running to something else.
    pub left_running: u64,
    /// `/s` answers that were `304 Not Modified`.
    pub not_modified: u64,
    /// Host time of the last good `/s` or `/t` answer, µs.
    pub last_ok_us: Option<i64>,
    /// Host time of the first failed request since the last good answer, µs.
    pub down_since_us: Option<i64>,
    /// Longest outage, µs: from the first failed `/s` (or `/t` on the `/s` connection) after a
    /// good answer to the next good answer (how long the phone was cut off from the show). A
    /// parked long-poll is not an outage, nor is a `/t` failing on the clock loop's own
    /// connection while `/s` works.
    pub max_gap_us: i64,
}

impl PhoneStatus {
    /// A good `/s` or `/t` answer arrived at host time `now_us`.
    pub fn handle_ok_answer(&mut self, now_us: i64) {
        if let Some(down) = self.down_since_us.take() {
            self.max_gap_us = self.max_gap_us.max(now_us - down);
        }
        self.last_ok_us = Some(now_us);
    }

    /// A request failed at host time `now_us`.
    pub fn handle_failed_request(&mut self, now_us: i64) {
        self.down_since_us.get_or_insert(now_us);
    }
}

impl PhoneStatus {
    /// Estimated beacon time minus true host time at host time `host_us`, µs.
    pub fn clock_error_us(&self, host_us: i64) -> Option<f64> {
        let (model, clock) = (self.model?, self.clock?);
        Some(model.beacon_us(clock.exact_ms(host_us)) - host_us as f64)
    }
}

/// Failed requests by kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ErrorCounts {
    /// Could not connect.
    pub connect: u64,
    /// No full answer in time.
    pub timeout: u64,
    /// Connection reset/closed or other socket error.
    pub io: u64,
    /// Unexpected status code.
    pub status: u64,
    /// Unparseable answer.
    pub garbled: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.io + self.status + self.garbled
    }
}

/// How one phone behaves.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// Relays (the phone starts on `first_relay`, fails over in order).
    pub relays: Arc<Vec<Relay>>,
    /// Index of the first relay.
    pub first_relay: usize,
    /// Source address to bind, if any.
    pub source: Option<IpAddr>,
    /// The phone's clock.
    pub clock: LocalClock,
    /// Timing rules.
    pub rules: Rules,
    /// Per-phone RNG seed.
    pub seed: u64,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The likely clock error the `/t` schedule keeps within, ms; `None`: what the show and the
    /// current cue ask for, as the page does ([`crate::sync::budget_for`]).
    pub sync_budget_ms: Option<f64>,
}

enum Failure {
    Connect,
    Timeout,
    Io,
    Status(u16),
    Garbled,
}

impl From<HttpError> for Failure {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Malformed(_) | HttpError::TooLarge | HttpError::Request(_) => {
                Failure::Garbled
            }
            HttpError::Io(_) | HttpError::Closed | HttpError::Lost(_) => Failure::Io,
        }
    }
}

/// A `/t` exchange: when it left, the phone's clock at send and receipt (ms) and the server's
/// time (µs).
#[derive(Debug, Clone, Copy)]
struct Exchange {
    sent: Instant,
    t1: f64,
    t: f64,
    t4: f64,
}

/// What the state loop reports for a carried `/t`: the exchange, or when it left if it failed
/// (the state loop counted the failure).
type Carried = Result<Exchange, Instant>;

struct Phone {
    cfg: PhoneConfig,
    status: Arc<Mutex<PhoneStatus>>,
    rng: StdRng,
    poller: Poller,
    sync: ClockSync,
    schedule: Schedule,
    conn: Option<(usize, Conn)>,
    etag: Option<String>,
    show_url: Option<String>,
    version: Option<u64>,
    /// The compiled show, once fetched (for the cues' sync budgets).
    show: Option<serde_json::Value>,
}

/// Run one phone until the task is dropped (the simulator bounds it with a timeout).
pub async fn run(cfg: PhoneConfig, status: Arc<Mutex<PhoneStatus>>) {
    let poller = Poller::new(cfg.rules.clone(), cfg.relays.len(), cfg.first_relay);
    {
        let mut s = status.lock().expect("status lock");
        s.first_relay = poller.relay();
        s.relay = poller.relay();
        s.clock = Some(cfg.clock);
        s.started_us = host_now_us();
    }
    let seed = cfg.seed;
    let mut state = Phone::new(cfg, status, poller, seed);
    // Join: captive probe and page, retried with backoff.
    loop {
        match state.join().await {
            Ok(()) => break,
            Err(f) => state.fail(f, true).await,
        }
    }
    // The clock loop has its own connection, on the relay the join ended up on.
    let mut time = Phone::new(
        state.cfg.clone(),
        state.status.clone(),
        state.poller.clone(),
        seed ^ 0x9E37_79B9_7F4A_7C15,
    );
    let carry = Piggyback::default();
    tokio::join!(state.state_loop(&carry), time.time_loop(&carry));
}

impl Phone {
    fn new(cfg: PhoneConfig, status: Arc<Mutex<PhoneStatus>>, poller: Poller, seed: u64) -> Self {
        Phone {
            rng: StdRng::seed_from_u64(seed),
            sync: ClockSync::default(),
            schedule: Schedule::with_budget(cfg.sync_budget_ms.unwrap_or(BUDGET_MS)),
            poller,
            cfg,
            status,
            conn: None,
            etag: None,
            show_url: None,
            version: None,
            show: None,
        }
    }

    fn update(&self, f: impl FnOnce(&mut PhoneStatus)) {
        f(&mut self.status.lock().expect("status lock"));
    }

    /// `/s`: long-poll (or poll) forever; after each answer, the `/t` sample handed over by
    /// the clock loop, if one is due.
    async fn state_loop(&mut self, carry: &Piggyback<Carried>) {
        loop {
            match self.poll_state().await {
                Ok((ms, changed)) => {
                    carry.set_long_polling(self.version.is_some() && self.poller.errors() == 0);
                    if let Some(report) = carry.take() {
                        if changed {
                            tokio::time::sleep(spread(&mut self.rng)).await;
                        }
                        match self.exchange_time().await {
                            Ok(x) => {
                                let _ = report.send(Ok(x));
                            }
                            Err((sent, f)) => {
                                let _ = report.send(Err(sent));
                                carry.set_long_polling(false);
                                self.fail(f, true).await;
                                continue;
                            }
                        }
                    }
                    if ms > 0 {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                }
                Err(f) => {
                    carry.set_long_polling(false);
                    self.fail(f, true).await;
                }
            }
        }
    }

    /// The current cue's budget from the state loop, unless the run fixed one.
    fn take_budget(&mut self) {
        if self.cfg.sync_budget_ms.is_none()
            && let Some(b) = self.status.lock().expect("status lock").sync_budget_ms
        {
            self.schedule.budget_ms = b;
        }
    }

    /// `/t`: the page's schedule; each delay counts from when the request left. Steady single
    /// samples go to the state loop while it long-polls.
    async fn time_loop(&mut self, carry: &Piggyback<Carried>) {
        let wait = Duration::from_millis(self.poller.rules().long_poll_timeout_ms);
        loop {
            let burst = self.schedule.burst();
            let carried = if self.schedule.is_steady() {
                carry.hand_over(wait).await
            } else {
                None
            };
            let sent = match carried {
                Some(result) => {
                    // Nothing goes on this loop's connection any more: let it go.
                    self.conn = None;
                    match result {
                        Ok(x) => {
                            self.take_sample(&x, burst);
                            x.sent
                        }
                        Err(sent) => sent,
                    }
                }
                None => match self.exchange_time().await {
                    Ok(x) => {
                        self.take_sample(&x, burst);
                        x.sent
                    }
                    Err((sent, f)) => {
                        self.fail(f, false).await;
                        sent
                    }
                },
            };
            self.take_budget();
            let ms = self.schedule.handle_sent(&self.sync, &mut self.rng);
            // Sleep until the next request, but start a burst at once when the cue's budget
            // tightens beyond what the clock can promise (as the page does).
            let until = sent + Duration::from_secs_f64(ms / 1000.0);
            while Instant::now() < until {
                tokio::time::sleep_until(until.min(Instant::now() + Duration::from_secs(1))).await;
                let before = self.schedule.budget_ms;
                self.take_budget();
                let now_ms = self.cfg.clock.now_ms(host_now_us());
                if self.schedule.budget_ms < before
                    && self.schedule.is_steady()
                    && self.sync.predicted_error_ms(now_ms) > self.schedule.budget_ms
                {
                    self.schedule.handle_wake(crate::sync::resync_burst(1));
                    break;
                }
            }
        }
    }

    /// A request failed: count it, back off. `cut_off`: it was on the state loop's connection,
    /// the phone's link to the show, so an outage starts; a `/t` that failed on the clock
    /// loop's own connection (e.g. a burst still on a relay the state loop has left) does not
    /// cut the phone off.
    async fn fail(&mut self, f: Failure, cut_off: bool) {
        self.conn = None;
        let delay = self.poller.handle_error(&mut self.rng);
        let (relay, failovers) = (self.poller.relay(), self.poller.failovers());
        let now = host_now_us();
        self.update(|s| {
            if cut_off {
                s.handle_failed_request(now);
            }
            match f {
                Failure::Connect => s.errors.connect += 1,
                Failure::Timeout => s.errors.timeout += 1,
                Failure::Io => s.errors.io += 1,
                Failure::Status(code) => {
                    tracing::debug!("relay {relay}: status {code}");
                    s.errors.status += 1;
                }
                Failure::Garbled => s.errors.garbled += 1,
            }
            s.relay = relay;
            s.failovers = failovers;
        });
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }

    /// One GET on the current relay, (re)connecting as needed, within the request timeout.
    async fn get(
        &mut self,
        host: Option<&str>,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, Failure> {
        let timeout = self.cfg.timeout;
        self.get_within(host, path, headers, timeout).await
    }

    /// [`Phone::get`] with its own timeout; counts the HTTP bytes.
    async fn get_within(
        &mut self,
        host: Option<&str>,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let before = self.conn_bytes();
        let result = self.get_inner(host, path, headers, timeout).await;
        // A connection dropped on error loses its count: close enough for a rate.
        let bytes = self.conn_bytes().saturating_sub(before);
        self.update(|s| s.http_bytes += bytes);
        result
    }

    fn conn_bytes(&self) -> u64 {
        self.conn.as_ref().map_or(0, |(_, c)| {
            let (r, w) = c.bytes();
            r + w
        })
    }

    async fn get_inner(
        &mut self,
        host: Option<&str>,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let relay_index = self.poller.relay();
        let relay = self.cfg.relays[relay_index].clone();
        let host = host.unwrap_or(&relay.host).to_string();
        self.update(|s| s.requests += 1);
        let source = self.cfg.source;
        let status = self.status.clone();
        let conn = &mut self.conn;
        let work = async move {
            let reused = matches!(conn, Some((i, c)) if *i == relay_index && c.is_reusable());
            if !reused {
                let c = Conn::connect(relay.addr, source)
                    .await
                    .map_err(|_| Failure::Connect)?;
                *conn = Some((relay_index, c));
            }
            let (_, c) = conn.as_mut().expect("connected above");
            match c.get(&host, path, headers).await {
                // A keep-alive connection the relay closed while it was idle: retry once on a
                // fresh one, as browsers do for a GET.
                Err(e) if reused && e.is_connection() => {
                    status.lock().expect("status lock").stale_retries += 1;
                    let c = Conn::connect(relay.addr, source)
                        .await
                        .map_err(|_| Failure::Connect)?;
                    let (_, c) = conn.insert((relay_index, c));
                    c.get(&host, path, headers).await.map_err(Failure::from)
                }
                r => r.map_err(Failure::from),
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(f)) => {
                self.conn = None;
                Err(f)
            }
            Err(_) => {
                self.conn = None;
                Err(Failure::Timeout)
            }
        }
    }

    async fn join(&mut self) -> Result<(), Failure> {
        let (host, path) = CAPTIVE_PROBE;
        let probe = self
            .get(
                Some(host),
                path,
                &[("User-Agent", "Dalvik/2.1.0 (Linux; U; Android 14)")],
            )
            .await?;
        // The OS opens the portal for anything but 204 (or a tiny 200).
        let opens = probe.status != 204 && !(probe.status == 200 && probe.body.len() <= 4);
        self.update(|s| s.captive_ok = Some(opens));
        // The OS opens the portal where the redirect points (same relay: DNS says so).
        let target = probe
            .header("location")
            .filter(|_| (300..400).contains(&probe.status))
            .and_then(split_http_url);
        let (host, path) = match &target {
            Some((h, p)) => (Some(h.as_str()), p.as_str()),
            None => (None, "/"),
        };
        let page = self
            .get(host, path, &[("Accept-Encoding", "gzip, br")])
            .await?;
        if page.status != 200 || page.body.is_empty() {
            return Err(Failure::Status(page.status));
        }
        self.update(|s| s.page_ok = true);
        Ok(())
    }

    /// One `/s` request (`/s?after=v` once the relay gave a version); returns the delay until
    /// the next, ms (0: re-park at once), and whether the answer was a new state.
    async fn poll_state(&mut self) -> Result<(u64, bool), Failure> {
        let etag = self.etag.clone();
        let mut headers = vec![];
        if let Some(tag) = etag.as_deref() {
            headers.push(("If-None-Match", tag));
        }
        // After an error the retry is a plain `/s`, answered at once (the page's rule).
        let version = self.version.filter(|_| self.poller.errors() == 0);
        let (path, timeout) = match version {
            Some(v) => (
                format!("/s?after={v}"),
                Duration::from_millis(self.poller.rules().long_poll_timeout_ms),
            ),
            None => ("/s".to_string(), self.cfg.timeout),
        };
        let long = version.is_some();
        self.update(|s| {
            s.state_requests += 1;
            s.long_polls += u64::from(long);
        });
        let sent = Instant::now();
        let resp = self.get_within(None, &path, &headers, timeout).await?;
        let held_ms = sent.elapsed().as_millis() as u64;
        let (doc, changed) = match resp.status {
            304 => {
                self.update(|s| s.not_modified += 1);
                let doc = self.status.lock().expect("status lock").state.clone();
                if doc.is_none() {
                    return Err(Failure::Status(304));
                }
                (doc, false)
            }
            200 => {
                let doc: StateDoc =
                    serde_json::from_slice(&resp.body).map_err(|_| Failure::Garbled)?;
                let tag = resp.header("etag").map(str::to_string);
                let changed =
                    self.version.is_none() || doc.version() != self.version || tag != self.etag;
                self.etag = tag;
                self.version = doc.version();
                self.record_state(&doc);
                (Some(doc), changed)
            }
            other => return Err(Failure::Status(other)),
        };
        let now = host_now_us();
        self.update(|s| s.handle_ok_answer(now));
        let poll = doc.as_ref().and_then(|d| d.poll);
        let show = doc.and_then(|d| d.show);
        if show.is_some() && show != self.show_url {
            self.fetch_show(show.as_deref().unwrap_or_default()).await?;
            self.show_url = show;
        }
        self.set_budget();
        let delay = self.poller.handle_answer(
            self.version.is_some(),
            changed,
            held_ms,
            poll,
            &mut self.rng,
        );
        Ok((delay, changed))
    }

    fn record_state(&self, doc: &StateDoc) {
        self.update(|s| {
            let was_running = s.state.as_ref().is_some_and(|d| d.state == "running");
            if doc.state == "running" {
                let key = (doc.cue.clone().unwrap_or_default(), doc.at.unwrap_or(0));
                if !s.running_keys.contains(&key) {
                    s.running_keys.push(key);
                    s.running_seen_us.push(host_now_us());
                }
            } else if was_running {
                s.left_running += 1;
            }
            s.state = Some(doc.clone());
        });
    }

    async fn fetch_show(&mut self, url: &str) -> Result<(), Failure> {
        let resp = self
            .get(None, url, &[("Accept-Encoding", "gzip, br")])
            .await?;
        if resp.status != 200 {
            return Err(Failure::Status(resp.status));
        }
        let body = if resp.header("content-encoding") == Some("gzip") {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&resp.body[..]), &mut out)
                .map_err(|_| Failure::Garbled)?;
            out
        } else {
            resp.body.to_vec()
        };
        self.show = Some(serde_json::from_slice(&body).map_err(|_| Failure::Garbled)?);
        self.update(|s| s.show_ok = true);
        Ok(())
    }

    /// The budget the page would give its `/t` schedule now (`setBudget` in app.js): a relaxed
    /// show's, else the playing, held or armed cue's, else [`BUDGET_MS`] when no cue is known.
    fn set_budget(&self) {
        let (Some(show), Some(state)) = (&self.show, self.status_state()) else {
            return;
        };
        let cue = matches!(state.state.as_str(), "running" | "hold" | "standby")
            .then_some(state.cue.as_deref())
            .flatten()
            .and_then(|name| {
                show["cues"]
                    .as_array()?
                    .iter()
                    .position(|c| c["name"] == name)
            });
        let budget = budget_for(show, cue);
        self.update(|s| s.sync_budget_ms = Some(budget));
    }

    fn status_state(&self) -> Option<StateDoc> {
        self.status.lock().expect("status lock").state.clone()
    }

    /// One `/t` exchange on this loop's connection; a failure comes with when it was sent.
    async fn exchange_time(&mut self) -> Result<Exchange, (Instant, Failure)> {
        let sent = Instant::now();
        self.update(|s| s.time_requests += 1);
        let clock = self.cfg.clock;
        let t1 = clock.now_ms(host_now_us());
        let resp = self.get(None, "/t", &[]).await.map_err(|f| (sent, f))?;
        let t4 = clock.now_ms(host_now_us());
        if resp.status != 200 {
            return Err((sent, Failure::Status(resp.status)));
        }
        #[derive(Deserialize)]
        struct T {
            t: f64,
        }
        let t = serde_json::from_slice::<T>(&resp.body)
            .ok()
            .filter(|t| t.t.is_finite())
            .ok_or((sent, Failure::Garbled))?;
        let now = host_now_us();
        self.update(|s| s.handle_ok_answer(now));
        Ok(Exchange {
            sent,
            t1,
            t: t.t,
            t4,
        })
    }

    /// Feed an exchange of burst `burst` to the clock sync.
    fn take_sample(&mut self, x: &Exchange, burst: u32) {
        if self.sync.handle_sample(make_sample(x.t1, x.t, x.t4, burst)) {
            let model = self.sync.model();
            self.update(|s| {
                s.samples += 1;
                s.model = model;
            });
        }
    }
}

/// Split `http://host[:port]/path` into `("host[:port]", "/path")`; `None` for other URLs.
pub fn split_http_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    (!host.is_empty()).then(|| (host.to_string(), path.to_string()))
}

/// Draw a phone's clock: page opened up to 10 min ago, drift uniform in ±`max_drift_ppm`.
pub fn random_clock(
    rng: &mut impl Rng,
    max_drift_ppm: f64,
    quantum_ms: f64,
    anchor_us: i64,
) -> LocalClock {
    let origin_ms = rng.random_range(0.0..600_000.0);
    let drift = if max_drift_ppm > 0.0 {
        rng.random_range(-max_drift_ppm..=max_drift_ppm) * 1e-6
    } else {
        0.0
    };
    LocalClock {
        origin_ms,
        drift,
        anchor_us,
        quantum_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_clock_drifts_and_quantises() {
        let c = LocalClock {
            origin_ms: 500.0,
            drift: 100e-6,
            anchor_us: 1_000_000,
            quantum_ms: 0.1,
        };
        assert_eq!(c.exact_ms(1_000_000), 500.0);
        assert!((c.exact_ms(11_000_000) - (500.0 + 10_000.0 * 1.0001)).abs() < 1e-9);
        assert!((c.now_ms(1_000_050) - 500.0).abs() < 1e-9);
    }

    #[test]
    fn clock_error_uses_model_and_clock() {
        let clock = LocalClock {
            origin_ms: 1000.0,
            drift: 0.0,
            anchor_us: 0,
            quantum_ms: 0.0,
        };
        let mut sync = ClockSync::default();
        // Server = host. Exchange leaves at host 0, stamped at host 51 ms, back at host 100 ms:
        // the midpoint estimate is 1 ms ahead.
        sync.handle_sample(make_sample(
            clock.now_ms(0),
            51_000.0,
            clock.now_ms(100_000),
            0,
        ));
        let status = PhoneStatus {
            model: sync.model(),
            clock: Some(clock),
            ..PhoneStatus::default()
        };
        let e = status.clock_error_us(500_000).unwrap();
        assert!((e - 1_000.0).abs() < 1e-6, "{e}");
    }

    #[test]
    fn redirect_urls_split() {
        assert_eq!(
            split_http_url("http://show.venue/"),
            Some(("show.venue".into(), "/".into()))
        );
        assert_eq!(
            split_http_url("http://10.0.0.1:8080/x?y"),
            Some(("10.0.0.1:8080".into(), "/x?y".into()))
        );
        assert_eq!(split_http_url("http://a"), Some(("a".into(), "/".into())));
        assert_eq!(split_http_url("https://a/"), None);
        assert_eq!(split_http_url("http:///x"), None);
    }

    #[test]
    fn outages_run_from_the_first_failure_to_the_next_good_answer() {
        let mut s = PhoneStatus::default();
        s.handle_ok_answer(1_000);
        // A long-poll held 30 s is no outage.
        s.handle_ok_answer(31_000);
        assert_eq!(s.max_gap_us, 0);
        s.handle_failed_request(32_000);
        s.handle_failed_request(33_000);
        s.handle_ok_answer(36_000);
        s.handle_ok_answer(37_000);
        assert_eq!(s.max_gap_us, 4_000);
    }

    #[test]
    fn state_doc_parses_the_contract_shape() {
        let d: StateDoc = serde_json::from_str(
            r#"{"state":"running","cue":"a","at":1,"held":null,"next":null,"poll":1000,"show":"/show/x.json","extra":1}"#,
        )
        .unwrap();
        assert_eq!(d.poll, Some(1000));
        assert!(serde_json::from_str::<StateDoc>(r#"{"cue":"a"}"#).is_err());
    }
}
