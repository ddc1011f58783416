//! `beacon run`: the IO shell around the sans-IO [`Engine`]. One task owns the engine: it
//! sleeps until `poll_timeout`, sends due packets on the multicast socket, persists snapshots
//! and applies operator commands arriving from the socket server.

pub mod operator;
pub mod sender;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use crate::config::{InitialShow, Settings};
use crate::engine::{Command, CommandError, Engine, Reply, ShowInfo};
use crate::persist;
use crate::protocol::Stats;
use crate::timebase::Clock;
use crate::wire;

/// A command for the engine task and where to send its outcome.
pub type EngineRequest = (Command, oneshot::Sender<Result<Reply, CommandError>>);

/// Daemon-wide counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Packets sent.
    pub packets_sent: AtomicU64,
    /// Failed sends.
    pub send_errors: AtomicU64,
    /// Malformed operator requests.
    pub malformed_requests: AtomicU64,
    /// Connections refused (too many).
    pub busy_connections: AtomicU64,
    /// Commands the engine refused.
    pub refused_commands: AtomicU64,
}

impl Counters {
    /// A copy of the counters.
    pub fn snapshot(&self) -> Stats {
        Stats {
            packets_sent: self.packets_sent.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
            malformed_requests: self.malformed_requests.load(Ordering::Relaxed),
            busy_connections: self.busy_connections.load(Ordering::Relaxed),
            refused_commands: self.refused_commands.load(Ordering::Relaxed),
        }
    }
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The operator socket could not be set up.
    #[error("operator socket {path}: {what}: {source}")]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// What failed.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another daemon answers on the socket.
    #[error("another beacon is already running on {0}")]
    AlreadyRunning(PathBuf),
    /// The multicast socket could not be opened.
    #[error("multicast socket on {interface}: {source}")]
    Multicast {
        /// The interface address.
        interface: std::net::Ipv4Addr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configured show does not compile.
    #[error(transparent)]
    Show(#[from] CommandError),
}

/// Runs the daemon until `shutdown` completes; removes the socket on the way out.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let clock = Clock::start();
    let socket = sender::open(settings.interface, settings.ttl, settings.multicast_loop).map_err(
        |source| DaemonError::Multicast {
            interface: settings.interface,
            source,
        },
    )?;
    let dest = std::net::SocketAddr::from((settings.group, settings.port));
    if let Some(dir) = settings
        .state_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot create the state directory");
    }
    let boot: u64 = rand::random();
    let mut engine = initial_engine(&settings, boot, clock.now_us())?;
    let listener = operator::bind(&settings.socket)?;
    tracing::info!(
        boot = %format_args!("{boot:016x}"),
        dest = %dest,
        interface = %settings.interface,
        ttl = settings.ttl,
        socket = %settings.socket.display(),
        state_file = %settings.state_file.display(),
        dev = settings.dev,
        state = engine.state().name(),
        show = engine.show().map_or("(none)".to_owned(), |s| format!("{:?} {}", s.title, s.path.display())),
        "beacon running"
    );
    let counters = Arc::new(Counters::default());
    let (tx, mut rx) = mpsc::channel::<EngineRequest>(32);
    let server = tokio::spawn(operator::serve(
        listener,
        tx,
        counters.clone(),
        operator::Limits::default(),
    ));
    tokio::pin!(shutdown);
    loop {
        let now = clock.now_us();
        while let Some(packet) = engine.poll_transmit(now) {
            let bytes = wire::emit(&packet, &settings.key);
            match socket.send_to(&bytes, dest).await {
                Ok(_) => {
                    counters.packets_sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let n = counters.send_errors.fetch_add(1, Ordering::Relaxed);
                    if n.is_power_of_two() || n == 0 {
                        tracing::warn!(error = %e, errors = n + 1, "multicast send failed");
                    }
                }
            }
        }
        if let Some(snapshot) = engine.poll_persist()
            && let Err(e) = persist::save(&settings.state_file, &snapshot)
        {
            tracing::error!(error = %e, "cannot persist state");
        }
        let wake = clock.instant_at(engine.poll_timeout());
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep_until(wake.into()) => {}
            request = rx.recv() => {
                let Some((command, reply)) = request else { break };
                let outcome = engine.handle_command(clock.now_us(), command);
                if let Ok(r) = &outcome {
                    tracing::debug!(message = %r.message, "command applied");
                }
                let _ = reply.send(outcome);
            }
        }
    }
    server.abort();
    let _ = std::fs::remove_file(&settings.socket);
    tracing::info!("beacon stopped");
    Ok(())
}

/// Resumes the persisted state (with its show) or starts with the configured show.
fn initial_engine(settings: &Settings, boot: u64, now_us: u64) -> Result<Engine, DaemonError> {
    let snapshot = match persist::load(&settings.state_file) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring the state file");
            None
        }
    };
    if let Some(snapshot) = snapshot
        && let Some(path) = snapshot.show_path.clone()
    {
        match operator::compile_blocking(&path) {
            Ok(show) => {
                let engine = Engine::restore(settings.engine, boot, now_us, snapshot, Some(show));
                tracing::info!(state = ?engine.state(), "resumed persisted state");
                return Ok(engine);
            }
            Err(e) => tracing::warn!(error = %e, "cannot reload the persisted show"),
        }
    }
    let show: Option<ShowInfo> = match &settings.show {
        InitialShow::None => None,
        InitialShow::Explicit(path) => Some(operator::compile_blocking(path)?),
        InitialShow::DevDefault(path) => match operator::compile_blocking(&dev_show_path(path)) {
            Ok(show) => Some(show),
            Err(e) => {
                tracing::warn!(error = %e, "no example show: starting without a show");
                None
            }
        },
    };
    Ok(Engine::new(settings.engine, boot, now_us, show))
}

/// The example show relative to the working directory, else relative to the repository the
/// binary was built in (`target/<profile>/beacon` → `../../`).
fn dev_show_path(relative: &std::path::Path) -> PathBuf {
    if relative.exists() {
        return relative.to_owned();
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.parent()?
                .parent()?
                .parent()
                .map(|repo| repo.join(relative))
        })
        .filter(|p| p.exists())
        .unwrap_or_else(|| relative.to_owned())
}

/// A future completing on SIGTERM or SIGINT (handlers installed now; needs a runtime).
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
    })
}
