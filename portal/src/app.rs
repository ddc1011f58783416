//! Wiring: binds the sockets ([`Listeners`], [`HttpsListeners`]), starts DNS, the one HTTP
//! server on its listeners (HTTP, and HTTPS with `[tls]`), WebTransport, the relay and the
//! catalog rescanner ([`Portal::start`]), and runs them until shutdown ([`run`]). Tests call
//! these in-process with port-0 listeners.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crowdlight_proto::wire::Key;
use tokio::net::{TcpListener, TcpSocket, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::catalog::{self, Catalog};
use crate::config::{Config, TlsConfig};
use crate::dns::{self, CaptiveDns, DnsPolicy, DnsTcpLimits, DnsUdpLimits};
use crate::http_server::{AppState, HttpLimits, Server};
use crate::metrics::HttpMetrics;
use crate::relay::RelayState;
use crate::relay::listen::{self, MulticastConfig};
use crate::shutdown::Shutdown;
use crate::tls::{self, CertStore, TlsError};
use crate::webtransport::{self, WebTransportCounters, WtLimits};

/// Startup errors.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// A socket could not be opened.
    #[error("cannot open {what} on {addr}: {source}")]
    Bind {
        /// Which socket (`HTTP`, `DNS/UDP`, ...).
        what: &'static str,
        /// The address it was to bind.
        addr: String,
        /// What the OS said.
        source: io::Error,
    },
    /// The beacon key could not be loaded or is not allowed.
    #[error("beacon key: {0}")]
    Key(String),
    /// The TLS certificate or key could not be loaded.
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
}

/// The bound sockets.
#[derive(Debug)]
pub struct Listeners {
    /// HTTP.
    pub http: TcpListener,
    /// DNS over UDP (optional).
    pub dns_udp: Option<UdpSocket>,
    /// DNS over TCP (optional).
    pub dns_tcp: Option<TcpListener>,
    /// Beacon multicast (optional: without it `/s` stays `stopped`).
    pub beacon: Option<UdpSocket>,
    /// HTTPS + WebTransport (only with `[tls]`).
    pub https: Option<HttpsListeners>,
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
    pub fn bind(cfg: &TlsConfig) -> Result<Self, PortalError> {
        let store = CertStore::open(&cfg.cert, &cfg.key)?;
        let err = |source| PortalError::Bind {
            what: "HTTPS/WebTransport",
            addr: cfg.listen.to_string(),
            source,
        };
        let (tcp, udp) = bind_pair(cfg.listen).map_err(err)?;
        let addr = tcp.local_addr().map_err(err)?;
        Ok(Self {
            tcp,
            udp,
            addr,
            store: Arc::new(store),
            config: cfg.clone(),
        })
    }
}

/// Binds TCP (HTTPS) and UDP (QUIC) on the same address; with port 0, a port free for both.
pub fn bind_pair(addr: SocketAddr) -> io::Result<(TcpListener, std::net::UdpSocket)> {
    let mut attempt = 0;
    loop {
        let tcp = bind_tcp(addr)?;
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

/// Binds a TCP listener with a deep backlog (phones arrive in bursts).
pub fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

impl Listeners {
    /// Binds everything `cfg` asks for.
    pub async fn bind(cfg: &Config) -> Result<Self, PortalError> {
        let err = |what, addr: String| move |source| PortalError::Bind { what, addr, source };
        let http = bind_tcp(cfg.http.listen).map_err(err("HTTP", cfg.http.listen.to_string()))?;
        let (dns_udp, dns_tcp) = match cfg.dns.listen {
            Some(addr) => {
                let (udp, tcp) = bind_dns_pair(addr).await?;
                (Some(udp), Some(tcp))
            }
            None => (None, None),
        };
        let mc = MulticastConfig {
            group: cfg.beacon.group,
            port: cfg.beacon.port,
            interface: cfg.beacon.interface,
        };
        let beacon = listen::open_multicast(&mc).map_err(err(
            "beacon multicast",
            format!("{}:{} via {}", mc.group, mc.port, mc.interface),
        ))?;
        let https = match &cfg.tls {
            Some(t) => Some(HttpsListeners::bind(t)?),
            None => None,
        };
        Ok(Self {
            http,
            dns_udp,
            dns_tcp,
            beacon: Some(beacon),
            https,
        })
    }
}

/// Binds DNS UDP and TCP on the same address. With port 0, picks a port free for both
/// (retrying a few times if the TCP half of the UDP-chosen port is taken).
async fn bind_dns_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), PortalError> {
    let err = |what, addr: SocketAddr| {
        move |source| PortalError::Bind {
            what,
            addr: addr.to_string(),
            source,
        }
    };
    let mut attempt = 0;
    loop {
        let udp = UdpSocket::bind(addr).await.map_err(err("DNS/UDP", addr))?;
        let tcp_addr = udp.local_addr().map_err(err("DNS/UDP", addr))?;
        match bind_tcp(tcp_addr) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if addr.port() == 0 && attempt < 20 => {
                tracing::debug!(%tcp_addr, error = %e, "DNS/TCP port taken, retrying");
                attempt += 1;
            }
            Err(e) => return Err(err("DNS/TCP", tcp_addr)(e)),
        }
    }
}

/// Loads the beacon key per `cfg` (dev key only when allowed).
pub fn load_key(cfg: &Config) -> Result<Key, PortalError> {
    let key = match &cfg.key_file {
        Some(p) => Key::load(p).map_err(|e| PortalError::Key(format!("{}: {e}", p.display())))?,
        None => Key::dev(),
    };
    if key.is_dev() && !cfg.allow_dev_key {
        return Err(PortalError::Key(
            "refusing the development key outside --dev (pass --key FILE, or allow-dev-key = true)"
                .into(),
        ));
    }
    Ok(key)
}

/// A running portal.
#[derive(Debug)]
pub struct Portal {
    /// HTTP address actually bound.
    pub http_addr: SocketAddr,
    /// DNS address actually bound (UDP and TCP).
    pub dns_addr: Option<SocketAddr>,
    /// Release switch (flip at runtime to release phones).
    pub release: Arc<AtomicBool>,
    /// Relay state.
    pub relay: Arc<RelayState>,
    /// Show catalog.
    pub catalog: Arc<Catalog>,
    /// HTTP and HTTPS counters.
    pub metrics: Arc<HttpMetrics>,
    /// HTTPS/WebTransport address actually bound (TCP and UDP), with `[tls]`.
    pub https_addr: Option<SocketAddr>,
    /// WebTransport counters.
    pub webtransport: Arc<WebTransportCounters>,
    tasks: JoinSet<()>,
}

impl Portal {
    /// Starts every service on `listeners`; stops when `shutdown` fires.
    pub fn start(listeners: Listeners, cfg: &Config, key: Key, shutdown: Shutdown) -> Self {
        let release = Arc::new(AtomicBool::new(cfg.release));
        let relay = Arc::new(RelayState::new());
        let catalog = Arc::new(Catalog::new(catalog::resolve_dir(&cfg.shows)));
        {
            // Serve at once; shows appear as they compile.
            let c = catalog.clone();
            tokio::spawn(async move {
                let dir = c.dir().display().to_string();
                if let Some(report) = catalog::off_runtime(move || c.scan()).await {
                    tracing::info!(
                        dir,
                        compiled = report.compiled,
                        failed = report.failed.len(),
                        "catalog ready"
                    );
                }
            });
        }
        let metrics = Arc::new(HttpMetrics::default());
        let dns = CaptiveDns::new(
            DnsPolicy {
                ipv4: cfg.dns.ipv4_all.clone(),
                ipv6: cfg.dns.ipv6_all.clone(),
                ttl: cfg.dns.ttl,
            },
            release.clone(),
        );
        let http_addr = listeners.http.local_addr().unwrap_or(cfg.http.listen);
        let dns_addr = listeners.dns_udp.as_ref().and_then(|s| s.local_addr().ok());
        let mut tasks = JoinSet::new();

        if let Some(udp) = listeners.dns_udp {
            let limits = DnsUdpLimits {
                rate_per_address: cfg.dns.rate_per_address,
                exempt: cfg.dns.exempt_addresses.clone(),
            };
            tasks.spawn(dns::serve_udp(udp, dns.clone(), limits, shutdown.clone()));
        }
        if let Some(tcp) = listeners.dns_tcp {
            tasks.spawn(dns::serve_tcp(
                tcp,
                dns.clone(),
                DnsTcpLimits {
                    max_per_address: cfg.dns.max_tcp_per_address,
                    exempt: cfg.dns.exempt_addresses.clone(),
                    ..DnsTcpLimits::default()
                },
                shutdown.clone(),
            ));
        }

        let (unknown_tx, unknown_rx) = mpsc::channel::<String>(1);
        if let Some(sock) = listeners.beacon {
            let known = catalog.clone();
            tasks.spawn(listen::listen(
                sock,
                key,
                relay.clone(),
                move |hex| known.zones(hex),
                unknown_tx,
                shutdown.clone(),
            ));
        }
        tasks.spawn(rescan_unknown_shows(
            catalog.clone(),
            unknown_rx,
            shutdown.clone(),
        ));

        let https_addr = listeners.https.as_ref().map(|h| h.addr);
        let canonical_url = match (https_addr, &cfg.http.canonical_url) {
            (Some(a), None) => crate::config::page_url("https", 443, a, cfg.dns.ipv4),
            _ => cfg.canonical_url_for(http_addr),
        };
        let mut own_hosts = vec![
            crate::config::url_host(&canonical_url),
            cfg.dns.ipv4.to_string(),
            http_addr.ip().to_string(),
        ];
        own_hosts.extend(cfg.http.host_aliases.iter().map(|h| h.to_ascii_lowercase()));
        if let Some(v6) = cfg.dns.ipv6 {
            own_hosts.push(format!("[{v6}]"));
        }
        let webtransport = Arc::new(WebTransportCounters::default());
        let app = Arc::new(AppState {
            canonical_url,
            own_hosts,
            release: release.clone(),
            relay: relay.clone(),
            catalog: catalog.clone(),
            metrics: metrics.clone(),
            dns: dns.counters().clone(),
            webtransport: webtransport.clone(),
            certificates: listeners.https.as_ref().map(|h| h.store.clone()),
            venue_info_url: cfg.http.venue_info_url.clone(),
            long_poll_wait: Duration::from_millis(cfg.http.long_poll_wait_ms),
        });
        let limits = HttpLimits {
            header_timeout: Duration::from_millis(cfg.http.header_timeout_ms),
            idle_timeout: Duration::from_millis(cfg.http.idle_timeout_ms),
            max_connections: cfg.http.max_connections,
            max_connections_per_address: cfg.http.max_connections_per_address,
            exempt_addresses: cfg.http.exempt_addresses.clone(),
            max_header_bytes: cfg.http.max_header_bytes,
            ..HttpLimits::default()
        };
        let server = Server::new(app, limits);
        if let Some(h) = listeners.https {
            start_tls(h, &server, &relay, &webtransport, &mut tasks, &shutdown);
        }
        tasks.spawn(server.serve(listeners.http, None, shutdown));
        tracing::info!(%http_addr, ?dns_addr, ?https_addr, release = cfg.release, "portal running");
        Self {
            http_addr,
            dns_addr,
            release,
            relay,
            catalog,
            metrics,
            https_addr,
            webtransport,
            tasks,
        }
    }

    /// Waits until every service has stopped (after shutdown).
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts HTTPS (the same server, with a TLS accept step), WebTransport and the SIGHUP
/// certificate reloader. A WebTransport endpoint that cannot start is logged; HTTPS still runs.
fn start_tls(
    h: HttpsListeners,
    server: &Arc<Server>,
    relay: &Arc<RelayState>,
    counters: &Arc<WebTransportCounters>,
    tasks: &mut JoinSet<()>,
    shutdown: &Shutdown,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls::https_config(h.store.clone())));
    tasks.spawn(
        server
            .clone()
            .serve(h.tcp, Some(acceptor), shutdown.clone()),
    );
    let wt_limits = WtLimits {
        max_sessions: h.config.wt_max_sessions,
        idle_timeout: Duration::from_millis(h.config.wt_idle_timeout_ms),
    };
    match webtransport::serve::endpoint(h.udp, tls::quic_config(h.store.clone()), wt_limits) {
        Ok(endpoint) => {
            tasks.spawn(webtransport::serve_webtransport(
                endpoint,
                relay.clone(),
                wt_limits,
                counters.clone(),
                shutdown.clone(),
            ));
        }
        Err(error) => {
            tracing::error!(%error, addr = %h.addr, "tls: WebTransport endpoint not started")
        }
    }
    tasks.spawn(tls::reload_on_sighup(h.store.clone(), shutdown.clone()));
    let c = h.store.current();
    tracing::info!(https_addr = %h.addr, sha256 = c.sha256_hex(), pinnable = c.pinnable(), "tls: HTTPS and WebTransport running");
}

/// Rescans the shows directory (rate-limited) when the beacon announces an unknown show.
async fn rescan_unknown_shows(
    catalog: Arc<Catalog>,
    mut unknown: mpsc::Receiver<String>,
    mut shutdown: Shutdown,
) {
    loop {
        let hex = tokio::select! {
            h = unknown.recv() => match h { Some(h) => h, None => return },
            () = shutdown.wait() => return,
        };
        let c = catalog.clone();
        let scanned = catalog::off_runtime(move || c.rescan_if_due(Instant::now())).await;
        if let Some(Some(report)) = scanned {
            let found = catalog.contains(&hex);
            tracing::info!(
                show = hex,
                found,
                compiled = report.compiled,
                "catalog: rescanned for unknown show"
            );
        }
    }
}

/// Binds, starts and runs the portal until `shutdown`.
pub async fn run(cfg: &Config, shutdown: Shutdown) -> Result<(), PortalError> {
    let (_never, rescan) = mpsc::channel(1);
    run_with_rescan(cfg, shutdown, rescan).await
}

/// [`run`], recompiling the shows directory on every message on `rescan` (SIGHUP): new and
/// edited shows become servable; the relay's state (the running cue) is untouched.
pub async fn run_with_rescan(
    cfg: &Config,
    shutdown: Shutdown,
    mut rescan: mpsc::Receiver<()>,
) -> Result<(), PortalError> {
    let key = load_key(cfg)?;
    let listeners = Listeners::bind(cfg).await?;
    let portal = Portal::start(listeners, cfg, key, shutdown);
    let catalog = portal.catalog.clone();
    tokio::spawn(async move {
        while rescan.recv().await.is_some() {
            let c = catalog.clone();
            match catalog::off_runtime(move || c.scan()).await {
                Some(report) => tracing::info!(
                    compiled = report.compiled,
                    failed = report.failed.len(),
                    "SIGHUP: shows directory rescanned"
                ),
                None => tracing::error!("SIGHUP: rescan failed"),
            }
        }
    });
    portal.join().await;
    Ok(())
}
