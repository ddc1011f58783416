//! Thin `beacon` binary: parses arguments, then runs the daemon or sends one operator request.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use beacon::config::{self, RunOptions, Settings};
use beacon::protocol::{Request, Response};
use beacon::{client, daemon, paths};
use clap::{Parser, Subcommand};

/// Crowdlight beacon: multicasts signed time/cue packets; the other subcommands drive a
/// running beacon over its operator socket.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Operator socket [default: $XDG_RUNTIME_DIR/crowdlight/beacon.sock, else
    /// /tmp/crowdlight-$UID/beacon.sock].
    #[arg(long, global = true, env = paths::SOCKET_ENV)]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon in the foreground (SIGTERM/SIGINT stop it).
    Run {
        /// Development mode: the public dev key, loopback defaults, the example show.
        #[arg(long)]
        dev: bool,
        /// TOML config file (kebab-case keys, same names as the flags).
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        options: RunOptions,
    },
    /// Show the state.
    Status {
        /// Print one JSON object (state, cue, seq, show, ...).
        #[arg(long)]
        json: bool,
    },
    /// Compile and load a show file (a bad show is refused; the running one is untouched).
    Load {
        /// The show source (.toml).
        file: PathBuf,
    },
    /// Arm a cue: the next bare `go` fires it.
    Standby {
        /// Cue name.
        cue: String,
    },
    /// Start a cue after the lead time: the named one, else the armed or next cue.
    Go {
        /// Cue name.
        cue: Option<String>,
    },
    /// Freeze the running cue.
    Hold,
    /// Continue the held cue from where it froze.
    Resume,
    /// Everything dark, now.
    Blackout,
    /// Stop playing.
    Stop,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = cli.socket.clone();
    let request = match cli.command {
        Cmd::Run {
            dev,
            config,
            options,
        } => {
            return match run(dev, config, options, socket) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("beacon: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Cmd::Status { json } => return status(socket, json),
        Cmd::Load { file } => Request::Load {
            path: std::path::absolute(&file).unwrap_or(file),
        },
        Cmd::Standby { cue } => Request::Standby { cue },
        Cmd::Go { cue } => Request::Go { cue },
        Cmd::Hold => Request::Hold,
        Cmd::Resume => Request::Resume,
        Cmd::Blackout => Request::Blackout,
        Cmd::Stop => Request::Stop,
    };
    match send(socket, &request) {
        Ok(reply) => {
            println!("{}", reply.message.unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn status(socket: Option<PathBuf>, json: bool) -> ExitCode {
    match send(socket, &Request::Status) {
        Ok(reply) if json => {
            let mut value = serde_json::to_value(&reply.status).unwrap_or_default();
            if let (Some(map), Some(stats)) = (value.as_object_mut(), reply.stats) {
                map.insert(
                    "stats".into(),
                    serde_json::to_value(stats).unwrap_or_default(),
                );
            }
            println!("{value}");
            ExitCode::SUCCESS
        }
        Ok(reply) => {
            println!("{}", reply.message.unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// One request; errors are printed as one line and turned into the exit code
/// (1: refused by the beacon, 2: no answer).
fn send(socket: Option<PathBuf>, request: &Request) -> Result<Response, ExitCode> {
    let socket = socket.unwrap_or_else(paths::default_socket_path);
    match client::request(&socket, request) {
        Ok(reply) if reply.ok => Ok(reply),
        Ok(reply) => {
            let error = reply.error.unwrap_or_else(|| "refused".into());
            eprintln!("beacon: {}", error.replace('\n', "; "));
            Err(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("beacon: {e}");
            Err(ExitCode::from(2))
        }
    }
}

fn run(
    dev: bool,
    config_file: Option<PathBuf>,
    options: RunOptions,
    socket: Option<PathBuf>,
) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let file = config_file.as_deref().map(config::read_file).transpose()?;
    let settings = Settings::resolve(dev, options, file, socket)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let shutdown = daemon::shutdown_signal().context("cannot install signal handlers")?;
        daemon::run(settings, shutdown).await?;
        Ok(())
    })
}
