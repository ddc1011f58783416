//! TLS for venues that own a domain and certificate: loads the PEM certificate chain and key
//! ([`CertStore`], reloadable on SIGHUP: new handshakes use the new certificate, open
//! connections keep theirs), builds the rustls configurations for HTTPS (HTTP/1.1) and for
//! WebTransport (HTTP/3, ALPN `h3`, TLS 1.3), serves HTTPS ([`serve_https`]) and reads a
//! certificate's validity period ([`validity_secs`]) to decide whether browsers may pin it with
//! `serverCertificateHashes` (at most 14 days, the WebTransport rule).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::crypto::ring as ring_provider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::http::HttpLimits;
use crate::shutdown::Shutdown;
use crate::webtransport::WtMetrics;

/// Longest certificate validity browsers accept for `serverCertificateHashes`, seconds.
pub const MAX_PINNED_VALIDITY_SECS: i64 = 14 * 24 * 3600;

/// `[tls]` config section: HTTPS on TCP and WebTransport on UDP, both on `listen`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// HTTPS (TCP) and WebTransport (UDP) listen address.
    pub listen: SocketAddr,
    /// Most simultaneously open WebTransport sessions; further ones get `429`.
    pub wt_max_sessions: usize,
    /// A WebTransport session with no packet for this long is closed, ms.
    pub wt_idle_timeout_ms: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert: PathBuf::new(),
            key: PathBuf::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            wt_max_sessions: 10_000,
            wt_idle_timeout_ms: 30_000,
        }
    }
}

impl TlsConfig {
    /// Checks the section (paths given, positive limits).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.cert.as_os_str().is_empty() || self.key.as_os_str().is_empty() {
            return Err("tls needs both cert and key (--tls-cert, --tls-key)");
        }
        if self.wt_max_sessions == 0 {
            return Err("tls.wt-max-sessions must be at least 1");
        }
        if self.wt_idle_timeout_ms == 0 {
            return Err("tls.wt-idle-timeout-ms must be positive");
        }
        Ok(())
    }
}

/// Certificate loading errors.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or holds no certificate.
    #[error("certificate {path}: {reason}")]
    Cert {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key file could not be read, or the key is unsupported or does not match.
    #[error("private key {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// One loaded certificate.
#[derive(Debug)]
pub struct Loaded {
    /// What rustls presents.
    pub certified: Arc<CertifiedKey>,
    /// SHA-256 of the leaf certificate (DER).
    pub sha256: [u8; 32],
    /// Leaf validity (`notBefore`, `notAfter`), Unix seconds, if readable.
    pub validity: Option<(i64, i64)>,
}

impl Loaded {
    /// True if browsers may pin this certificate by hash (validity at most 14 days).
    pub fn pinnable(&self) -> bool {
        self.validity
            .is_some_and(|(from, to)| to > from && to - from <= MAX_PINNED_VALIDITY_SECS)
    }

    /// Lowercase hex of [`Loaded::sha256`].
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Loads a PEM certificate chain and key and checks that they belong together.
pub fn load(cert: &Path, key: &Path) -> Result<Loaded, TlsError> {
    let cert_err = |reason: String| TlsError::Cert {
        path: cert.to_path_buf(),
        reason,
    };
    let key_err = |reason: String| TlsError::Key {
        path: key.to_path_buf(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    let Some(leaf) = chain.first() else {
        return Err(cert_err("no CERTIFICATE block".into()));
    };
    let sha256 = *wtransport::tls::Certificate::from_der(leaf.to_vec())
        .map_err(|e| cert_err(e.to_string()))?
        .hash()
        .as_ref();
    let validity = validity_secs(leaf);
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| key_err(e.to_string()))?;
    let signer = ring_provider::sign::any_supported_type(&der)
        .map_err(|e| key_err(format!("unsupported key: {e}")))?;
    let certified = CertifiedKey::new(chain, signer);
    certified
        .keys_match()
        .map_err(|e| key_err(format!("does not match the certificate: {e}")))?;
    Ok(Loaded {
        certified: Arc::new(certified),
        sha256,
        validity,
    })
}

/// The current certificate, shared by HTTPS and WebTransport; [`CertStore::reload`] swaps it.
#[derive(Debug)]
pub struct CertStore {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<Loaded>>,
}

impl CertStore {
    /// Loads the files once (errors here stop startup).
    pub fn open(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let loaded = load(cert, key)?;
        Ok(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(loaded)),
        })
    }

    /// The certificate in use.
    pub fn current(&self) -> Arc<Loaded> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Re-reads the files; on error keeps the old certificate and returns the error.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = Arc::new(load(&self.cert, &self.key)?);
        match self.current.write() {
            Ok(mut g) => *g = loaded,
            Err(p) => *p.into_inner() = loaded,
        }
        Ok(())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current().certified.clone())
    }
}

fn base_config(
    store: Arc<CertStore>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[u8],
) -> rustls::ServerConfig {
    let mut c =
        rustls::ServerConfig::builder_with_provider(Arc::new(ring_provider::default_provider()))
            .with_protocol_versions(versions)
            .unwrap_or_else(|_| unreachable!("ring supports TLS 1.2 and 1.3"))
            .with_no_client_auth()
            .with_cert_resolver(store);
    c.alpn_protocols = vec![alpn.to_vec()];
    c
}

/// rustls configuration for HTTPS (TLS 1.2/1.3, ALPN `http/1.1`).
pub fn https_config(store: Arc<CertStore>) -> rustls::ServerConfig {
    base_config(store, rustls::DEFAULT_VERSIONS, b"http/1.1")
}

/// rustls configuration for WebTransport over HTTP/3 (TLS 1.3, ALPN `h3`).
pub fn quic_config(store: Arc<CertStore>) -> rustls::ServerConfig {
    base_config(store, &[&rustls::version::TLS13], b"h3")
}

/// Reloads `store` on every SIGHUP until `shutdown` (logs the outcome; a bad file keeps the old
/// certificate).
pub async fn reload_on_sighup(store: Arc<CertStore>, mut shutdown: Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("tls: cannot listen for SIGHUP; certificate reload disabled");
        return;
    };
    loop {
        tokio::select! {
            r = hup.recv() => if r.is_none() { return },
            _ = shutdown.wait() => return,
        }
        match store.reload() {
            Ok(()) => {
                let c = store.current();
                tracing::info!(sha256 = c.sha256_hex(), "tls: certificate reloaded");
            }
            Err(error) => {
                tracing::error!(%error, "tls: reload failed, keeping the old certificate")
            }
        }
    }
}

/// Serves `app` over HTTPS on `listener` until `shutdown`. Limits as for HTTP: the TLS
/// handshake and every request head must complete within `header_timeout`, at most
/// `max_connections` are open (the rest wait in the backlog).
pub async fn serve_https(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    limits: HttpLimits,
    metrics: Arc<WtMetrics>,
    shutdown: Shutdown,
) {
    crate::http::serve::serve_connections(
        listener,
        limits,
        "https",
        shutdown,
        move |stream, _peer, builder, mut shutdown| {
            metrics.https_connections.fetch_add(1, Ordering::Relaxed);
            let (acceptor, app, metrics) = (acceptor.clone(), app.clone(), metrics.clone());
            async move {
                let tls = match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(error)) => {
                        metrics.tls_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%error, "https: handshake failed");
                        return;
                    }
                    Err(_) => {
                        metrics.tls_errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                let conn =
                    builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
                let mut conn = std::pin::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => if let Err(error) = r {
                        tracing::debug!(%error, "https: connection error");
                    },
                    _ = shutdown.wait() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(limits.drain, conn.as_mut()).await;
                    }
                }
            }
        },
    )
    .await;
}

/// The bound HTTPS/WebTransport sockets and the loaded certificate.
#[derive(Debug)]
pub struct HttpsListeners {
    /// HTTPS.
    pub tcp: TcpListener,
    /// QUIC (WebTransport), same port.
    pub udp: std::net::UdpSocket,
    /// The address bound (TCP and UDP).
    pub addr: SocketAddr,
    /// The certificate.
    pub store: Arc<CertStore>,
    /// The `[tls]` settings.
    pub config: TlsConfig,
}

impl HttpsListeners {
    /// Loads the certificate and binds `cfg.listen` (TCP + UDP).
    pub fn bind(cfg: &TlsConfig) -> Result<Self, String> {
        let store = CertStore::open(&cfg.cert, &cfg.key).map_err(|e| e.to_string())?;
        let (tcp, udp) = bind_pair(cfg.listen)
            .map_err(|e| format!("cannot open HTTPS/WebTransport on {}: {e}", cfg.listen))?;
        let addr = tcp.local_addr().map_err(|e| e.to_string())?;
        Ok(Self {
            tcp,
            udp,
            addr,
            store: Arc::new(store),
            config: cfg.clone(),
        })
    }

    /// Starts HTTPS, WebTransport and the SIGHUP reloader on `tasks`; returns the router to
    /// use for plain HTTP (the page redirected to `canonical_url` when that is `https:`).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        self,
        tasks: &mut tokio::task::JoinSet<()>,
        app: Router,
        canonical_url: &str,
        relay: Arc<crate::relay::RelayState>,
        epoch: std::time::Instant,
        limits: HttpLimits,
        metrics: Arc<WtMetrics>,
        shutdown: Shutdown,
    ) -> Result<Router, String> {
        use crate::webtransport::{WtLimits, routes, serve};
        let wt_limits = WtLimits {
            max_sessions: self.config.wt_max_sessions,
            idle_timeout: Duration::from_millis(self.config.wt_idle_timeout_ms),
        };
        let endpoint = serve::endpoint(self.udp, quic_config(self.store.clone()), wt_limits)
            .map_err(|e| format!("WebTransport endpoint on {}: {e}", self.addr))?;
        let acceptor = TlsAcceptor::from(Arc::new(https_config(self.store.clone())));
        let https_app = routes::https_router(app.clone(), self.store.clone(), metrics.clone());
        tasks.spawn(serve_https(
            self.tcp,
            acceptor,
            https_app,
            limits,
            metrics.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(serve::serve_webtransport(
            endpoint,
            relay,
            epoch,
            wt_limits,
            metrics.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(reload_on_sighup(self.store.clone(), shutdown));
        let c = self.store.current();
        tracing::info!(https_addr = %self.addr, sha256 = c.sha256_hex(), pinnable = c.pinnable(), "tls: HTTPS and WebTransport running");
        Ok(routes::http_router(
            app,
            Some(canonical_url.to_string()),
            metrics,
        ))
    }
}

/// Binds TCP (HTTPS) and UDP (QUIC) on the same address; with port 0, a port free for both.
pub fn bind_pair(addr: SocketAddr) -> io::Result<(TcpListener, std::net::UdpSocket)> {
    let mut attempt = 0;
    loop {
        let tcp = crate::app::bind_tcp(addr)?;
        let bound = tcp.local_addr()?;
        match std::net::UdpSocket::bind(bound) {
            Ok(udp) => {
                udp.set_nonblocking(true)?;
                return Ok((tcp, udp));
            }
            Err(e) if addr.port() == 0 && attempt < 20 => {
                tracing::debug!(%bound, error = %e, "https: UDP port taken, retrying");
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The page URL on HTTPS for a bound address: `https://<ip>[:port]/` (port omitted if 443;
/// `fallback_ip` replaces an unspecified listen IP).
pub fn https_url(bound: SocketAddr, fallback_ip: std::net::Ipv4Addr) -> String {
    crate::config::page_url("https", 443, bound, fallback_ip)
}

// ---- minimal DER reader for the certificate validity ----

/// Reads one DER TLV at the start of `b`: (tag, contents, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &x in &b[..n] {
            len = (len << 8) | usize::from(x);
        }
        b = &b[n..];
        len
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses an ASN.1 UTCTime (tag 0x17, `YYMMDDHHMMSSZ`) or GeneralizedTime (0x18,
/// `YYYYMMDDHHMMSSZ`) to Unix seconds.
fn asn1_time(tag: u8, v: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(v).ok()?;
    let s = s.strip_suffix('Z')?;
    if !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, rest) = match (tag, s.len()) {
        (0x17, 12) => {
            let yy = num(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (0x18, 14) => (num(0..4)?, 4),
        _ => return None,
    };
    let (mo, d, h, mi, se) = (
        num(rest..rest + 2)?,
        num(rest + 2..rest + 4)?,
        num(rest + 4..rest + 6)?,
        num(rest + 6..rest + 8)?,
        num(rest + 8..rest + 10)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// The (`notBefore`, `notAfter`) of a DER X.509 certificate, Unix seconds; `None` if the bytes
/// are not a certificate this reader understands. Never panics.
pub fn validity_secs(der: &[u8]) -> Option<(i64, i64)> {
    let (0x30, cert, _) = tlv(der)? else {
        return None;
    };
    let (0x30, tbs, _) = tlv(cert)? else {
        return None;
    };
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // [0] version
        rest = tlv(rest)?.2; // serial
    } else {
        rest = r; // that was the serial (v1 certificate)
    }
    rest = tlv(rest)?.2; // signature algorithm
    rest = tlv(rest)?.2; // issuer
    let (0x30, validity, _) = tlv(rest)? else {
        return None;
    };
    let (t1, v1, r) = tlv(validity)?;
    let (t2, v2, _) = tlv(r)?;
    Some((asn1_time(t1, v1)?, asn1_time(t2, v2)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(asn1_time(0x17, b"260101000000Z"), Some(1_767_225_600));
        assert_eq!(asn1_time(0x18, b"20260101000000Z"), Some(1_767_225_600));
        assert_eq!(asn1_time(0x17, b"261301000000Z"), None);
    }

    #[test]
    fn reads_rcgen_validity() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2026, 11, 20);
        params.not_after = rcgen::date_time_ymd(2026, 11, 30);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (a, b) = validity_secs(cert.der()).unwrap();
        assert_eq!(b - a, 10 * 86_400);
        assert_eq!(a, days_from_civil(2026, 11, 20) * 86_400);
    }

    proptest! {
        #[test]
        fn validity_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = validity_secs(&bytes);
        }
    }
}
