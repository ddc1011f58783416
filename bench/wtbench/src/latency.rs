//! `latency`: N clients per transport follow K state changes fired 2.5–3.5 s apart.
//!
//! - WebTransport: a session to `/wt`; the relay pushes each `/s` change as a datagram.
//! - HTTP long-poll (the page's default): `/s?after=v` parked on a keep-alive connection,
//!   re-parked at once after each answer.
//! - HTTP polling (the page's fallback for relays without `v`): `/s` with `If-None-Match` every
//!   `poll` ms ±20 % on a keep-alive connection.
//!
//! Delivery latency = when a client first holds the new state − when the beacon sent it. Before
//! the changes each client syncs its clock from a burst of 12 time samples 30–70 ms apart (WT
//! datagrams, `/t` for HTTP) with the min-RTT rule; sync error = estimate − true beacon time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crowdlight_proto::wire::State;
use portal::webtransport::wire as wt_wire;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use crate::Common;
use crate::beacon::Beacon;
use crate::host::now_us;
use crate::setup::{self, Impair, Setup};

/// `latency` options.
#[derive(clap::Args)]
pub struct LatencyArgs {
    /// Clients per transport.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// State changes to follow.
    #[arg(long, default_value_t = 20)]
    changes: usize,
    #[command(flatten)]
    impair: Impair,
}

/// How a client learns the state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Design {
    WebTransport,
    LongPoll,
    Polling,
}

impl Design {
    const ALL: [Design; 3] = [Self::WebTransport, Self::LongPoll, Self::Polling];
    fn name(self) -> &'static str {
        match self {
            Self::WebTransport => "webtransport",
            Self::LongPoll => "http-long-poll",
            Self::Polling => "http-polling",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Self::WebTransport => "WebTransport",
            Self::LongPoll => "HTTP long-poll",
            Self::Polling => "HTTP polling",
        }
    }
}

/// What the clients of one transport observed.
#[derive(Default)]
struct Observed {
    /// (state `at`, host µs when first held), per client and change.
    seen: Vec<(u64, u64)>,
    /// Clock-sync error per client, µs (estimate − truth).
    sync: Vec<f64>,
    /// Clients that connected (WT sessions opened; HTTP: first answer).
    connected: u64,
    /// Clients done with connecting and syncing (whether or not they managed).
    ready: usize,
}

type Shared = Arc<Mutex<HashMap<Design, Observed>>>;

fn record(obs: &Shared, t: Design, f: impl FnOnce(&mut Observed)) {
    f(obs.lock().unwrap().entry(t).or_default());
}

/// A tiny LCG in 0..1 (schedules only; not worth a dependency).
fn rng(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

/// The `at` of a state body (the changes here are Running with unique starts).
fn at_of(body: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(body).ok()?["at"].as_u64()
}

/// The min-RTT rule over a burst of 12 time samples 30–70 ms apart.
#[derive(Default)]
struct MinRtt {
    /// (round trip µs, offset error µs) of the best sample so far.
    best: Option<(u64, f64)>,
}

impl MinRtt {
    const SAMPLES: usize = 12;

    /// A sample: sent at host `t1`, beacon time `t`, answered at host `t4` (µs).
    fn add(&mut self, t1: u64, t: u64, t4: u64) {
        let err = t as f64 - (t1 + t4) as f64 / 2.0; // the host clock is the beacon clock
        if self.best.is_none_or(|(r, _)| t4 - t1 < r) {
            self.best = Some((t4 - t1, err));
        }
    }

    /// Waits until the next sample is due.
    async fn pause(seed: &mut u64) {
        tokio::time::sleep(Duration::from_millis(30 + (rng(seed) * 40.0) as u64)).await;
    }

    /// The estimate's error, µs (estimate − truth).
    fn error(&self) -> Option<f64> {
        self.best.map(|b| b.1)
    }
}

type Pending = Mutex<HashMap<u32, oneshot::Sender<u64>>>;

/// One WebTransport time request; the beacon µs of its reply (`None` after 3 s).
async fn wt_time(c: &wtransport::Connection, pending: &Pending, id: u32) -> Option<u64> {
    let (tx, rx) = oneshot::channel();
    pending.lock().unwrap().insert(id, tx);
    let _ = c.send_datagram(wt_wire::time_request(id, 0.0));
    tokio::time::timeout(Duration::from_secs(3), rx)
        .await
        .ok()?
        .ok()
}

/// One `/t` on `conn` (reconnected if spent); its beacon µs.
async fn http_time(
    conn: &mut Option<sim::http_client::Conn>,
    addr: std::net::SocketAddr,
) -> Option<u64> {
    if conn.as_ref().is_none_or(|c| !c.is_reusable()) {
        *conn = setup::connect(addr).await;
    }
    let r = setup::get(conn.as_mut()?, "/t", &[]).await?;
    (r.status == 200).then_some(())?;
    serde_json::from_slice::<Value>(&r.body).ok()?["t"].as_u64()
}

async fn wt_client(
    s: Arc<Setup>,
    ep: Arc<wtransport::Endpoint<wtransport::endpoint::endpoint_side::Client>>,
    obs: Shared,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) {
    let t = Design::WebTransport;
    let Some(c) = s.wt_connect(&ep).await else {
        record(&obs, t, |o| o.ready += 1);
        return;
    };
    record(&obs, t, |o| o.connected += 1);
    let c = Arc::new(c);
    let pending: Arc<Pending> = Arc::default();
    let reader = {
        let (c, pending, obs) = (c.clone(), pending.clone(), obs.clone());
        tokio::spawn(async move {
            let mut last = None;
            while let Ok(d) = c.receive_datagram().await {
                if d.first() == Some(&b'{') {
                    if let Some(at) = at_of(&d)
                        && last != Some(at)
                    {
                        last = Some(at);
                        record(&obs, t, |o| o.seen.push((at, now_us())));
                    }
                } else if let Some((id, _, us)) = wt_wire::parse_time_reply(&d)
                    && let Some(tx) = pending.lock().unwrap().remove(&id)
                {
                    let _ = tx.send(us);
                }
            }
        })
    };
    let mut seed = seed;
    let mut sync = MinRtt::default();
    for id in 0..MinRtt::SAMPLES as u32 {
        let t1 = now_us();
        if let Some(t) = wt_time(&c, &pending, id).await {
            sync.add(t1, t, now_us());
        }
        MinRtt::pause(&mut seed).await;
    }
    record(&obs, t, |o| {
        o.ready += 1;
        o.sync.extend(sync.error());
    });
    let _ = stop.wait_for(|s| *s).await;
    reader.abort();
}

async fn http_client(
    s: Arc<Setup>,
    t: Design,
    obs: Shared,
    seed: u64,
    mut stop: watch::Receiver<bool>,
) {
    let mut seed = seed;
    // Arrivals spread over a second, like a hall of phones.
    tokio::time::sleep(Duration::from_millis((rng(&mut seed) * 1000.0) as u64)).await;
    let mut conn = setup::connect(s.http).await;
    let mut connected = false;
    let mut sync = MinRtt::default();
    for _ in 0..MinRtt::SAMPLES {
        let t1 = now_us();
        if let Some(t) = http_time(&mut conn, s.http).await {
            sync.add(t1, t, now_us());
        }
        MinRtt::pause(&mut seed).await;
    }
    record(&obs, t, |o| {
        o.ready += 1;
        o.sync.extend(sync.error());
    });
    let (mut etag, mut poll_ms, mut last, mut version) =
        (None::<String>, 1000.0, None::<u64>, None::<u64>);
    loop {
        if conn.as_ref().is_none_or(|c| !c.is_reusable()) {
            conn = setup::connect(s.http).await;
        }
        let path = match version {
            Some(v) if t == Design::LongPoll => format!("/s?after={v}"),
            _ => "/s".to_string(),
        };
        let inm: Vec<(&str, &str)> = etag
            .as_deref()
            .map(|e| ("If-None-Match", e))
            .into_iter()
            .collect();
        let answer = async {
            let c = conn.as_mut()?;
            // A parked request is held up to 30 s by the relay.
            tokio::time::timeout(Duration::from_secs(35), c.get("127.0.0.1", &path, &inm))
                .await
                .ok()?
                .ok()
        };
        let answer = tokio::select! {
            a = answer => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let mut wait = true;
        match answer {
            Some(r) if r.status == 200 => {
                if !connected {
                    connected = true;
                    record(&obs, t, |o| o.connected += 1);
                }
                let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                poll_ms = v["poll"].as_f64().unwrap_or(1000.0);
                version = v["v"].as_u64();
                if let Some(at) = v["at"].as_u64()
                    && last != Some(at)
                {
                    last = Some(at);
                    record(&obs, t, |o| o.seen.push((at, now_us())));
                }
                etag = r.header("etag").map(str::to_string);
                wait = t == Design::Polling || version.is_none();
            }
            Some(r) if r.status == 304 => wait = t == Design::Polling || version.is_none(),
            _ => conn = None,
        }
        if wait {
            let d = Duration::from_millis((poll_ms * (0.8 + 0.4 * rng(&mut seed))) as u64);
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

/// Runs the benchmark; prints the table and returns the JSON record.
pub async fn run(common: &Common, a: LatencyArgs) -> anyhow::Result<Vec<Value>> {
    let (n, k) = (a.clients, a.changes);
    let s = Arc::new(Setup::start(common, &a.impair).await?);
    let mut b = Beacon::new(s.group, s.mport)?;
    let standby = State::Standby {
        cue: "chase".into(),
    };
    // The relay needs a steady beacon (health, clock): repeat the current state every 200 ms.
    let (state_tx, mut state_rx) = watch::channel(standby);
    let beacon_task = tokio::spawn(async move {
        loop {
            let st = state_rx.borrow_and_update().clone();
            b.send(st);
            tokio::select! {
                r = state_rx.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let obs: Shared = Arc::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let ep = Arc::new(s.wt_endpoint()?);
    for i in 0..n {
        let seed = i as u64 + 1;
        tasks.spawn(wt_client(
            s.clone(),
            ep.clone(),
            obs.clone(),
            seed,
            stop_rx.clone(),
        ));
        for (j, t) in [Design::LongPoll, Design::Polling].into_iter().enumerate() {
            let seed = 1000 * (j as u64 + 1) + i as u64;
            tasks.spawn(http_client(
                s.clone(),
                t,
                obs.clone(),
                seed,
                stop_rx.clone(),
            ));
        }
    }
    // Let everyone connect and sync, then fire the changes 2.5–3.5 s apart (longer than a poll).
    let t0 = Instant::now();
    let all_in = || {
        let o = obs.lock().unwrap();
        Design::ALL
            .iter()
            .all(|t| o.get(t).is_some_and(|o| o.ready >= n))
    };
    while !all_in() && t0.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut emits = Vec::new(); // (at, sent µs)
    for _ in 0..k {
        let sent = now_us();
        let at = sent + 2_000_000;
        emits.push((at, sent));
        let _ = state_tx.send(State::Running {
            cue: "chase".into(),
            start_us: at,
        });
        tokio::time::sleep(Duration::from_millis(2500 + now_us() % 1000)).await;
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    beacon_task.abort();

    let im = &a.impair;
    println!(
        "impair: delay {} ms, jitter {} ms, loss {}; {n} clients per transport, {} changes",
        im.delay_ms,
        im.jitter_ms,
        im.loss,
        emits.len()
    );
    println!(
        "| transport | connected | changes seen | delivery p50 ms | p95 ms | p99 ms | max ms | sync |err| p50 ms | p95 ms | p99 ms |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let expected = emits.len() * n;
    let obs = obs.lock().unwrap();
    let mut rows = Vec::new();
    for t in Design::ALL {
        let empty = Observed::default();
        let o = obs.get(&t).unwrap_or(&empty);
        let delivery: Vec<f64> = emits
            .iter()
            .flat_map(|(at, sent)| {
                o.seen
                    .iter()
                    .filter(move |(a, _)| a == at)
                    .map(move |(_, seen)| (*seen as f64 - *sent as f64) / 1000.0)
            })
            .collect();
        let seen = delivery.len();
        let d = Summary::of(delivery);
        let sy = Summary::of(o.sync.iter().map(|e| e.abs() / 1000.0).collect());
        println!(
            "| {} | {}/{n} | {seen}/{expected} | {} | {} | {} | {} | {} | {} | {} |",
            t.label(),
            o.connected,
            f(d.p50, 1),
            f(d.p95, 1),
            f(d.p99, 1),
            f(d.max, 1),
            f(sy.p50, 3),
            f(sy.p95, 3),
            f(sy.p99, 3)
        );
        rows.push(json!({
            "transport": t.name(), "connected": o.connected, "seen": seen, "expected": expected,
            "delivery_ms": d, "sync_abs_ms": sy,
        }));
    }
    Ok(vec![json!({
        "mode": "latency", "clients": n, "changes": emits.len(),
        "delay_ms": im.delay_ms, "jitter_ms": im.jitter_ms, "loss": im.loss,
        "results": rows,
    })])
}

fn f(x: Option<f64>, digits: usize) -> String {
    x.map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// Nearest-rank percentiles of a sample (`sim::report::percentile`, the tree's one rule).
#[derive(serde::Serialize)]
pub struct Summary {
    n: usize,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    max: Option<f64>,
}

impl Summary {
    fn of(mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        let p = |q| sim::report::percentile(&v, q);
        Summary {
            n: v.len(),
            p50: p(50.0),
            p95: p(95.0),
            p99: p(99.0),
            max: v.last().copied(),
        }
    }
}
