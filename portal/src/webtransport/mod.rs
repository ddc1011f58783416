//! The WebTransport fast path (HTTP/3 over QUIC, `wtransport`), on the HTTPS port over UDP:
//! time requests answered as datagrams, every `/s` change pushed as a datagram to every open
//! session ([`serve`]); the datagram formats ([`wire`]); the `/wt` discovery document, the
//! HTTPS router and the plain-HTTP redirect ([`routes`]); and the counters ([`WtMetrics`]).
//! No per-client application state beyond the QUIC session itself.

pub mod routes;
pub mod serve;
pub mod wire;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

pub use serve::{WtLimits, serve_webtransport};

/// Path of WebTransport sessions (and, over HTTPS, of the discovery document).
pub const WT_PATH: &str = "/wt";
/// How many times each state push is sent (datagrams may be lost).
pub const PUSH_REPEATS: u32 = 3;

/// Counters of the TLS side.
#[derive(Debug, Default)]
pub struct WtMetrics {
    /// Sessions open now.
    pub sessions_open: AtomicI64,
    /// Sessions accepted since start.
    pub sessions_total: AtomicU64,
    /// Session requests refused because the cap was reached.
    pub sessions_refused: AtomicU64,
    /// Sessions that ended by the idle timeout.
    pub sessions_idle_closed: AtomicU64,
    /// QUIC handshakes or session requests that failed.
    pub handshake_errors: AtomicU64,
    /// Time requests answered.
    pub time_requests: AtomicU64,
    /// Datagrams refused as malformed.
    pub bad_datagrams: AtomicU64,
    /// State datagrams sent (each repeat counts).
    pub state_datagrams: AtomicU64,
    /// Datagrams that could not be sent (too large, peer gone).
    pub send_errors: AtomicU64,
    /// HTTPS connections accepted.
    pub https_connections: AtomicU64,
    /// HTTPS TLS handshakes that failed or timed out.
    pub tls_errors: AtomicU64,
}

impl WtMetrics {
    /// Prometheus text for these counters.
    pub fn render(&self) -> String {
        let r = Ordering::Relaxed;
        let mut o = String::with_capacity(1024);
        let _ = writeln!(
            o,
            "# HELP portal_wt_sessions_open WebTransport sessions open now."
        );
        let _ = writeln!(o, "# TYPE portal_wt_sessions_open gauge");
        let _ = writeln!(o, "portal_wt_sessions_open {}", self.sessions_open.load(r));
        let counters = [
            ("portal_wt_sessions_total", &self.sessions_total),
            ("portal_wt_sessions_refused_total", &self.sessions_refused),
            (
                "portal_wt_sessions_idle_closed_total",
                &self.sessions_idle_closed,
            ),
            ("portal_wt_handshake_errors_total", &self.handshake_errors),
            ("portal_https_connections_total", &self.https_connections),
            ("portal_https_tls_errors_total", &self.tls_errors),
        ];
        for (name, c) in counters {
            let _ = writeln!(o, "# TYPE {name} counter");
            let _ = writeln!(o, "{name} {}", c.load(r));
        }
        let _ = writeln!(
            o,
            "# HELP portal_wt_datagrams_total WebTransport datagrams by kind."
        );
        let _ = writeln!(o, "# TYPE portal_wt_datagrams_total counter");
        for (kind, c) in [
            ("time", &self.time_requests),
            ("state", &self.state_datagrams),
            ("bad", &self.bad_datagrams),
            ("send_error", &self.send_errors),
        ] {
            let _ = writeln!(
                o,
                "portal_wt_datagrams_total{{kind=\"{kind}\"}} {}",
                c.load(r)
            );
        }
        o
    }
}
