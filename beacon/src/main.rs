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
    /// Check a config file without starting (exit 0 valid, 1 invalid, 2 unreadable/usage).
    Validate {
        /// The TOML config file.
        config: PathBuf,
        /// Check it as `beacon run --dev --config FILE` would read it.
        #[arg(long)]
        dev: bool,
    },
    /// Serve the operator console (a web page on loopback) for the running beacon.
    Console {
        /// Loopback address to serve on.
        #[arg(long, default_value = beacon::console::DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// A relay (portal) base URL whose /metrics to show, e.g. http://127.0.0.1:8080
        /// (repeat for several relays).
        #[arg(long)]
        relay: Vec<String>,
    },
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
        Cmd::Validate { config, dev } => return validate(&config, dev),
        Cmd::Console { listen, relay } => {
            return match console(listen, relay, socket) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("beacon console: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
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

fn validate(config: &std::path::Path, dev: bool) -> ExitCode {
    match beacon::validate::check_file(config, dev) {
        Err(e) => {
            eprintln!("beacon validate: {e}");
            ExitCode::from(2)
        }
        Ok(report) => report.print(config),
    }
}

fn console(
    listen: std::net::SocketAddr,
    relays: Vec<String>,
    socket: Option<PathBuf>,
) -> anyhow::Result<()> {
    beacon::logging::init_logging();
    let options = beacon::console::ConsoleOptions {
        listen,
        socket: socket.unwrap_or_else(paths::default_socket_path),
        relays,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let listener = beacon::console::bind(&options).await?;
        println!(
            "operator console: http://{}/",
            listener.local_addr().context("no local address")?
        );
        let shutdown = daemon::shutdown_signal().context("cannot install signal handlers")?;
        beacon::console::serve(listener, options, shutdown)
            .await
            .context("console server failed")?;
        Ok(())
    })
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
    beacon::logging::init_logging();
    let file = config_file.as_deref().map(config::read_file).transpose()?;
    let mut settings = Settings::resolve(dev, options, file, socket)?;
    settings.reload.config_file = config_file.map(|f| std::path::absolute(&f).unwrap_or(f));
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
