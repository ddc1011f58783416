//! Thin `portal` binary: parses arguments, sets up logging and signals, runs the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use portal::cli::RunArgs;
use portal::shutdown::shutdown_pair;

/// Crowdlight portal: captive DNS + HTTP that pulls phones onto the show page, serves the page
/// and the compiled show, and relays the beacon's clock and state as `/t` and `/s`.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the portal in the foreground until SIGINT/SIGTERM.
    Run(RunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    let Cmd::Run(args) = cli.command;
    let cfg = args.to_config().context("configuration")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let (trigger, shutdown) = shutdown_pair();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received, shutting down");
            trigger.trigger();
        });
        portal::app::run(&cfg, shutdown).await.context("portal")
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
