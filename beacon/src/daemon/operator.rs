//! The operator socket server: a Unix socket (directory 0700, socket 0660) speaking the
//! [`crate::operator_messages`] framing, with a per-connection timeout and a cap on open connections.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Counters, DaemonError, EngineRequest};
use crate::engine::{Command, CommandError, ShowInfo};
use crate::operator_messages::{self, FrameError, Request, Response};
use crate::shutdown::Shutdown;

/// Most operator connections served at once; more are answered `busy` and closed.
pub const MAX_CONNECTIONS: usize = 16;
/// Longest an operator connection may stay open.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of the operator server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Lifetime of one connection.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            timeout: CONNECTION_TIMEOUT,
        }
    }
}

/// Checks the socket directory ([`crate::paths::ensure_private_dir`]: created 0700, refused
/// when not ours or writable by others), clears a stale socket and binds (0660).
pub fn bind(path: &Path) -> Result<UnixListener, DaemonError> {
    let err = |what: &str, source: std::io::Error| DaemonError::Socket {
        path: path.to_owned(),
        what: what.to_owned(),
        source,
    };
    crate::paths::ensure_private_dir(crate::paths::parent_dir(path))?;
    if path.exists() || std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(DaemonError::AlreadyRunning(path.to_owned()));
        }
        std::fs::remove_file(path).map_err(|e| err("cannot remove the stale socket", e))?;
    }
    let listener =
        std::os::unix::net::UnixListener::bind(path).map_err(|e| err("cannot bind", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| err("cannot set permissions", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| err("cannot set non-blocking", e))?;
    UnixListener::from_std(listener).map_err(|e| err("cannot register", e))
}

/// Accepts operator connections forever.
pub async fn serve(
    listener: UnixListener,
    engine: mpsc::Sender<EngineRequest>,
    counters: Arc<Counters>,
    limits: Limits,
    console_token: Arc<str>,
    mut shutdown: Shutdown,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            () = shutdown.wait() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "operator accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            counters.busy_connections.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "operator connection refused: {} already open",
                limits.max_connections
            );
            tokio::spawn(async move {
                let mut stream = stream;
                let reply = Response::error("busy", "too many operator connections; retry");
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), send(&mut stream, &reply)).await;
            });
            continue;
        };
        let engine = engine.clone();
        let counters = counters.clone();
        let token = console_token.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let work = connection(stream, engine, &counters, &token);
            match tokio::time::timeout(limits.timeout, work).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "operator connection ended"),
                Err(_) => tracing::info!("operator connection timed out"),
            }
        });
    }
}

async fn send(stream: &mut UnixStream, reply: &Response) -> std::io::Result<()> {
    let body = serde_json::to_vec(reply).expect("response serialises");
    stream.write_all(&operator_messages::frame(&body)).await?;
    stream.flush().await
}

/// Serves request/reply pairs until the peer closes.
async fn connection(
    mut stream: UnixStream,
    engine: mpsc::Sender<EngineRequest>,
    counters: &Counters,
    console_token: &str,
) -> Result<(), FrameError> {
    loop {
        let mut header = [0u8; 4];
        match stream.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let len = match operator_messages::body_len(header) {
            Ok(len) => len,
            Err(e) => {
                counters.malformed_requests.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "malformed operator request");
                send(&mut stream, &Response::error("malformed", e.to_string())).await?;
                return Err(e);
            }
        };
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await?;
        let reply = match serde_json::from_slice::<Request>(&body) {
            Ok(Request::ConsoleToken) => {
                tracing::info!("operator request: console token");
                Response::console_token(console_token)
            }
            Ok(request) => dispatch(request, &engine, counters).await,
            Err(e) => {
                counters.malformed_requests.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "malformed operator request");
                Response::error("malformed", format!("malformed request: {e}"))
            }
        };
        send(&mut stream, &reply).await?;
    }
}

/// Turns a request into an engine command (compiling shows here, off the engine task): the
/// one command path shared by the socket, OSC and SIGHUP.
pub(crate) async fn dispatch(
    request: Request,
    engine: &mpsc::Sender<EngineRequest>,
    counters: &Counters,
) -> Response {
    // Status and the desk's live layer (up to 44 a second) are not worth a line each.
    let is_status = request == Request::Status;
    let quiet = is_status || matches!(request, Request::Live { .. });
    if quiet {
        tracing::debug!(?request, "operator request");
    } else {
        tracing::info!(?request, "operator request");
    }
    let command = match request {
        Request::Status => Command::Status,
        Request::Load { path } => match compile(path).await {
            Ok(show) => Command::Load(show),
            Err(e) => return refused(e, counters),
        },
        Request::Standby { cue } => Command::Standby(cue),
        Request::Go { cue } => Command::Go(cue),
        Request::Hold => Command::Hold,
        Request::Resume => Command::Resume,
        Request::Blackout => Command::Blackout,
        Request::Stop => Command::Stop,
        Request::Live { zones, lost } => {
            let mut colours = std::collections::BTreeMap::new();
            for (zone, text) in zones {
                let Some(rgb) = operator_messages::parse_colour(&text) else {
                    counters.malformed_requests.fetch_add(1, Ordering::Relaxed);
                    return Response::error(
                        "malformed",
                        format!("zone {zone:?}: colour {text:?} is not #rrggbb"),
                    );
                };
                colours.insert(zone, rgb);
            }
            Command::Live {
                zones: colours,
                lost,
            }
        }
        Request::ConsoleToken => {
            return Response::error(
                "forbidden",
                "the console token is given on the operator socket only",
            );
        }
    };
    let (tx, rx) = oneshot::channel();
    if engine.send((command, tx)).await.is_err() {
        return Response::error("internal", "the beacon is shutting down");
    }
    match rx.await {
        Ok(Ok(reply)) => {
            if !quiet {
                tracing::info!(message = %reply.message, "command applied");
            }
            Response {
                ok: true,
                message: Some(reply.message),
                status: Some(reply.status),
                stats: Some(counters.snapshot()),
                kind: None,
                error: None,
                token: None,
                desk: is_status.then(|| counters.desk_status()).flatten(),
            }
        }
        Ok(Err(e)) => refused(e, counters),
        Err(_) => Response::error("internal", "the beacon is shutting down"),
    }
}

fn refused(e: CommandError, counters: &Counters) -> Response {
    counters.refused_commands.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(error = %e, "command refused");
    Response::error(e.kind(), e.to_string())
}

/// Compiles a show file into the engine's view; errors are one line. Runs on a thread of its
/// own (not tokio's blocking pool, which a runtime shutting down waits for: SIGTERM must not
/// wait for a compile) and is refused after [`shows::compile::DEFAULT_BUDGET`].
pub async fn compile(path: PathBuf) -> Result<ShowInfo, CommandError> {
    let budget = shows::compile::DEFAULT_BUDGET;
    let deadline = std::time::Instant::now() + budget;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shown = path.display().to_string();
    std::thread::Builder::new()
        .name("compile".into())
        .spawn(move || {
            let _ = tx.send(compile_within(&path, Some(deadline)));
        })
        .map_err(|e| CommandError::InvalidShow(format!("cannot start the compiler: {e}")))?;
    // The compiler polls the same deadline; the margin covers reading and the final steps.
    match tokio::time::timeout(budget + std::time::Duration::from_secs(1), rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(CommandError::InvalidShow(format!(
            "{shown}: the compiler crashed"
        ))),
        Err(_) => Err(CommandError::InvalidShow(format!(
            "{shown}: compiling took longer than {} s; the show is refused",
            budget.as_secs()
        ))),
    }
}

/// Blocking form of [`compile`] (no time budget).
pub fn compile_blocking(path: &Path) -> Result<ShowInfo, CommandError> {
    compile_within(path, None)
}

fn compile_within(
    path: &Path,
    deadline: Option<std::time::Instant>,
) -> Result<ShowInfo, CommandError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let show = shows::compile_file_within(&path, deadline).map_err(|e| {
        let text = error_summary(&e.to_string());
        let shown = path.display().to_string();
        if text.contains(&shown) {
            CommandError::InvalidShow(text)
        } else {
            CommandError::InvalidShow(format!("{shown}: {text}"))
        }
    })?;
    ShowInfo::from_compiled(&show, path.clone())
        .map_err(|e| CommandError::InvalidShow(format!("{}: {e}", path.display())))
}

/// Most show errors a reply (and its log line) carries; the rest are counted.
pub const MAX_ERRORS: usize = 20;
/// Longest single error line kept, bytes.
pub const MAX_ERROR_LINE: usize = 300;

/// A compiler report on one line: its first [`MAX_ERRORS`] non-empty lines, each cut to
/// [`MAX_ERROR_LINE`] bytes, joined by `; `, then how many were left out — so that a show
/// with 100,000 errors still gets a reply well inside the 64 KiB frame cap.
pub fn error_summary(report: &str) -> String {
    let mut lines = report.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut text = lines
        .by_ref()
        .take(MAX_ERRORS)
        .map(|l| crate::engine::shorten(l, MAX_ERROR_LINE))
        .collect::<Vec<_>>()
        .join("; ");
    let more = lines.count();
    if more > 0 {
        text += &format!("; … and {more} more lines not shown (run `shows check FILE`)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_summaries_are_capped() {
        let report: String = (0..100_000)
            .map(|i| {
                format!(
                    "error {i}: {}\n",
                    "x".repeat(if i == 0 { 10_000 } else { 10 })
                )
            })
            .collect();
        let text = error_summary(&report);
        assert!(text.len() < 8 * 1024, "{} bytes", text.len());
        assert!(text.ends_with("… and 99980 more lines not shown (run `shows check FILE`)"));
        assert!(text.starts_with("error 0: xxx"));
        assert_eq!(error_summary("a\n\n b \n"), "a; b");
    }

    #[tokio::test]
    async fn idle_connections_time_out_and_free_their_slot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("op/beacon.sock");
        let listener = bind(&path).unwrap();
        let (tx, mut rx) = mpsc::channel::<EngineRequest>(4);
        let limits = Limits {
            max_connections: 1,
            timeout: Duration::from_millis(200),
        };
        let counters = Arc::new(Counters::default());
        tokio::spawn(serve(
            listener,
            tx,
            counters.clone(),
            limits,
            "t".into(),
            Shutdown::never(),
        ));
        // A fake engine answering every command with an error.
        tokio::spawn(async move {
            while let Some((_, reply)) = rx.recv().await {
                let _ = reply.send(Err(CommandError::NoShow));
            }
        });
        let mut idle = UnixStream::connect(&path).await.unwrap();
        let mut buf = Vec::new();
        // The server closes the idle connection after the timeout: EOF.
        let n = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut buf))
            .await
            .expect("closed by the server")
            .unwrap();
        assert_eq!(n, 0);
        // Its slot is free again: a request gets a real answer, not `busy`.
        let mut s = UnixStream::connect(&path).await.unwrap();
        s.write_all(&operator_messages::frame(br#"{"cmd":"stop"}"#))
            .await
            .unwrap();
        let mut header = [0u8; 4];
        s.read_exact(&mut header).await.unwrap();
        let mut body = vec![0u8; operator_messages::body_len(header).unwrap()];
        s.read_exact(&mut body).await.unwrap();
        let reply: Response = serde_json::from_slice(&body).unwrap();
        assert_eq!(reply.kind.as_deref(), Some("no_show"));
        assert_eq!(counters.snapshot().refused_commands, 1);
    }

    #[test]
    fn stale_socket_is_replaced_and_dir_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d/beacon.sock");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "a stale socket file");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
    }
}
