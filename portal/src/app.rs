//! Wiring: binds the sockets ([`Listeners`]), starts DNS, HTTP, the relay and the catalog
//! rescanner ([`Portal::start`]), and runs them until shutdown ([`run`]). Tests call these
//! in-process with port-0 listeners.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use beacon::wire::Key;
use tokio::net::{TcpListener, TcpSocket, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::catalog::{self, Catalog};
use crate::config::Config;
use crate::dns::{self, CaptiveDns, DnsPolicy, DnsTcpLimits, DnsUdpLimits};
use crate::http::{self, AppState, HttpLimits};
use crate::metrics::HttpMetrics;
use crate::relay::RelayState;
use crate::relay::listen::{self, MulticastConfig};
use crate::shutdown::Shutdown;

/// Startup errors.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// A socket could not be opened.
    #[error("cannot open {what} on {addr}: {source}")]
    Bind {
        /// Which socket.
        what: &'static str,
        /// Where.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The beacon key could not be loaded or is not allowed.
    #[error("beacon key: {0}")]
    Key(String),
    /// The TLS certificate could not be loaded or HTTPS/WebTransport could not start.
    #[error("tls: {0}")]
    Tls(String),
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
    pub https: Option<crate::tls::HttpsListeners>,
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
            Some(t) => Some(crate::tls::HttpsListeners::bind(t).map_err(PortalError::Tls)?),
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
    /// HTTP counters.
    pub metrics: Arc<HttpMetrics>,
    /// HTTPS/WebTransport address actually bound (TCP and UDP), with `[tls]`.
    pub https_addr: Option<SocketAddr>,
    /// HTTPS/WebTransport counters.
    pub wt_metrics: Arc<crate::webtransport::WtMetrics>,
    tasks: JoinSet<()>,
}

impl Portal {
    /// Starts every service on `listeners`; stops when `shutdown` fires.
    pub fn start(listeners: Listeners, cfg: &Config, key: Key, shutdown: Shutdown) -> Self {
        let epoch = Instant::now();
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

        let (unknown_tx, mut unknown_rx) = mpsc::channel::<String>(1);
        if let Some(sock) = listeners.beacon {
            let known = catalog.clone();
            tasks.spawn(listen::listen(
                sock,
                key,
                relay.clone(),
                epoch,
                move |hex| known.contains(hex),
                unknown_tx,
                shutdown.clone(),
            ));
        }
        {
            let catalog = catalog.clone();
            let mut shutdown = shutdown.clone();
            tasks.spawn(async move {
                loop {
                    let hex = tokio::select! {
                        h = unknown_rx.recv() => match h { Some(h) => h, None => return },
                        _ = shutdown.wait() => return,
                    };
                    let c = catalog.clone();
                    let scanned =
                        catalog::off_runtime(move || c.rescan_if_due(Instant::now())).await;
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
            });
        }

        let https_addr = listeners.https.as_ref().map(|h| h.addr);
        let canonical_url = match (https_addr, &cfg.http.canonical_url) {
            (Some(a), None) => crate::tls::https_url(a, cfg.dns.ipv4),
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
        let state = Arc::new(AppState {
            canonical_url,
            own_hosts,
            release: release.clone(),
            relay: relay.clone(),
            catalog: catalog.clone(),
            metrics: metrics.clone(),
            dns: dns.counters().clone(),
            epoch,
            venue_info_url: cfg.http.venue_info_url.clone(),
        });
        let limits = HttpLimits {
            header_timeout: Duration::from_millis(cfg.http.header_timeout_ms),
            idle_timeout: Duration::from_millis(cfg.http.idle_timeout_ms),
            max_connections: cfg.http.max_connections,
            max_header_bytes: cfg.http.max_header_bytes,
            ..HttpLimits::default()
        };
        let wt_metrics = Arc::new(crate::webtransport::WtMetrics::default());
        let mut http_app = http::router(state.clone());
        if let Some(h) = listeners.https {
            match h.start(
                &mut tasks,
                http_app.clone(),
                &state.canonical_url,
                relay.clone(),
                epoch,
                limits,
                wt_metrics.clone(),
                shutdown.clone(),
            ) {
                Ok(app) => http_app = app,
                Err(error) => tracing::error!(%error, "tls: HTTPS/WebTransport not started"),
            }
        }
        tasks.spawn(http::serve_http(
            listeners.http,
            http_app,
            limits,
            metrics.clone(),
            shutdown,
        ));
        tracing::info!(%http_addr, ?dns_addr, ?https_addr, release = cfg.release, "portal running");
        Self {
            http_addr,
            dns_addr,
            release,
            relay,
            catalog,
            metrics,
            https_addr,
            wt_metrics,
            tasks,
        }
    }

    /// Waits until every service has stopped (after shutdown).
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
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
