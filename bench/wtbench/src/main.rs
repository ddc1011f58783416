//! `wtbench`: WebTransport vs HTTP (long-poll and polling) on the real portal binary, on loopback (optionally
//! through `impair`); see bench/README.md and BENCHMARKS.md §7.
//!
//! ```sh
//! wtbench latency --clients 100 --changes 20
//! wtbench latency --impair target/release/impair --delay-ms 20 --jitter-ms 10 --loss 0.02
//! wtbench memory --sessions 2500,10000
//! ```
//!
//! It starts the portal itself ([`setup`]: a 9-day development certificate, HTTP/HTTPS on free
//! loopback ports, a random multicast port on `--group`) and plays the beacon ([`beacon`]:
//! packets signed with the development key, `clock_us` = this machine's wall clock, so the true
//! beacon time is known here).
//!
//! - `latency` ([`latency`]): N WebTransport sessions, N HTTP long-pollers and N HTTP pollers
//!   follow K state changes: delivery latency and clock-sync error per transport.
//! - `memory` ([`memory`]): the portal's RSS per open WebTransport session, and per parked HTTP
//!   long-poll for comparison.

mod beacon;
mod host;
mod latency;
mod memory;
mod setup;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(about = "WebTransport vs HTTP polling on Crowdlight's portal")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Options of both modes.
#[derive(Args, Clone)]
pub struct Common {
    /// The portal binary (relative paths start at the repository root).
    #[arg(long, global = true, default_value = "target/release/portal")]
    pub portal: PathBuf,
    /// Multicast group for the bench's beacon and portal (the port is random).
    #[arg(long, global = true, default_value = "239.255.77.90")]
    pub group: Ipv4Addr,
    /// Append each result as one JSON line to this file (the tables go to stdout either way).
    #[arg(long, global = true)]
    pub out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Delivery latency of state changes and clock-sync error, WebTransport vs HTTP polling.
    Latency(latency::LatencyArgs),
    /// Portal RSS per open WebTransport session vs per idle HTTP keep-alive connection.
    Memory(memory::MemoryArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let record = match cli.cmd {
        Cmd::Latency(a) => rt.block_on(latency::run(&cli.common, a))?,
        Cmd::Memory(a) => rt.block_on(memory::run(&cli.common, a))?,
    };
    if let Some(path) = &cli.common.out {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("open {}", path.display()))?;
        for r in record {
            writeln!(f, "{r}").with_context(|| format!("write {}", path.display()))?;
        }
    }
    Ok(())
}
