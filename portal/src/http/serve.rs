//! Hardened HTTP/1.1 connection loop: hyper's connection builder with hyper-util's Tokio timer
//! (request-head read timeout, which also bounds keep-alive waits), a no-progress idle timer,
//! a cap on open connections, a request-head size limit and graceful shutdown.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::metrics::HttpMetrics;
use crate::shutdown::Shutdown;

/// Connection limits.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// The whole request head must arrive within this (also the keep-alive wait for the next
    /// request: hyper restarts this timer when it starts reading a new head).
    pub header_timeout: Duration,
    /// Close a connection on which no byte moved in either direction for this long (covers
    /// slow readers of responses, which the head timer does not).
    pub idle_timeout: Duration,
    /// Most simultaneously open connections; further ones wait in the kernel backlog.
    pub max_connections: usize,
    /// Largest request head, bytes (hyper answers 431 beyond it); at least 8192.
    pub max_header_bytes: usize,
    /// Time given to in-flight requests on shutdown.
    pub drain: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            max_connections: 8192,
            max_header_bytes: 16384,
            drain: Duration::from_secs(2),
        }
    }
}

/// Serves `app` on `listener` until `shutdown`, then drains open connections.
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    metrics: Arc<HttpMetrics>,
    shutdown: Shutdown,
) {
    let epoch = Instant::now();
    serve_connections(
        listener,
        limits,
        "http",
        shutdown,
        move |stream, peer, builder, shutdown| {
            metrics.connections_total.fetch_add(1, Ordering::Relaxed);
            metrics.open_connections.fetch_add(1, Ordering::Relaxed);
            let (metrics, app) = (metrics.clone(), app.clone());
            async move {
                handle_connection(stream, &builder, app, limits, epoch, &metrics, shutdown).await;
                metrics.open_connections.fetch_sub(1, Ordering::Relaxed);
                tracing::trace!(%peer, "http: connection closed");
            }
        },
    )
    .await;
}

/// The accept loop shared by HTTP and HTTPS: at most `limits.max_connections` open connections
/// (the rest wait in the kernel backlog), accept errors back off, every accepted stream gets
/// `TCP_NODELAY` and is handed to `on_connection` (called in the loop, so it can count the
/// connection) with the hyper HTTP/1.1 builder (`limits.header_timeout`, keep-alive,
/// `limits.max_header_bytes`, 64 headers); the future it returns runs as a task holding the
/// connection's permit. On `shutdown` the loop stops and waits `limits.drain` (+0.5 s) for
/// the connections, then aborts the rest. `label` prefixes the log lines.
pub(crate) async fn serve_connections<F, Fut>(
    listener: TcpListener,
    limits: HttpLimits,
    label: &'static str,
    mut shutdown: Shutdown,
    mut on_connection: F,
) where
    F: FnMut(TcpStream, SocketAddr, Arc<http1::Builder>, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(64);
    let builder = Arc::new(builder);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.wait() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(error) => {
                    // EMFILE/ENFILE or a reset before accept: back off instead of spinning.
                    tracing::warn!(%error, "{label}: accept error, backing off");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = on_connection(stream, peer, builder.clone(), shutdown.clone());
        tasks.spawn(async move {
            let _permit = permit;
            connection.await;
        });
        while tasks.try_join_next().is_some() {}
    }
    // Drain: connections see `shutdown` and finish their current request.
    let _ = tokio::time::timeout(limits.drain + Duration::from_millis(500), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
}

async fn handle_connection(
    stream: TcpStream,
    builder: &http1::Builder,
    app: Router,
    limits: HttpLimits,
    epoch: Instant,
    metrics: &HttpMetrics,
    mut shutdown: Shutdown,
) {
    let activity = Arc::new(AtomicU64::new(ms_since(epoch)));
    let io = TokioIo::new(ActivityIo {
        inner: stream,
        activity: activity.clone(),
        epoch,
    });
    let conn = builder.serve_connection(io, TowerToHyperService::new(app));
    let mut conn = std::pin::pin!(conn);
    let idle_ms = u64::try_from(limits.idle_timeout.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    loop {
        let since = ms_since(epoch).saturating_sub(activity.load(Ordering::Relaxed));
        let wait = Duration::from_millis(idle_ms.saturating_sub(since).max(1));
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(error) = r {
                    tracing::debug!(%error, "http: connection error");
                }
                return;
            }
            _ = tokio::time::sleep(wait) => {
                if ms_since(epoch).saturating_sub(activity.load(Ordering::Relaxed)) >= idle_ms {
                    metrics.idle_closed.fetch_add(1, Ordering::Relaxed);
                    return; // dropping the connection closes the socket
                }
            }
            _ = shutdown.wait() => {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(limits.drain, conn.as_mut()).await;
                return;
            }
        }
    }
}

fn ms_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A stream that records the time of its last read/write progress.
struct ActivityIo {
    inner: TcpStream,
    activity: Arc<AtomicU64>,
    epoch: Instant,
}

impl ActivityIo {
    fn touch(&self) {
        self.activity.store(ms_since(self.epoch), Ordering::Relaxed);
    }
}

impl AsyncRead for ActivityIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.touch();
        }
        r
    }
}

impl AsyncWrite for ActivityIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
