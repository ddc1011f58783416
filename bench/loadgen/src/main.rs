//! `loadgen`: the client side of Crowdlight's benchmarks (see bench/README.md).
//!
//! - `poll` / `long-poll` / `ws` / `sse`: many clients of one delivery design on a shared
//!   timeline, with the server's RSS and CPU and the bytes on the wire measured over a window;
//! - `storm`: phones joining within a few seconds (probe, page, show, `/t` burst);
//! - `sync1`: single-sample clock sync, the baseline for the sync-accuracy benchmark.

mod client;
mod delivery;
mod net;
mod procstat;
mod stats;
mod storm;
mod sync1;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Crowdlight benchmark load generator")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Crowdlight pollers: GET /s with If-None-Match every `poll` ms (±20 %).
    Poll(DeliveryArgs),
    /// Crowdlight long-pollers: GET /s?after=v parked, re-parked at once; /t rides that connection.
    LongPoll(DeliveryArgs),
    /// WebSocket clients (ws://TARGET/).
    Ws(DeliveryArgs),
    /// Server-Sent Events clients (GET /events).
    Sse(DeliveryArgs),
    /// Join storm.
    Storm(StormArgs),
    /// Single-sample clock sync against /t.
    Sync1(Sync1Args),
}

#[derive(Args)]
struct Common {
    /// First source address (clients cycle through --sources addresses from it).
    #[arg(long, default_value = "127.0.1.1")]
    source_base: Ipv4Addr,
    /// Number of source addresses.
    #[arg(long, default_value_t = 100)]
    sources: u32,
    /// Write the JSON result here (default stdout).
    #[arg(long)]
    out: Option<String>,
}

#[derive(Args)]
struct DeliveryArgs {
    /// Server address; repeat it for Crowdlight clients to move to the next one when theirs
    /// refuses (WebSocket and SSE use the first).
    #[arg(long = "target", required = true)]
    targets: Vec<SocketAddr>,
    /// Clients in this process (1..=19000: the per-process open-file cap is 20,000).
    #[arg(long)]
    clients: usize,
    /// Index of the first client (when several processes share a run).
    #[arg(long, default_value_t = 0)]
    first_client: usize,
    /// Host time of t = 0, µs since the epoch (default: now).
    #[arg(long)]
    start_us: Option<i64>,
    /// Clients connect evenly over this many seconds.
    #[arg(long, default_value_t = 10.0)]
    ramp_s: f64,
    /// Measurement window start, s after t = 0.
    #[arg(long)]
    window_start_s: f64,
    /// Measurement window end, s after t = 0.
    #[arg(long)]
    window_end_s: f64,
    /// End, s after t = 0 (≤ 600).
    #[arg(long)]
    end_s: f64,
    /// The cue whose arrival is timed.
    #[arg(long)]
    cue: String,
    /// Time a lighting-desk colour instead of the cue: ZONE=#rrggbb as `/s` `live` shows it.
    #[arg(long, value_name = "ZONE=#RRGGBB")]
    live: Option<String>,
    /// Server process to watch (repeat).
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// /t exchanges per client per minute (poll and long-poll modes).
    #[arg(long, default_value_t = 0.0)]
    t_per_min: f64,
    /// Send only Host (and If-None-Match) instead of a phone browser's request headers.
    #[arg(long)]
    bare: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct StormArgs {
    /// Relay address (repeat: phone i uses relay i mod count).
    #[arg(long = "target", required = true)]
    targets: Vec<SocketAddr>,
    /// Phones in this process (1..=19000).
    #[arg(long)]
    phones: usize,
    /// Index of the first phone.
    #[arg(long, default_value_t = 0)]
    first_phone: usize,
    /// Host time of t = 0, µs since the epoch (default: now).
    #[arg(long)]
    start_us: Option<i64>,
    /// Phones arrive evenly over this many seconds.
    #[arg(long, default_value_t = 10.0)]
    ramp_s: f64,
    /// End, s after t = 0 (≤ 600).
    #[arg(long, default_value_t = 30.0)]
    end_s: f64,
    /// Captive probe Host header.
    #[arg(long, default_value = "connectivitycheck.gstatic.com")]
    probe_host: String,
    /// Captive probe path.
    #[arg(long, default_value = "/generate_204")]
    probe_path: String,
    /// Page assets to fetch after the page, comma-separated paths.
    #[arg(long, default_value = "")]
    assets: String,
    /// /t samples in the join burst (the page's JOIN_BURST).
    #[arg(long, default_value_t = 32)]
    join_burst: u32,
    /// Per-request timeout, ms (the page's POLL_TIMEOUT_MS).
    #[arg(long, default_value_t = 4000)]
    timeout_ms: u64,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Sync1Args {
    /// Where /t is (an impair proxy in front of the relay).
    #[arg(long)]
    target: SocketAddr,
    /// Phones.
    #[arg(long, default_value_t = 50)]
    phones: usize,
    /// Seconds to run (≤ 600).
    #[arg(long, default_value_t = 30.0)]
    duration_s: f64,
    /// Samples in the first seconds are not counted.
    #[arg(long, default_value_t = 2.0)]
    warmup_s: f64,
    /// Mean interval between one phone's samples, ms.
    #[arg(long, default_value_t = 1000.0)]
    interval_ms: f64,
    #[command(flatten)]
    common: Common,
}

fn sources(c: &Common) -> net::Sources {
    net::Sources {
        base: Some(c.source_base),
        count: c.sources.max(1),
    }
}

fn emit(out: &Option<String>, v: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string(v)?;
    match out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {path}")),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (out, result) = match cli.cmd {
        Cmd::Poll(a) => (
            a.common.out.clone(),
            rt.block_on(delivery_run(delivery::Mode::Poll, a)),
        ),
        Cmd::LongPoll(a) => (
            a.common.out.clone(),
            rt.block_on(delivery_run(delivery::Mode::LongPoll, a)),
        ),
        Cmd::Ws(a) => (
            a.common.out.clone(),
            rt.block_on(delivery_run(delivery::Mode::Ws, a)),
        ),
        Cmd::Sse(a) => (
            a.common.out.clone(),
            rt.block_on(delivery_run(delivery::Mode::Sse, a)),
        ),
        Cmd::Storm(a) => {
            let times_ok = a.end_s > a.ramp_s && a.end_s <= 600.0;
            if !(1..=19_000).contains(&a.phones) || !times_ok {
                bail!("--phones must be 1..=19000 and --ramp-s < --end-s <= 600");
            }
            let plan = storm::Plan {
                targets: a.targets.clone(),
                phones: a.phones,
                first_phone: a.first_phone,
                start_us: a.start_us.unwrap_or_else(stats::now_us),
                ramp_s: a.ramp_s,
                end_s: a.end_s,
                sources: sources(&a.common),
                probe: (a.probe_host.clone(), a.probe_path.clone()),
                assets: a
                    .assets
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                join_burst: a.join_burst,
                timeout: Duration::from_millis(a.timeout_ms),
            };
            (a.common.out.clone(), rt.block_on(storm::run(plan)))
        }
        Cmd::Sync1(a) => {
            if !(a.duration_s > a.warmup_s && a.duration_s <= 600.0)
                || a.phones == 0
                || a.phones > 19_000
            {
                bail!("--warmup-s < --duration-s <= 600 and 1 <= --phones <= 19000");
            }
            let plan = sync1::Plan {
                target: a.target,
                phones: a.phones,
                duration_s: a.duration_s,
                warmup_s: a.warmup_s,
                interval_ms: a.interval_ms.max(10.0),
                sources: sources(&a.common),
            };
            (a.common.out.clone(), rt.block_on(sync1::run(plan)))
        }
    };
    let v = result?;
    emit(&out, &v)?;
    // Don't wait for aborted client tasks to be dropped one by one.
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

async fn delivery_run(mode: delivery::Mode, a: DeliveryArgs) -> anyhow::Result<serde_json::Value> {
    if !(1..=19_000).contains(&a.clients) {
        bail!("--clients must be 1..=19000");
    }
    if !(0.0 <= a.window_start_s
        && a.window_start_s < a.window_end_s
        && a.window_end_s <= a.end_s
        && a.end_s <= 600.0)
    {
        bail!("need 0 <= --window-start-s < --window-end-s <= --end-s <= 600");
    }
    let plan = delivery::Plan {
        mode,
        targets: a.targets.clone(),
        clients: a.clients,
        first_client: a.first_client,
        start_us: a.start_us.unwrap_or_else(stats::now_us),
        ramp_s: a.ramp_s,
        window: (a.window_start_s, a.window_end_s),
        end_s: a.end_s,
        cue: a.cue.clone(),
        live: a
            .live
            .as_deref()
            .and_then(|l| l.split_once('='))
            .map(|(z, c)| (z.to_owned(), c.to_owned())),
        sources: sources(&a.common),
        server_pids: a.server_pids.clone(),
        t_per_min: a.t_per_min,
        browser_headers: !a.bare,
    };
    delivery::run(plan).await
}
