//! `beacon run`: the IO shell around the sans-IO [`Engine`]. One task owns the engine: it
//! sleeps until `poll_timeout`, sends due packets on the multicast socket, persists snapshots
//! and applies operator commands arriving from the socket server.

pub mod desk;
pub mod operator;
pub mod osc;
pub mod sender;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use crate::config::{InitialShow, Settings};
use crate::engine::{Command, CommandError, Engine, Reply, ShowInfo};
use crate::operator_messages::Stats;
use crate::persist;
use crate::shutdown::Shutdown;
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
    /// OSC commands applied.
    pub osc_commands: AtomicU64,
    /// Malformed OSC packets.
    pub osc_malformed: AtomicU64,
    /// OSC packets from senders not allowed.
    pub osc_denied: AtomicU64,
    /// The desk input's latest status (written by its task; `None` when it is off).
    pub desk: std::sync::Mutex<Option<crate::desk::DeskStatus>>,
}

impl Counters {
    /// The desk input's status, if it is on.
    pub fn desk_status(&self) -> Option<crate::desk::DeskStatus> {
        match self.desk.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> Stats {
        Stats {
            packets_sent: self.packets_sent.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
            malformed_requests: self.malformed_requests.load(Ordering::Relaxed),
            busy_connections: self.busy_connections.load(Ordering::Relaxed),
            refused_commands: self.refused_commands.load(Ordering::Relaxed),
            osc_commands: self.osc_commands.load(Ordering::Relaxed),
            osc_malformed: self.osc_malformed.load(Ordering::Relaxed),
            osc_denied: self.osc_denied.load(Ordering::Relaxed),
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
        /// The step that failed (bind, chmod, signal handler...).
        what: String,
        /// Why that step failed.
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
        /// Why opening the socket, choosing the interface or setting TTL/loop failed
        /// (often: the address is not on any local interface).
        source: std::io::Error,
    },
    /// The OSC port could not be bound.
    #[error("OSC input on {listen}: {source}")]
    Osc {
        /// The `osc-listen` address.
        listen: std::net::SocketAddr,
        /// Why binding failed (often: the port is taken).
        source: std::io::Error,
    },
    /// The desk input's sockets could not be opened.
    #[error("desk input (sACN/Art-Net): {0}")]
    Desk(std::io::Error),
    /// The socket or state directory is unsafe or unusable.
    #[error(transparent)]
    Dir(#[from] crate::paths::DirError),
    /// The configured show does not compile.
    #[error(transparent)]
    Show(#[from] CommandError),
}

/// Runs the daemon until `shutdown` fires; the operator and OSC loops stop on the same signal,
/// and the socket is removed on the way out.
pub async fn run(settings: Settings, mut shutdown: Shutdown) -> Result<(), DaemonError> {
    let clock = Clock::start();
    let socket = sender::open(settings.interface, settings.ttl, settings.multicast_loop).map_err(
        |source| DaemonError::Multicast {
            interface: settings.interface,
            source,
        },
    )?;
    let dest = std::net::SocketAddr::from((settings.group, settings.port));
    // Both directories are created 0700 and checked before anything in them is read.
    crate::paths::ensure_private_dir(crate::paths::parent_dir(&settings.socket))?;
    crate::paths::ensure_private_dir(crate::paths::parent_dir(&settings.state_file))?;
    let boot: u64 = rand::random();
    let mut engine = initial_engine(&settings, boot, clock.now_us())?;
    let listener = operator::bind(&settings.socket)?;
    let osc_socket = match &settings.osc {
        Some(osc) => Some(osc::bind(osc).await.map_err(|source| DaemonError::Osc {
            listen: osc.listen,
            source,
        })?),
        None => None,
    };
    let desk_sockets = match &settings.desk {
        Some(desk) => Some(self::desk::bind(desk).map_err(DaemonError::Desk)?),
        None => None,
    };
    if let (Some(desk), Some(show)) = (&settings.desk, engine.show()) {
        for problem in desk.desk.patch.check(Some(&show.zones)) {
            tracing::warn!(%problem, "desk patch does not fit the show");
        }
    }
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|source| DaemonError::Socket {
            path: settings.socket.clone(),
            what: "cannot install the SIGHUP handler".into(),
            source,
        })?;
    tracing::info!(
        boot = %format_args!("{boot:016x}"),
        dest = %dest,
        interface = %settings.interface,
        ttl = settings.ttl,
        socket = %settings.socket.display(),
        state_file = %settings.state_file.display(),
        dev = settings.dev,
        osc = %settings.osc.as_ref().map_or("off".to_owned(), |o| o.listen.to_string()),
        sacn = ?settings.desk.as_ref().and_then(|d| d.desk.sacn),
        artnet = ?settings.desk.as_ref().and_then(|d| d.desk.artnet),
        state = engine.state().name(),
        show = engine.show().map_or("(none)".to_owned(), |s| format!("{:?} {}", s.title, s.path.display())),
        "beacon running"
    );
    let counters = Arc::new(Counters::default());
    let (tx, mut rx) = mpsc::channel::<EngineRequest>(32);
    // The secret `beacon console` asks for over this socket and requires on every web command.
    let console_token: Arc<str> = hex::encode(rand::random::<[u8; 16]>()).into();
    let server = tokio::spawn(operator::serve(
        listener,
        tx.clone(),
        counters.clone(),
        operator::Limits::default(),
        console_token,
        shutdown.clone(),
    ));
    let osc_server = match (osc_socket, &settings.osc) {
        (Some(socket), Some(osc)) => Some(tokio::spawn(osc::serve(
            socket,
            osc.clone(),
            tx.clone(),
            counters.clone(),
            shutdown.clone(),
        ))),
        _ => None,
    };
    let desk_server = match (desk_sockets, &settings.desk) {
        (Some(sockets), Some(desk)) => Some(tokio::spawn(self::desk::serve(
            sockets,
            desk.clone(),
            clock,
            tx.clone(),
            counters.clone(),
            shutdown.clone(),
        ))),
        _ => None,
    };
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
            () = shutdown.wait() => break,
            () = tokio::time::sleep_until(wake.into()) => {}
            _ = hangup.recv() => {
                let current = engine.show().map(|s| s.path.clone());
                tokio::spawn(reload(settings.reload.clone(), current, tx.clone(), counters.clone()));
            }
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
    // The loops stop on the same signal (the engine channel never closes: `tx` is held here).
    let _ = server.await;
    if let Some(osc) = osc_server {
        let _ = osc.await;
    }
    if let Some(desk) = desk_server {
        let _ = desk.await;
    }
    let _ = std::fs::remove_file(&settings.socket);
    tracing::info!("beacon stopped");
    Ok(())
}

/// SIGHUP: re-reads the config's show and loads it through the operator command path (same
/// show id: state and cue untouched; another show: loaded as `beacon load` would, stopped).
async fn reload(
    source: crate::config::ReloadSource,
    current: Option<PathBuf>,
    engine: mpsc::Sender<EngineRequest>,
    counters: Arc<Counters>,
) {
    tracing::info!("SIGHUP: reloading the show (other settings need a restart)");
    let path = match source.show(current.as_deref()) {
        Ok(Some(path)) => path,
        Ok(None) => {
            tracing::warn!("SIGHUP: no show configured or loaded: nothing to reload");
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "SIGHUP: cannot re-read the config; nothing changed");
            return;
        }
    };
    let path = std::path::absolute(&path).unwrap_or(path);
    let reply = operator::dispatch(
        crate::operator_messages::Request::Load { path },
        &engine,
        &counters,
    )
    .await;
    match (reply.ok, reply.message, reply.error) {
        (true, Some(message), _) => tracing::info!(%message, "SIGHUP: reloaded"),
        (_, _, error) => tracing::error!(error = ?error, "SIGHUP: reload refused; nothing changed"),
    }
}

/// Resumes the persisted state (with its show) or starts with the configured show; with
/// `--fresh` the persisted state is logged and discarded.
fn initial_engine(settings: &Settings, boot: u64, now_us: u64) -> Result<Engine, DaemonError> {
    let snapshot = match persist::load(&settings.state_file) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring the state file");
            None
        }
    };
    let snapshot = match snapshot {
        Some(old) if settings.fresh => {
            tracing::info!(
                state_file = %settings.state_file.display(),
                show = %old.show_path.as_deref().map_or("(none)".into(), |p| p.display().to_string()),
                state = old.state.name(),
                cue = old.state.cue().unwrap_or("-"),
                armed = old.armed.as_deref().unwrap_or("-"),
                "--fresh: discarded the persisted state"
            );
            if let Err(e) = std::fs::remove_file(&settings.state_file) {
                tracing::warn!(error = %e, "--fresh: cannot remove the state file");
            }
            None
        }
        None if settings.fresh => {
            tracing::info!(state_file = %settings.state_file.display(), "--fresh: no persisted state to discard");
            None
        }
        other => other,
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
