//! `beacon console`: a small operator web page served on loopback only. It drives the daemon
//! through the operator socket client ([`crate::client`]) — the same requests as the CLI, no
//! second command path — and shows the relays' live figures scraped from their `/metrics`.
//!
//! Routes: `GET /` (page), `GET /console.js`, `GET /showview.js` (the show view: hall plan and
//! timeline), `GET /show.js` (the page's own evaluator, `page/src/show.js`: the view draws every
//! colour with the code the phones run), `GET /api/status` (the status reply),
//! `POST /api/command` (a [`Request`] as JSON; `load` is refused: load shows with the CLI),
//! `GET /api/relays`, `GET /api/show?v=N` (the show view's source: [`view`]). One middleware layer refuses any `Host` but this loopback console
//! (against DNS rebinding); commands need `Content-Type: application/json` and a same-origin
//! `Origin` if any (against CSRF).
//!
//! **The console is no wider than the operator socket.** Loopback is reachable by every local
//! user, the socket only by its owner and group. At start the console asks the daemon for its
//! console token over the socket (`{"cmd":"console-token"}`; whoever cannot use the socket
//! cannot get it) and prints the URL with the token in its fragment
//! (`http://127.0.0.1:8090/#token=…`). Every `/api/` request must carry it in the
//! [`TOKEN_HEADER`] header (the page reads it from the fragment, which browsers never send to
//! a server or put in a `Referer`); without it: 401.

pub mod relay;
pub mod view;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request as HttpRequest, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::client;
use crate::operator_messages::{Request, Response as Reply};
use relay::RelayFigures;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8090";
/// The header carrying the console token on every `/api/` request.
pub const TOKEN_HEADER: &str = "x-console-token";
/// How often relays are scraped.
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("console.js");
const VIEW_SCRIPT: &str = include_str!("showview.js");
/// The phones' evaluator, served as is (one evaluator per language).
const EVALUATOR: &str = include_str!("../../../page/src/show.js");

/// Why the console cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The listen address is not loopback.
    #[error("the console serves loopback only: {0} is not a loopback address")]
    NotLoopback(SocketAddr),
    /// A relay URL is unusable.
    #[error("--relay {0}")]
    Relay(String),
    /// The daemon did not hand out its console token.
    #[error(
        "cannot get the console token from the beacon on {socket}: {error} \
         (the console needs the operator socket's permission)"
    )]
    Token {
        /// The operator socket.
        socket: PathBuf,
        /// Why the token request failed (no daemon, no permission, bad reply).
        error: String,
    },
    /// The port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The `console-listen` address.
        addr: SocketAddr,
        /// Why binding failed (often: the port is taken).
        source: std::io::Error,
    },
}

/// Console settings.
#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// Where to serve (loopback).
    pub listen: SocketAddr,
    /// The beacon's operator socket.
    pub socket: PathBuf,
    /// Relay base URLs to scrape.
    pub relays: Vec<String>,
    /// The daemon's console token ([`fetch_token`]).
    pub token: String,
    /// The show file the show view follows (`--watch`); `None`: the loaded show's file.
    pub watch: Option<PathBuf>,
}

struct ConsoleState {
    socket: PathBuf,
    port: u16,
    token: String,
    relays: Mutex<Vec<RelayFigures>>,
    /// `--watch`: read without the view's lock, which a compile holds (off the runtime).
    watch: Option<PathBuf>,
    view: Arc<Mutex<view::ShowWatch>>,
}

/// Asks the daemon for its console token over the operator socket (blocking).
pub fn fetch_token(socket: &std::path::Path) -> Result<String, ConsoleError> {
    let error = |error: String| ConsoleError::Token {
        socket: socket.to_owned(),
        error,
    };
    let reply =
        client::request(socket, &Request::ConsoleToken).map_err(|e| error(e.to_string()))?;
    match reply.token {
        Some(token) if reply.ok && !token.is_empty() => Ok(token),
        _ => Err(error(
            reply
                .error
                .unwrap_or_else(|| "no token in the reply".into()),
        )),
    }
}

/// The URL to open: the console address with the token in the fragment.
pub fn url(addr: SocketAddr, token: &str) -> String {
    format!("http://{addr}/#token={token}")
}

/// Binds the listener (checks loopback and relay URLs first).
pub async fn bind(options: &ConsoleOptions) -> Result<tokio::net::TcpListener, ConsoleError> {
    if !options.listen.ip().is_loopback() {
        return Err(ConsoleError::NotLoopback(options.listen));
    }
    for url in &options.relays {
        relay::authority(url).map_err(ConsoleError::Relay)?;
    }
    tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| ConsoleError::Bind {
            addr: options.listen,
            source,
        })
}

/// Serves the console on `listener` until `shutdown` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    options: ConsoleOptions,
    mut shutdown: crate::shutdown::Shutdown,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    let state = Arc::new(ConsoleState {
        socket: options.socket.clone(),
        port,
        token: options.token.clone(),
        relays: Mutex::new(
            options
                .relays
                .iter()
                .cloned()
                .map(RelayFigures::new)
                .collect(),
        ),
        watch: options.watch.clone(),
        view: Arc::new(Mutex::new(view::ShowWatch::new(options.watch.clone()))),
    });
    if !options.relays.is_empty() {
        tokio::spawn(scrape_relays(state.clone()));
    }
    tracing::info!(
        addr = %listener.local_addr()?,
        socket = %options.socket.display(),
        relays = options.relays.len(),
        "operator console"
    );
    let api = Router::new()
        .route("/api/status", get(status))
        .route("/api/command", post(command))
        .route("/api/relays", get(relays))
        .route("/api/show", get(show_view))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let app = Router::new()
        .route("/", get(page))
        .route("/console.js", get(script))
        .route("/showview.js", get(view_script))
        .route("/show.js", get(evaluator))
        .merge(api)
        .layer(middleware::from_fn_with_state(state.clone(), require_host))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
}

async fn scrape_relays(state: Arc<ConsoleState>) {
    let origin = Instant::now();
    let urls: Vec<String> = state
        .relays
        .lock()
        .map(|r| r.iter().map(|f| f.url.clone()).collect())
        .unwrap_or_default();
    let mut tick = tokio::time::interval(SCRAPE_INTERVAL);
    loop {
        tick.tick().await;
        for (i, url) in urls.iter().enumerate() {
            let outcome = match relay::authority(url) {
                Ok(a) => relay::fetch_metrics(&a, Duration::from_millis(800)).await,
                Err(e) => Err(e),
            };
            let now_ms = origin.elapsed().as_millis() as u64;
            if let Ok(mut figures) = state.relays.lock()
                && let Some(f) = figures.get_mut(i)
            {
                match outcome {
                    Ok(text) => f.handle_scrape(now_ms, relay::parse_metrics(&text)),
                    Err(e) => f.handle_error(e),
                }
            }
        }
    }
}

/// Middleware: refuses requests whose `Host` is not this loopback console (DNS rebinding).
async fn require_host(
    State(state): State<Arc<ConsoleState>>,
    request: HttpRequest,
    next: Next,
) -> Response {
    let port = state.port;
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|h| host == format!("{h}:{port}") || (port == 80 && host == *h));
    if !ok {
        return reply_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!("the console answers only to Host 127.0.0.1:{port} or localhost:{port}"),
        );
    }
    next.run(request).await
}

/// Middleware on `/api/`: refuses requests without the console token.
async fn require_token(
    State(state): State<Arc<ConsoleState>>,
    request: HttpRequest,
    next: Next,
) -> Response {
    let given = request
        .headers()
        .get(TOKEN_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or(b"");
    if !same_secret(given, state.token.as_bytes()) {
        tracing::warn!(path = %request.uri().path(), "console request without the right token refused");
        return reply_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "open the console with the URL `beacon console` printed (it carries the token)",
        );
    }
    next.run(request).await
}

/// Compares in time independent of where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn reply_error(status: StatusCode, kind: &str, error: &str) -> Response {
    (status, json_body(&Reply::error(kind, error))).into_response()
}

fn json_body<T: serde::Serialize>(value: &T) -> Response {
    uncached(
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

/// `body` as `content_type`, never cached (the console shows live state and holds a token).
fn uncached(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; style-src 'self' 'unsafe-inline'"),
        )],
        uncached("text/html; charset=utf-8", PAGE),
    )
        .into_response()
}

async fn script() -> Response {
    uncached("text/javascript; charset=utf-8", SCRIPT)
}

async fn view_script() -> Response {
    uncached("text/javascript; charset=utf-8", VIEW_SCRIPT)
}

async fn evaluator() -> Response {
    uncached("text/javascript; charset=utf-8", EVALUATOR)
}

/// `?v=N`: the version of the view the page holds.
#[derive(serde::Deserialize)]
struct ViewQuery {
    v: Option<u64>,
}

/// `GET /api/show`: the show view's source, recompiled when its file changed.
async fn show_view(
    State(state): State<Arc<ConsoleState>>,
    axum::extract::Query(query): axum::extract::Query<ViewQuery>,
) -> Response {
    let file = match state.watch.clone() {
        Some(path) => Some(path),
        None => ask(&state, Request::Status)
            .await
            .status
            .and_then(|s| s.show_info)
            .map(|i| i.path),
    };
    let view = state.view.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let mut view = view
            .lock()
            .map_err(|_| "show view lock poisoned".to_string())?;
        view.refresh(file.as_deref());
        Ok::<_, String>(view.answer(query.v))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match answer {
        Ok(value) => json_body(&value),
        Err(e) => reply_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e),
    }
}

/// Sends one request over the operator socket (blocking client, off the runtime).
async fn ask(state: &ConsoleState, request: Request) -> Reply {
    let socket = state.socket.clone();
    tokio::task::spawn_blocking(move || client::request(&socket, &request))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .unwrap_or_else(|e| Reply::error("no_daemon", e))
}

async fn status(State(state): State<Arc<ConsoleState>>) -> Response {
    json_body(&ask(&state, Request::Status).await)
}

async fn command(
    State(state): State<Arc<ConsoleState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return reply_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "malformed",
            "commands must be sent as application/json",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if origin.to_str().ok() != Some(&format!("http://{host}")) {
            return reply_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "cross-origin command refused",
            );
        }
    }
    let request: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "malformed console command");
            return reply_error(
                StatusCode::BAD_REQUEST,
                "malformed",
                &format!("malformed command: {e}"),
            );
        }
    };
    if matches!(request, Request::ConsoleToken) {
        return reply_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the console token is given on the operator socket only",
        );
    }
    if matches!(request, Request::Load { .. }) {
        return reply_error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "load shows with `beacon load FILE`, not from the console",
        );
    }
    tracing::info!(?request, "console command");
    let reply = ask(&state, request).await;
    if !reply.ok {
        tracing::warn!(error = ?reply.error, "console command refused");
    }
    json_body(&reply)
}

async fn relays(State(state): State<Arc<ConsoleState>>) -> Response {
    let figures = state.relays.lock().map(|r| r.clone()).unwrap_or_default();
    json_body(&figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_answer_is_uncached_and_the_page_has_its_csp() {
        for (response, content_type) in [
            (page().await, "text/html; charset=utf-8"),
            (script().await, "text/javascript; charset=utf-8"),
            (
                json_body(&serde_json::json!({"ok": true})),
                "application/json",
            ),
        ] {
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], content_type);
            assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        }
        let page = page().await;
        assert!(
            page.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .starts_with("default-src 'self'")
        );
    }
}
