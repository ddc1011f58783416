//! The WebTransport endpoint loop: accepts sessions on `/wt` up to a cap (`429` beyond it),
//! answers time-request datagrams at once, and pushes the `/s` body to every session on each
//! relay state change ([`super::PUSH_REPEATS`] times, [`REPEAT_GAP`] apart). Idle sessions are
//! closed by the QUIC idle timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use wtransport::config::QuicTransportConfig;
use wtransport::endpoint::IncomingSession;
use wtransport::endpoint::endpoint_side::Server;
use wtransport::error::ConnectionError;
use wtransport::{Connection, Endpoint, ServerConfig, VarInt};

use super::{PUSH_REPEATS, WT_PATH, WebTransportCounters, wire};
use crate::relay::RelayState;
use crate::shutdown::Shutdown;

/// Gap between the repeats of one state push.
pub const REPEAT_GAP: Duration = Duration::from_millis(40);

/// Session limits.
#[derive(Clone, Copy, Debug)]
pub struct WtLimits {
    /// Most simultaneously open sessions.
    pub max_sessions: usize,
    /// QUIC idle timeout (no packet in either direction).
    pub idle_timeout: Duration,
}

/// Creates the QUIC endpoint on `udp` with the `h3` TLS configuration.
pub fn endpoint(
    udp: std::net::UdpSocket,
    tls: rustls::ServerConfig,
    limits: WtLimits,
) -> std::io::Result<Endpoint<Server>> {
    // Smaller per-connection windows than quinn's defaults (sized for bulk transfer): sessions
    // carry a few small datagrams and the WebTransport control streams, nothing else.
    let mut t = QuicTransportConfig::default();
    t.max_concurrent_bidi_streams(4u32.into())
        .max_concurrent_uni_streams(8u32.into())
        .stream_receive_window(16_384u32.into())
        .receive_window(65_536u32.into())
        .send_window(65_536)
        .datagram_receive_buffer_size(Some(16_384))
        .datagram_send_buffer_size(16_384);
    let config = ServerConfig::builder()
        .with_bind_socket(udp)
        .with_custom_tls_and_transport(tls, t)
        .max_idle_timeout(Some(limits.idle_timeout))
        .map_err(|_| std::io::Error::other("invalid WebTransport idle timeout"))?
        .keep_alive_interval(None)
        .build();
    Endpoint::server(config)
}

/// Everything a session needs (shared).
struct Shared {
    relay: Arc<RelayState>,
    metrics: Arc<WebTransportCounters>,
    permits: Arc<Semaphore>,
}

/// Accepts and serves sessions on `endpoint` until `shutdown`.
pub async fn serve_webtransport(
    endpoint: Endpoint<Server>,
    relay: Arc<RelayState>,
    limits: WtLimits,
    metrics: Arc<WebTransportCounters>,
    mut shutdown: Shutdown,
) {
    let shared = Arc::new(Shared {
        relay,
        metrics,
        permits: Arc::new(Semaphore::new(limits.max_sessions.max(1))),
    });
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let incoming = tokio::select! {
            i = endpoint.accept() => i,
            _ = shutdown.wait() => break,
        };
        tasks.spawn(handle_incoming(incoming, shared.clone(), shutdown.clone()));
        while tasks.try_join_next().is_some() {}
    }
    endpoint.close(VarInt::from_u32(0), b"shutdown");
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
}

async fn handle_incoming(incoming: IncomingSession, shared: Arc<Shared>, shutdown: Shutdown) {
    let m = &shared.metrics;
    let request = match incoming.await {
        Ok(r) => r,
        Err(error) => {
            m.handshake_errors.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%error, "webtransport: handshake failed");
            return;
        }
    };
    if request.path() != WT_PATH {
        m.handshake_errors.fetch_add(1, Ordering::Relaxed);
        request.not_found().await;
        return;
    }
    let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
        m.sessions_refused.fetch_add(1, Ordering::Relaxed);
        request.too_many_requests().await;
        return;
    };
    let conn = match request.accept().await {
        Ok(c) => c,
        Err(error) => {
            m.handshake_errors.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%error, "webtransport: session accept failed");
            return;
        }
    };
    m.sessions_total.fetch_add(1, Ordering::Relaxed);
    m.sessions_open.fetch_add(1, Ordering::Relaxed);
    let changes = shared.relay.subscribe();
    run_session(&conn, &shared, changes, permit, shutdown).await;
    m.sessions_open.fetch_sub(1, Ordering::Relaxed);
}

fn push_state(conn: &Connection, shared: &Shared) {
    let body = shared.relay.snapshot().body.clone();
    match conn.send_datagram(&body) {
        Ok(()) => shared
            .metrics
            .state_datagrams
            .fetch_add(1, Ordering::Relaxed),
        Err(_) => shared.metrics.send_errors.fetch_add(1, Ordering::Relaxed),
    };
}

async fn run_session(
    conn: &Connection,
    shared: &Shared,
    mut changes: watch::Receiver<u64>,
    _permit: OwnedSemaphorePermit,
    mut shutdown: Shutdown,
) {
    let m = &shared.metrics;
    changes.mark_unchanged();
    // The current state at once, then repeats.
    push_state(conn, shared);
    let mut repeats_left = PUSH_REPEATS - 1;
    let mut next_repeat = tokio::time::Instant::now() + REPEAT_GAP;
    loop {
        tokio::select! {
            d = conn.receive_datagram() => match d {
                Ok(d) => match wire::handle_datagram(&d, shared.relay.now().0) {
                    Ok(reply) => {
                        m.time_requests.fetch_add(1, Ordering::Relaxed);
                        if conn.send_datagram(reply).is_err() {
                            m.send_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(error) => {
                        m.bad_datagrams.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%error, "webtransport: bad datagram");
                    }
                },
                Err(error) => {
                    if matches!(error, ConnectionError::TimedOut) {
                        m.sessions_idle_closed.fetch_add(1, Ordering::Relaxed);
                    }
                    tracing::debug!(%error, "webtransport: session ended");
                    return;
                }
            },
            r = changes.changed() => {
                if r.is_err() {
                    return;
                }
                push_state(conn, shared);
                repeats_left = PUSH_REPEATS - 1;
                next_repeat = tokio::time::Instant::now() + REPEAT_GAP;
            }
            _ = tokio::time::sleep_until(next_repeat), if repeats_left > 0 => {
                push_state(conn, shared);
                repeats_left -= 1;
                next_repeat = tokio::time::Instant::now() + REPEAT_GAP;
            }
            _ = shutdown.wait() => {
                conn.close(VarInt::from_u32(0), b"shutdown");
                return;
            }
        }
    }
}
