//! Thin `beacon` binary: parses arguments, then runs the daemon or sends one operator request.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use beacon::config::{self, RunOptions, Settings};
use beacon::operator_messages::{Request, Response};
use beacon::{client, daemon, paths, shutdown};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Crowdlight beacon: multicasts signed time/cue packets; the other subcommands drive a
/// running beacon over its operator socket.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Operator socket (default: $XDG_RUNTIME_DIR/crowdlight/beacon.sock, else
    /// /tmp/crowdlight-$UID/beacon.sock).
    #[arg(long, global = true, env = paths::SOCKET_ENV)]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

// Parsed once per process: the size of `Run` costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon in the foreground (SIGTERM/SIGINT stop it).
    ///
    /// State: the loaded show, the cue and the state (running, hold, ...) are saved to the
    /// state file on every change (default: beacon-state.json next to the socket, i.e. in
    /// $XDG_RUNTIME_DIR/crowdlight/ or /tmp/crowdlight-$UID/; `state-file` in the config)
    /// and resumed at the next start: a persisted show wins over --show and the config's
    /// show. --fresh discards it and starts stopped with the configured show.
    Run {
        /// Development mode: the public dev key, loopback defaults, the example show.
        #[arg(long)]
        dev: bool,
        /// Start fresh: discard the persisted state (the log says what was discarded) and
        /// start stopped with --show / the config's show.
        #[arg(long)]
        fresh: bool,
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
    /// Write a new random venue key (64 hex digits, mode 0600) for the beacon and every relay.
    Keygen {
        /// The key file to create (e.g. /etc/crowdlight/venue.key).
        file: PathBuf,
        /// Replace an existing file (every relay then needs the new key).
        #[arg(long)]
        force: bool,
        /// Give the file to USER[:GROUP] (e.g. crowdlight:crowdlight; needs root).
        #[arg(long, value_name = "USER[:GROUP]")]
        owner: Option<String>,
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
        /// Show this show file in the show view and redraw it on every save (default: the
        /// loaded show's file). It is only previewed: load it with `beacon load FILE`.
        #[arg(long, value_name = "FILE")]
        watch: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let defaults = config::flag_defaults();
    let command = Cli::command().mut_subcommand("run", |run| {
        crowdlight_proto::help::with_defaults(run, &defaults)
    });
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let socket = cli.socket.clone();
    let request = match cli.command {
        Cmd::Run {
            dev,
            fresh,
            config,
            options,
        } => {
            return match run(dev, fresh, config, options, socket) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("beacon: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Cmd::Status { json } => return status(socket, json),
        Cmd::Validate { config, dev } => return validate(&config, dev),
        Cmd::Keygen { file, force, owner } => return keygen(&file, force, owner.as_deref()),
        Cmd::Console {
            listen,
            relay,
            watch,
        } => {
            return match console(listen, relay, watch, socket) {
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

fn keygen(file: &std::path::Path, force: bool, owner: Option<&str>) -> ExitCode {
    let result = owner
        .map(beacon::keygen::parse_owner)
        .transpose()
        .and_then(|o| beacon::keygen::write_new_key(file, force, o));
    match result {
        Ok(()) => {
            println!(
                "wrote a new venue key to {} (mode 0600{}); copy it to every relay",
                file.display(),
                owner.map_or(String::new(), |o| format!(", owner {o}"))
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("beacon keygen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn console(
    listen: std::net::SocketAddr,
    relays: Vec<String>,
    watch: Option<PathBuf>,
    socket: Option<PathBuf>,
) -> anyhow::Result<()> {
    crowdlight_proto::logging::init_logging();
    let mut options = beacon::console::ConsoleOptions {
        listen,
        socket: socket.unwrap_or_else(paths::default_socket_path),
        relays,
        token: String::new(),
        watch: watch.map(|w| std::path::absolute(&w).unwrap_or(w)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let listener = beacon::console::bind(&options).await?;
        options.token = beacon::console::fetch_token(&options.socket)?;
        let addr = listener.local_addr().context("no local address")?;
        // The token is a secret: printed on the operator's terminal, never logged.
        println!(
            "operator console: {}",
            beacon::console::url(addr, &options.token)
        );
        let shutdown = shutdown::on_signals().context("cannot install signal handlers")?;
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
            if let (Some(map), Some(desk)) = (value.as_object_mut(), reply.desk) {
                map.insert(
                    "desk".into(),
                    serde_json::to_value(desk).unwrap_or_default(),
                );
            }
            println!("{value}");
            ExitCode::SUCCESS
        }
        Ok(reply) => {
            println!("{}", reply.message.unwrap_or_default());
            if let Some(desk) = reply.desk {
                println!("{}", describe_desk(&desk));
            }
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The desk input in a few lines for `beacon status`.
fn describe_desk(desk: &beacon::desk::DeskStatus) -> String {
    let inputs: Vec<String> = [
        ("sACN universe", desk.sacn),
        ("Art-Net port-address", desk.artnet),
    ]
    .iter()
    .filter_map(|(what, u)| u.map(|u| format!("{what} {u}")))
    .collect();
    let refused: u64 = desk.refused.values().sum();
    let mut out = format!(
        "desk: {}; {} packets applied, {refused} refused",
        inputs.join(", "),
        desk.accepted
    );
    out += &if desk.held.is_empty() {
        "; holds no zone".to_owned()
    } else {
        format!(
            "; holds {}",
            desk.held
                .iter()
                .map(|(z, c)| format!("{z} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    for s in &desk.sources {
        out += &format!(
            "\n  {} {} ({}, {}) universe {} priority {}: {} accepted, {} refused, last seen {} ms ago{}",
            s.protocol.name(),
            s.name,
            s.address,
            s.cid.as_deref().unwrap_or("no CID"),
            s.universe,
            s.priority,
            s.accepted,
            s.refused,
            s.last_seen_ms,
            if s.winning {
                ", winning"
            } else if s.live {
                ""
            } else {
                ", gone"
            }
        );
    }
    out
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
    fresh: bool,
    config_file: Option<PathBuf>,
    options: RunOptions,
    socket: Option<PathBuf>,
) -> anyhow::Result<()> {
    crowdlight_proto::logging::init_logging();
    let file = config_file.as_deref().map(config::read_file).transpose()?;
    let mut settings = Settings::resolve(dev, options, file, socket)?;
    settings.reload.config_file = config_file.map(|f| std::path::absolute(&f).unwrap_or(f));
    settings.fresh = fresh;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let shutdown = shutdown::on_signals().context("cannot install signal handlers")?;
        daemon::run(settings, shutdown).await?;
        Ok(())
    })
}
