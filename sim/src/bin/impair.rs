//! `impair`: a userspace TCP/UDP proxy that adds delay, jitter, loss and a bandwidth cap,
//! seeded, standing in for congested venue WiFi (`tc netem` is not available).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use sim::proxy::{Settings, Stats, run_tcp, run_udp};
use sim::sched::{Impairment, JitterDist};

/// Jitter shape on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Dist {
    /// Floor `delay - jitter` plus an exponential tail (mean `delay`, sd `jitter`).
    Exp,
    /// Uniform in `delay ± jitter`.
    Uniform,
}

/// Impairment proxy: forwards --listen to --upstream (TCP, or UDP with --udp), delaying,
/// jittering, losing and rate-limiting traffic in both directions. TCP cannot lose bytes, so
/// TCP "loss" delays the chunk by a retransmission timeout instead (in order, head-of-line).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// Address to forward to.
    #[arg(long)]
    upstream: SocketAddr,
    /// Mean one-way delay per direction, ms.
    #[arg(long, default_value_t = 0.0)]
    delay_ms: f64,
    /// Jitter, ms (see --jitter-dist).
    #[arg(long, default_value_t = 0.0)]
    jitter_ms: f64,
    /// Jitter distribution.
    #[arg(long, value_enum, default_value_t = Dist::Exp)]
    jitter_dist: Dist,
    /// Loss probability per chunk/datagram, 0..1 (TCP: retransmission penalty).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Bandwidth cap per direction and connection, kbit/s (0 = none).
    #[arg(long, default_value_t = 0)]
    rate_kbps: u64,
    /// TCP retransmission penalty for a "lost" chunk, ms.
    #[arg(long, default_value_t = 200.0)]
    rto_ms: f64,
    /// RNG seed (the whole run is reproducible for the same arrivals).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Proxy UDP datagrams instead of TCP.
    #[arg(long)]
    udp: bool,
}

fn ms_to_us(ms: f64, what: &str) -> anyhow::Result<u64> {
    if !(ms.is_finite() && ms >= 0.0) {
        bail!("--{what} must be a non-negative number of ms");
    }
    Ok((ms * 1000.0).round() as u64)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.loss) {
        bail!("--loss must be between 0 and 1");
    }
    let impairment = Impairment {
        delay_us: ms_to_us(args.delay_ms, "delay-ms")?,
        jitter_us: ms_to_us(args.jitter_ms, "jitter-ms")?,
        dist: match args.jitter_dist {
            Dist::Exp => JitterDist::Exp,
            Dist::Uniform => JitterDist::Uniform,
        },
        loss: args.loss,
        rate_bps: (args.rate_kbps > 0).then_some(args.rate_kbps * 1000),
        rto_us: ms_to_us(args.rto_ms, "rto-ms")?,
        ..Impairment::default()
    };
    let settings = Settings {
        upstream: args.upstream,
        impairment,
        seed: args.seed,
    };
    let stats = Arc::new(Stats::default());
    tracing::info!(
        "impair {} {} -> {}: {:?}",
        if args.udp { "udp" } else { "tcp" },
        args.listen,
        args.upstream,
        settings.impairment
    );
    let run = async {
        if args.udp {
            let socket = tokio::net::UdpSocket::bind(args.listen)
                .await
                .with_context(|| format!("binding udp {}", args.listen))?;
            announce(socket.local_addr()?);
            run_udp(socket, settings, stats.clone()).await;
        } else {
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("binding tcp {}", args.listen))?;
            announce(listener.local_addr()?);
            run_tcp(listener, settings, stats.clone()).await;
        }
        anyhow::Ok(())
    };
    tokio::select! {
        r = run => r?,
        _ = shutdown_signal() => {}
    }
    tracing::info!(
        "impair done: flows {} upstream_failures {} delivered {} dropped {}",
        stats.flows.load(Ordering::Relaxed),
        stats.upstream_failures.load(Ordering::Relaxed),
        stats.delivered.load(Ordering::Relaxed),
        stats.dropped.load(Ordering::Relaxed)
    );
    Ok(())
}

/// Tell the caller (scripts, tests binding port 0) where we listen: one line on stdout.
fn announce(addr: SocketAddr) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "impair listening on {addr}");
    let _ = out.flush();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
