//! Thin `portal` binary: parses arguments, sets up logging and signals, runs the library.

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use portal::cli::RunArgs;

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
    /// Run the portal in the foreground until SIGINT/SIGTERM (SIGHUP rescans the shows).
    Run(Box<RunArgs>),
    /// Check a config file without starting (exit 0 valid, 1 invalid, 2 unreadable/usage).
    Validate {
        /// The TOML config file.
        config: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let defaults = portal::cli::flag_defaults();
    let command = Cli::command().mut_subcommand("run", |run| {
        crowdlight_proto::help::with_defaults(run, &defaults)
    });
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    if let Cmd::Validate { config } = &cli.command {
        return validate(config);
    }
    crowdlight_proto::logging::init_logging();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portal: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn validate(config: &std::path::Path) -> ExitCode {
    match portal::validate::check_file(config) {
        Err(e) => {
            eprintln!("portal validate: {e}");
            ExitCode::from(2)
        }
        Ok(report) => report.print(config),
    }
}

fn real_main(cli: Cli) -> anyhow::Result<()> {
    let Cmd::Run(args) = cli.command else {
        anyhow::bail!("unreachable: validate is handled before");
    };
    let cfg = args.to_config().context("configuration")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let shutdown = portal::shutdown::on_signals().context("cannot install signal handlers")?;
        let (rescan_tx, rescan) = tokio::sync::mpsc::channel(1);
        tokio::spawn(forward_hangups(rescan_tx));
        portal::app::run_with_rescan(&cfg, shutdown, rescan)
            .await
            .context("portal")
    })
}

/// SIGHUP (systemctl reload): ask the portal to rescan its shows directory.
async fn forward_hangups(rescan: tokio::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot install the SIGHUP handler");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: rescanning the shows directory");
        let _ = rescan.try_send(());
    }
}
