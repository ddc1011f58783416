//! The WebTransport fast path (HTTP/3 over QUIC, `wtransport`), on the HTTPS port over UDP:
//! time requests answered as datagrams, every `/s` change pushed as a datagram to every open
//! session ([`serve`]); the datagram formats ([`wire`]); the `/wt` discovery document
//! ([`document`], answered by the one router); and the counters ([`WebTransportCounters`],
//! rendered by [`crate::metrics`]). No per-client application state beyond the QUIC session.

pub mod serve;
pub mod wire;

use std::sync::atomic::{AtomicI64, AtomicU64};

use crate::tls::CertStore;

pub use serve::{WtLimits, serve_webtransport};

/// Path of WebTransport sessions (and, over HTTPS, of the discovery document).
pub const WT_PATH: &str = "/wt";
/// How many times each state push is sent (datagrams may be lost).
pub const PUSH_REPEATS: u32 = 3;

/// WebTransport session and datagram counters.
#[derive(Debug, Default)]
pub struct WebTransportCounters {
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
}

/// The `GET /wt` document (over HTTPS) for a request that arrived with `host` (authority, with
/// port): `{"url":"https://<host>/wt","hashes":[...]}` — the session URL on the authority the
/// page was loaded from (UDP, same port), and the leaf certificate's SHA-256 for
/// `serverCertificateHashes`, only when the certificate is valid for at most 14 days (what
/// browsers accept for pinning; a CA-issued certificate is verified normally).
pub fn document(host: &str, store: &CertStore) -> String {
    let cert = store.current();
    let hashes: Vec<String> = if cert.pinnable() {
        vec![cert.sha256_hex()]
    } else {
        Vec::new()
    };
    serde_json::json!({ "url": format!("https://{host}{WT_PATH}"), "hashes": hashes }).to_string()
}
