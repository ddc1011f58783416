//! Join storm: phones arrive over `--ramp-s` and each does what the page does on joining —
//! captive probe, page and its assets, `/s`, the compiled show, a burst of `/t` — then polls
//! `/s`. Figures: errors, and the time from arrival to the first synced frame (state, show and
//! one clock sample in hand: the page renders from then on) and to the end of the join burst.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;

use sim::http_client::Response;
use sim::phone::split_http_url as split_url;

use crate::client::{BROWSER_HEADERS, Client, Failure};
use crate::net::{Kind, Sources, bytes_snapshot};
use crate::stats::{now_us, summary};

/// The run's parameters.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Relays; phone `i` uses relay `i % len`.
    pub targets: Vec<SocketAddr>,
    /// Phones in this process.
    pub phones: usize,
    /// Index of this process's first phone.
    pub first_phone: usize,
    /// Host time (µs) of t = 0.
    pub start_us: i64,
    /// Phones arrive evenly over this many seconds.
    pub ramp_s: f64,
    /// End, seconds after t = 0.
    pub end_s: f64,
    /// Source addresses.
    pub sources: Sources,
    /// Captive probe: Host and path.
    pub probe: (String, String),
    /// Page assets fetched after the page (paths).
    pub assets: Vec<String>,
    /// `/t` samples in the join burst.
    pub join_burst: u32,
    /// Per-request timeout.
    pub timeout: Duration,
}

#[derive(Default, Clone, Debug)]
struct Phone {
    arrive_us: i64,
    page_us: Option<i64>,
    frame_us: Option<i64>,
    burst_us: Option<i64>,
    /// connect, io, timeout, status
    errors: [u64; 4],
    requests: u64,
}

/// Runs the storm; returns the figures as JSON.
pub async fn run(plan: Plan) -> anyhow::Result<Value> {
    let delay_us = (plan.start_us - now_us()).max(0) as u64;
    let t0 = Instant::now() + Duration::from_micros(delay_us);
    let phones: Arc<Vec<Mutex<Phone>>> = Arc::new(
        (0..plan.phones)
            .map(|_| Mutex::new(Phone::default()))
            .collect(),
    );
    let plan = Arc::new(plan);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..plan.phones {
        let (plan, phones) = (plan.clone(), phones.clone());
        let when = t0 + Duration::from_secs_f64(plan.ramp_s * i as f64 / plan.phones as f64);
        tasks.spawn(async move {
            tokio::time::sleep_until(when).await;
            phone(&plan, i, &phones[i]).await;
        });
    }
    tokio::time::sleep_until(t0 + Duration::from_secs_f64(plan.end_s)).await;
    tasks.abort_all();
    let all: Vec<Phone> = phones
        .iter()
        .map(|p| p.lock().expect("phone").clone())
        .collect();
    let ms = |f: fn(&Phone) -> Option<i64>| -> Vec<f64> {
        all.iter()
            .filter_map(|p| f(p).map(|t| (t - p.arrive_us) as f64 / 1000.0))
            .collect()
    };
    let to_page = ms(|p| p.page_us);
    let to_frame = ms(|p| p.frame_us);
    let to_burst = ms(|p| p.burst_us);
    let raw_frame = to_frame.clone();
    let raw_burst = to_burst.clone();
    let sum_err = |k: usize| all.iter().map(|p| p.errors[k]).sum::<u64>();
    let bytes = bytes_snapshot();
    Ok(json!({
        "phones": plan.phones,
        "arrived": all.iter().filter(|p| p.arrive_us != 0).count(),
        "page_ok": to_page.len(),
        "first_frame": to_frame.len(),
        "burst_done": to_burst.len(),
        "phones_with_errors": all.iter().filter(|p| p.errors.iter().sum::<u64>() > 0).count(),
        "errors": {"connect": sum_err(0), "io": sum_err(1), "timeout": sum_err(2), "status": sum_err(3)},
        "requests": all.iter().map(|p| p.requests).sum::<u64>(),
        "to_page_ms": summary(to_page),
        "to_first_frame_ms": summary(to_frame),
        "to_burst_done_ms": summary(to_burst),
        "raw_first_frame_ms": raw_frame,
        "raw_burst_done_ms": raw_burst,
        "bytes": {"setup_rx": bytes[0][0], "setup_tx": bytes[0][1], "state_rx": bytes[1][0], "time_rx": bytes[2][0]},
    }))
}

struct Ctx<'a> {
    plan: &'a Plan,
    me: &'a Mutex<Phone>,
    target: SocketAddr,
    src: Option<std::net::IpAddr>,
    conn: Option<Client>,
    rng: StdRng,
    failures: u32,
}

impl Ctx<'_> {
    async fn get(
        &mut self,
        kind: Kind,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, usize> {
        self.me.lock().expect("phone").requests += 1;
        if !self.conn.as_ref().is_some_and(Client::is_reusable) {
            self.conn = Some(
                Client::connect(self.target, self.src, kind)
                    .await
                    .map_err(|f| f as usize)?,
            );
        }
        let c = self.conn.as_mut().expect("connected");
        let result = c.get(kind, host, path, headers, self.plan.timeout).await;
        if !c.is_reusable() {
            self.conn = None;
        }
        result.map_err(|f| f as usize)
    }

    /// Counts a failure and waits the page's backoff.
    async fn fail(&mut self, kind: usize) {
        self.me.lock().expect("phone").errors[kind] += 1;
        self.failures += 1;
        let ceiling =
            (500.0 * 2f64.powi(self.failures.saturating_sub(1).min(20) as i32)).min(8000.0);
        let ms = (ceiling * self.rng.random::<f64>()).max(50.0);
        tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
    }

    /// GET until it answers `200`.
    async fn get_ok(
        &mut self,
        kind: Kind,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Response {
        loop {
            match self.get(kind, host, path, headers).await {
                Ok(r) if r.status == 200 => {
                    self.failures = 0;
                    return r;
                }
                Ok(_) => self.fail(Failure::Status as usize).await,
                Err(k) => self.fail(k).await,
            }
        }
    }
}

async fn phone(plan: &Plan, i: usize, me: &Mutex<Phone>) {
    me.lock().expect("phone").arrive_us = now_us();
    let idx = plan.first_phone + i;
    let target = plan.targets[idx % plan.targets.len()];
    let mut cx = Ctx {
        plan,
        me,
        target,
        src: plan.sources.for_client(idx),
        conn: None,
        rng: StdRng::seed_from_u64(idx as u64 * 104729 + 3),
        failures: 0,
    };
    let relay_host = target.to_string();
    // 1. Captive probe (Android's), answered with a redirect or a page.
    let probe_ua = [
        ("User-Agent", "Dalvik/2.1.0 (Linux; U; Android 14)"),
        ("Connection", "keep-alive"),
    ];
    let (page_host, page_path) = loop {
        match cx
            .get(Kind::Setup, &plan.probe.0, &plan.probe.1, &probe_ua)
            .await
        {
            Ok(r) if (300..400).contains(&r.status) => {
                break r
                    .header("location")
                    .and_then(split_url)
                    .unwrap_or((relay_host.clone(), "/".into()));
            }
            Ok(r) if r.status == 200 && r.body.len() > 4 => break (relay_host.clone(), "/".into()),
            Ok(_) => cx.fail(3).await,
            Err(k) => cx.fail(k).await,
        }
    };
    // 2. The page and its assets.
    cx.get_ok(Kind::Setup, &page_host, &page_path, BROWSER_HEADERS)
        .await;
    for asset in &plan.assets {
        cx.get_ok(Kind::Setup, &page_host, asset, BROWSER_HEADERS)
            .await;
    }
    me.lock().expect("phone").page_us = Some(now_us());
    // 3. State, then the show it names.
    let (show, mut etag, mut poll_ms) = loop {
        let r = cx
            .get_ok(Kind::State, &page_host, "/s", BROWSER_HEADERS)
            .await;
        let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let poll = v.get("poll").and_then(Value::as_f64).unwrap_or(1000.0);
        if let Some(show) = v.get("show").and_then(Value::as_str) {
            break (show.to_string(), r.header("etag").map(str::to_string), poll);
        }
        tokio::time::sleep(Duration::from_secs_f64(poll / 1000.0)).await;
    };
    let show_path = split_url(&show).map(|(_, p)| p).unwrap_or(show);
    cx.get_ok(Kind::Setup, &page_host, &show_path, BROWSER_HEADERS)
        .await;
    // 4. The join burst of /t: the first answer makes the phone synced (first frame).
    for _ in 0..plan.join_burst {
        let sent = Instant::now();
        match cx.get(Kind::Time, &page_host, "/t", BROWSER_HEADERS).await {
            Ok(r) if r.status == 200 => {
                let mut p = me.lock().expect("phone");
                if p.frame_us.is_none() {
                    p.frame_us = Some(now_us());
                }
            }
            Ok(_) => me.lock().expect("phone").errors[3] += 1,
            Err(k) => me.lock().expect("phone").errors[k] += 1,
        }
        let gap = Duration::from_secs_f64((30.0 + 40.0 * cx.rng.random::<f64>()) / 1000.0);
        tokio::time::sleep_until(sent + gap).await;
    }
    {
        let mut p = me.lock().expect("phone");
        if p.frame_us.is_some() {
            p.burst_us = Some(now_us());
        }
    }
    // 5. Then poll /s like the page until the run ends.
    loop {
        tokio::time::sleep(Duration::from_secs_f64(
            poll_ms.clamp(250.0, 30000.0) * (0.8 + 0.4 * cx.rng.random::<f64>()) / 1000.0,
        ))
        .await;
        let mut headers = BROWSER_HEADERS.to_vec();
        let tag = etag.clone().unwrap_or_default();
        if etag.is_some() {
            headers.push(("If-None-Match", tag.as_str()));
        }
        match cx.get(Kind::State, &page_host, "/s", &headers).await {
            Ok(r) if r.status == 200 => {
                etag = r.header("etag").map(str::to_string);
                if let Ok(v) = serde_json::from_slice::<Value>(&r.body) {
                    poll_ms = v.get("poll").and_then(Value::as_f64).unwrap_or(1000.0);
                }
                cx.failures = 0;
            }
            Ok(r) if r.status == 304 => cx.failures = 0,
            Ok(_) => cx.fail(3).await,
            Err(k) => cx.fail(k).await,
        }
    }
}
