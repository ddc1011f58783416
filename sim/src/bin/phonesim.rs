//! `phonesim`: plays N phones against one or more relays and reports their clock error and the
//! cue start each would render; `phonesim relays` checks that relays agree; `phonesim vectors`
//! prints the clock-sync test vectors.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::http_client::Conn;
use sim::phone::{PhoneConfig, PhoneStatus, Relay, host_now_us, random_clock};
use sim::poll::Rules;
use sim::report::{one_line, rates, rates_line, summarise};

/// Crowdlight phone simulator.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate phones: captive probe, page, /s, show, /t bursts, /s long-polls; report figures.
    Run(Box<RunArgs>),
    /// Check that relays answer /s identically and that their /t agree.
    Relays(RelaysArgs),
    /// Print the clock-sync test vectors (the content of sim/vectors/sync.json).
    Vectors,
    /// GET one URL (`http://host:port/path`) and print the body; exit 1 unless 2xx/3xx.
    Get(GetArgs),
}

#[derive(Debug, clap::Args)]
struct GetArgs {
    /// The URL (plain http, numeric host or resolvable name).
    url: String,
    /// Print only the status code.
    #[arg(long)]
    status: bool,
    /// Timeout, ms.
    #[arg(long, default_value_t = 3000)]
    timeout_ms: u64,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Relay address (repeat for several; phone i starts on relay i mod count, fails over in order).
    #[arg(long = "relay", required = true)]
    relays: Vec<SocketAddr>,
    /// `Host` header for page requests (default: the relay address).
    #[arg(long)]
    host: Option<String>,
    /// Number of phones (1..=20000).
    #[arg(long, default_value_t = 100)]
    phones: usize,
    /// Total run time, seconds (1..=3600).
    #[arg(long, default_value_t = 30.0)]
    duration_s: f64,
    /// Phones join spread evenly over this many seconds.
    #[arg(long, default_value_t = 5.0)]
    ramp_s: f64,
    /// First source address to bind; phones cycle through --sources addresses. Default:
    /// 127.0.1.1 when every relay is on loopback (no port exhaustion with thousands of phones).
    #[arg(long)]
    source_base: Option<Ipv4Addr>,
    /// Number of source addresses from --source-base.
    #[arg(long, default_value_t = 200)]
    sources: u32,
    /// RNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Largest phone oscillator drift, ppm (uniform ±).
    #[arg(long, default_value_t = 50.0)]
    drift_ppm: f64,
    /// performance.now() resolution, ms (Chrome 0.1, Safari/Firefox 1).
    #[arg(long, default_value_t = 0.1)]
    quantum_ms: f64,
    /// Per-request timeout, ms (the page's POLL_TIMEOUT_MS); a parked `/s?after=` request has
    /// the page's 35 s.
    #[arg(long, default_value_t = 4000)]
    timeout_ms: u64,
    /// The likely clock error the page's `/t` schedule keeps within, ms, whatever the cue
    /// (default: what the show and the current cue ask for, as the page does).
    #[arg(long)]
    sync_budget_ms: Option<f64>,
    /// Also record the clock error and the request rates at this many seconds after the start
    /// (repeatable; written to the JSON report under `snapshots`).
    #[arg(long = "snapshot-at-s")]
    snapshot_at_s: Vec<f64>,
    /// Requests and bytes per phone per minute are measured over the run's last this many
    /// seconds (the steady state when the run is long enough).
    #[arg(long, default_value_t = 30.0)]
    rate_window_s: f64,
    /// Fail unless every phone long-polls (`/s?after=`) by the end.
    #[arg(long)]
    require_long_poll: bool,
    /// Fail when the phones send more than this many requests per phone per minute over the
    /// rate window.
    #[arg(long)]
    max_requests_per_min: Option<f64>,
    /// Print a progress line every this many seconds (0 = never).
    #[arg(long, default_value_t = 10.0)]
    report_every_s: f64,
    /// Write the JSON report (summary + one row per phone) here; `-` for stdout.
    #[arg(long)]
    json: Option<String>,
    /// Fail (exit 1) when the p95 absolute clock error exceeds this, ms.
    #[arg(long)]
    max_p95_ms: Option<f64>,
    /// Fail when the p99 absolute clock error exceeds this, ms.
    #[arg(long)]
    max_p99_ms: Option<f64>,
    /// Fail when any phone saw its running cue restart or disappear.
    #[arg(long)]
    require_steady_cue: bool,
    /// Fail when a phone was cut off longer than this (first failed request to the next good
    /// answer), ms.
    #[arg(long)]
    max_gap_ms: Option<f64>,
    /// Fail when fewer phones than this fraction (0..1) are synced with the show at the end.
    #[arg(long, default_value_t = 0.0)]
    min_synced: f64,
    /// Fail unless every phone joined (captive probe opened the portal, page and show fetched).
    #[arg(long)]
    require_join: bool,
    /// Fail unless every phone that started on this relay (index) ended on another one.
    #[arg(long)]
    require_moved_from: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct RelaysArgs {
    /// Relay addresses (two or more).
    #[arg(long = "relay", required = true)]
    relays: Vec<SocketAddr>,
    /// `/t` exchanges per relay.
    #[arg(long, default_value_t = 20)]
    samples: u32,
    /// Fail when the relays' /t offsets differ by more than this, ms.
    #[arg(long, default_value_t = 1.0)]
    max_t_diff_ms: f64,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command {
        Command::Run(args) => rt.block_on(run(*args)),
        Command::Relays(args) => rt.block_on(relays(args)),
        Command::Get(args) => rt.block_on(get(args)),
        Command::Vectors => {
            print!("{}", sim::vectors::to_json());
            Ok(())
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    if !(1..=20_000).contains(&args.phones) {
        bail!("--phones must be 1..=20000");
    }
    if !(args.duration_s >= 1.0 && args.duration_s <= 3600.0) {
        bail!("--duration-s must be 1..=3600");
    }
    if !(args.ramp_s >= 0.0 && args.ramp_s < args.duration_s) {
        bail!("--ramp-s must be >= 0 and shorter than --duration-s");
    }
    let relays: Arc<Vec<Relay>> = Arc::new(
        args.relays
            .iter()
            .map(|a| Relay {
                addr: *a,
                host: args.host.clone().unwrap_or_else(|| a.to_string()),
            })
            .collect(),
    );
    let source_base = args.source_base.or_else(|| {
        args.relays
            .iter()
            .all(|a| a.ip().is_loopback() && a.is_ipv4())
            .then_some(Ipv4Addr::new(127, 0, 1, 1))
    });
    let mut rng = StdRng::seed_from_u64(args.seed);
    let anchor = host_now_us();
    let start = tokio::time::Instant::now();
    let end = start + Duration::from_secs_f64(args.duration_s);
    let statuses: Vec<Arc<Mutex<PhoneStatus>>> = (0..args.phones)
        .map(|_| Arc::new(Mutex::new(PhoneStatus::default())))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, status) in statuses.iter().enumerate() {
        let source = source_base.map(|base| {
            IpAddr::V4(Ipv4Addr::from(
                u32::from(base) + (i as u32 % args.sources.max(1)),
            ))
        });
        let cfg = PhoneConfig {
            relays: relays.clone(),
            first_relay: i % relays.len(),
            source,
            clock: random_clock(&mut rng, args.drift_ppm, args.quantum_ms, anchor),
            rules: Rules::default(),
            seed: rng.random(),
            timeout: Duration::from_millis(args.timeout_ms),
            sync_budget_ms: args.sync_budget_ms,
        };
        let delay = Duration::from_secs_f64(args.ramp_s * i as f64 / args.phones as f64);
        let status = status.clone();
        tasks.spawn(async move {
            tokio::time::sleep_until(start + delay).await;
            sim::phone::run(cfg, status).await;
        });
    }
    let snapshot = || -> Vec<PhoneStatus> {
        statuses
            .iter()
            .map(|s| s.lock().expect("status lock").clone())
            .collect()
    };
    let every = (args.report_every_s > 0.0).then(|| Duration::from_secs_f64(args.report_every_s));
    let window_s = args.rate_window_s.clamp(1.0, args.duration_s);
    let window_start = end - Duration::from_secs_f64(window_s);
    let mut window_snapshot = None;
    let mut marks: Vec<f64> = args
        .snapshot_at_s
        .iter()
        .copied()
        .filter(|s| *s > 0.0 && *s <= args.duration_s)
        .collect();
    marks.sort_by(f64::total_cmp);
    let mut marks = marks.into_iter().peekable();
    let mut snapshots = Vec::new();
    let mut last_mark = (snapshot(), start);
    loop {
        let mut next = every.map_or(end, |e| (tokio::time::Instant::now() + e).min(end));
        if window_snapshot.is_none() {
            next = next.min(window_start);
        }
        if let Some(at) = marks.peek() {
            next = next.min(start + Duration::from_secs_f64(*at));
        }
        tokio::time::sleep_until(next).await;
        if let Some(at) = marks.peek().copied()
            && tokio::time::Instant::now() >= start + Duration::from_secs_f64(at)
        {
            marks.next();
            let now_all = snapshot();
            let (sum, _) = summarise(&now_all, host_now_us());
            let since = last_mark.1.elapsed().as_secs_f64();
            let rate = rates(&last_mark.0, &now_all, since);
            eprintln!(
                "phonesim snapshot t={at}s {} | {}",
                one_line(&sum),
                rates_line(&rate)
            );
            snapshots.push(
                serde_json::json!({ "at_s": at, "summary": sum, "rates_since_previous": rate }),
            );
            last_mark = (now_all, tokio::time::Instant::now());
            continue;
        }
        if window_snapshot.is_none() && tokio::time::Instant::now() >= window_start {
            window_snapshot = Some((snapshot(), tokio::time::Instant::now()));
            continue;
        }
        if tokio::time::Instant::now() >= end {
            break;
        }
        let (sum, _) = summarise(&snapshot(), host_now_us());
        eprintln!(
            "phonesim t={:>5.1}s {}",
            start.elapsed().as_secs_f64(),
            one_line(&sum)
        );
    }
    let now = host_now_us();
    let all = snapshot();
    tasks.abort_all();
    let (sum, rows) = summarise(&all, now);
    let rate = window_snapshot.map(|(a, at)| rates(&a, &all, at.elapsed().as_secs_f64()));
    println!("phonesim final: {}", one_line(&sum));
    if let Some(r) = &rate {
        println!("phonesim rates: {}", rates_line(r));
    }
    for relay in 0..relays.len() {
        let group: Vec<_> = rows.iter().filter(|r| r.first_relay == relay).collect();
        let mut errs: Vec<f64> = group
            .iter()
            .filter_map(|r| r.clock_error_ms.map(f64::abs))
            .collect();
        errs.sort_by(f64::total_cmp);
        let fmt = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.2}"));
        println!(
            "phonesim started on relay {relay} ({}): {} phones, {} moved, clock error ms p95 {} \
             p99 {}, longest gap ms {}",
            relays[relay].addr,
            group.len(),
            group.iter().filter(|r| r.relay != relay).count(),
            fmt(sim::report::percentile(&errs, 95.0)),
            fmt(sim::report::percentile(&errs, 99.0)),
            fmt(group.iter().map(|r| r.max_gap_ms).reduce(f64::max)),
        );
    }
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "summary": sum, "rates": rate, "snapshots": snapshots, "phones": rows,
        });
        let text = serde_json::to_string_pretty(&doc)?;
        if path == "-" {
            println!("{text}");
        } else {
            std::fs::write(path, text).with_context(|| format!("writing {path}"))?;
        }
    }
    let mut broken = Vec::new();
    let synced_fraction = sum.synced as f64 / sum.phones as f64;
    if synced_fraction < args.min_synced {
        broken.push(format!(
            "only {} of {} phones synced",
            sum.synced, sum.phones
        ));
    }
    if let Some(max) = args.max_p95_ms {
        match sum.err_p95_ms {
            Some(v) if v <= max => {}
            v => broken.push(format!("p95 clock error {v:?} ms > {max} ms")),
        }
    }
    if let Some(max) = args.max_p99_ms {
        match sum.err_p99_ms {
            Some(v) if v <= max => {}
            v => broken.push(format!("p99 clock error {v:?} ms > {max} ms")),
        }
    }
    if let Some(max) = args.max_gap_ms {
        match sum.gap_max_ms {
            Some(v) if v <= max => {}
            v => broken.push(format!("longest gap without answers {v:?} ms > {max} ms")),
        }
    }
    if args.require_join
        && (sum.captive_ok < sum.phones || sum.page_ok < sum.phones || sum.show_ok < sum.phones)
    {
        broken.push(format!(
            "not every phone joined: captive {} page {} show {} of {}",
            sum.captive_ok, sum.page_ok, sum.show_ok, sum.phones
        ));
    }
    if let Some(relay) = args.require_moved_from {
        let stuck = rows
            .iter()
            .filter(|r| r.first_relay == relay && r.relay == relay)
            .count();
        if stuck > 0 {
            broken.push(format!("{stuck} phones never left relay {relay}"));
        }
    }
    if args.require_steady_cue && (sum.phones_cue_restarted > 0 || sum.phones_cue_lost > 0) {
        broken.push(format!(
            "{} phones saw the cue restart, {} lost it",
            sum.phones_cue_restarted, sum.phones_cue_lost
        ));
    }
    if args.require_long_poll && sum.long_polling < sum.phones {
        broken.push(format!(
            "only {} of {} phones long-poll",
            sum.long_polling, sum.phones
        ));
    }
    if let Some(max) = args.max_requests_per_min {
        match &rate {
            Some(r) if r.requests_per_phone_min <= max => {}
            r => broken.push(format!(
                "requests per phone per minute {:?} > {max}",
                r.as_ref().map(|r| r.requests_per_phone_min)
            )),
        }
    }
    if !broken.is_empty() {
        eprintln!("phonesim: bounds broken: {}", broken.join("; "));
        std::process::exit(1);
    }
    Ok(())
}

/// Best `/t` offset (server − host clock, µs) of one relay and its half round trip.
async fn relay_offset(addr: SocketAddr, samples: u32) -> anyhow::Result<(f64, f64)> {
    let mut conn = Conn::connect(addr, None)
        .await
        .with_context(|| format!("connecting {addr}"))?;
    let host = addr.to_string();
    let mut best: Option<(f64, f64)> = None;
    for _ in 0..samples {
        let t1 = host_now_us();
        let resp = conn.get(&host, "/t", &[]).await?;
        let t4 = host_now_us();
        let v: serde_json::Value =
            serde_json::from_slice(&resp.body).with_context(|| format!("{addr}/t: not JSON"))?;
        let t = v["t"]
            .as_f64()
            .with_context(|| format!("{addr}/t: no number t"))?;
        let offset = t - (t1 + t4) as f64 / 2.0;
        let half = (t4 - t1) as f64 / 2.0;
        if best.is_none_or(|(_, h)| half < h) {
            best = Some((offset, half));
        }
    }
    best.context("no /t samples")
}

async fn relays(args: RelaysArgs) -> anyhow::Result<()> {
    if args.relays.len() < 2 {
        bail!("give at least two --relay");
    }
    // /s: identical bodies and ETags (retry: the state may change between two requests).
    let mut same = false;
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.clear();
        for addr in &args.relays {
            let mut conn = Conn::connect(*addr, None)
                .await
                .with_context(|| format!("connecting {addr}"))?;
            let r = conn.get(&addr.to_string(), "/s", &[]).await?;
            answers.push((
                r.status,
                r.header("etag").map(str::to_string),
                String::from_utf8_lossy(&r.body).into_owned(),
            ));
        }
        if answers.windows(2).all(|w| w[0] == w[1]) {
            same = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (addr, (status, etag, body)) in args.relays.iter().zip(&answers) {
        println!("relay {addr} /s {status} etag {etag:?} {body}");
    }
    let mut offsets = Vec::new();
    for addr in &args.relays {
        let (off, half) = relay_offset(*addr, args.samples).await?;
        println!(
            "relay {addr} /t offset vs host clock {:+.3} ms (± {:.3} ms)",
            off / 1000.0,
            half / 1000.0
        );
        offsets.push(off);
    }
    let lo = offsets.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = offsets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let diff_ms = (hi - lo) / 1000.0;
    println!(
        "relays: /s identical: {same}; /t spread {diff_ms:.3} ms (bound {} ms)",
        args.max_t_diff_ms
    );
    if !same {
        eprintln!("phonesim relays: relays answer /s differently");
        std::process::exit(1);
    }
    if diff_ms > args.max_t_diff_ms {
        eprintln!("phonesim relays: /t differ by {diff_ms:.3} ms");
        std::process::exit(1);
    }
    Ok(())
}

async fn get(args: GetArgs) -> anyhow::Result<()> {
    let (host, path) = sim::phone::split_http_url(&args.url)
        .with_context(|| format!("not a plain http URL: {}", args.url))?;
    let addr = tokio::net::lookup_host(if host.contains(':') {
        host.clone()
    } else {
        format!("{host}:80")
    })
    .await?
    .next()
    .with_context(|| format!("cannot resolve {host}"))?;
    let work = async {
        let mut conn = Conn::connect(addr, None).await?;
        conn.get(&host, &path, &[]).await
    };
    let resp = tokio::time::timeout(Duration::from_millis(args.timeout_ms), work)
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))??;
    if args.status {
        println!("{}", resp.status);
    } else {
        use std::io::Write;
        std::io::stdout().write_all(&resp.body)?;
    }
    if !(200..400).contains(&resp.status) {
        std::process::exit(1);
    }
    Ok(())
}
