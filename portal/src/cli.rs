//! Command-line flags of `portal run` and how they override the configuration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use crate::config::{Config, ConfigError, TlsConfig};

/// `portal run` flags. Each overrides the same-named config field.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct RunArgs {
    /// Development mode: loopback demo defaults and the public development key.
    #[arg(long)]
    pub dev: bool,
    /// TOML config file (kebab-case keys; unknown keys are an error).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTP listen address.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// DNS listen address, UDP and TCP.
    #[arg(long, value_name = "ADDR")]
    pub dns: Option<SocketAddr>,
    /// Do not run the DNS server.
    #[arg(long, conflicts_with = "dns")]
    pub no_dns: bool,
    /// IPv4 address every DNS A query resolves to; repeat for several relays, answered in
    /// rotated order (`[dns] ipv4`).
    #[arg(long = "ipv4", visible_alias = "portal-ip", value_name = "IP")]
    pub portal_ip: Vec<Ipv4Addr>,
    /// IPv6 address for AAAA queries; repeatable like --ipv4 (none: an empty answer).
    #[arg(long = "ipv6", visible_alias = "portal-ipv6", value_name = "IP")]
    pub portal_ipv6: Vec<Ipv6Addr>,
    /// DNS answer TTL, seconds.
    #[arg(long, value_name = "SECONDS")]
    pub dns_ttl: Option<u32>,
    /// UDP DNS queries per second per source address, bursts twice that; 0 = unlimited.
    #[arg(long, value_name = "N")]
    pub rate_per_address: Option<u32>,
    /// Simultaneous DNS-over-TCP connections per source address.
    #[arg(long, value_name = "N")]
    pub max_tcp_per_address: Option<usize>,
    /// The page's canonical URL; probes and foreign hosts redirect here (default:
    /// http://<HTTP listen IP, or the first --ipv4 if 0.0.0.0>[:port]/).
    #[arg(long, value_name = "URL")]
    pub canonical_url: Option<String>,
    /// Beacon multicast group.
    #[arg(long, value_name = "IP")]
    pub group: Option<Ipv4Addr>,
    /// Beacon multicast port.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Address of the interface to join the group on.
    #[arg(long, value_name = "IP")]
    pub interface: Option<Ipv4Addr>,
    /// Beacon key file (64 hex chars or 32 raw bytes); without it only --dev runs, on the development key.
    #[arg(long = "key-file", alias = "key", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Directory of show sources (*.toml).
    #[arg(long, value_name = "DIR")]
    pub shows: Option<PathBuf>,
    /// Release phones: answer connectivity checks as "online" (after the show).
    #[arg(long)]
    pub release: bool,
    /// Request-head read timeout, ms.
    #[arg(long, value_name = "MS")]
    pub header_timeout_ms: Option<u64>,
    /// Close connections with no traffic for this long, ms.
    #[arg(long, value_name = "MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Most simultaneously open HTTP + HTTPS connections.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Most simultaneously open connections from one source address; more are closed at once.
    #[arg(long, value_name = "N")]
    pub max_connections_per_address: Option<usize>,
    /// A source address without the per-address cap, e.g. a cache or proxy in front
    /// (repeatable; adds to the config's `exempt-addresses`).
    #[arg(long = "exempt-address", value_name = "IP")]
    pub exempt_addresses: Vec<IpAddr>,
    /// Longest hold of a `/s?after=V` long-poll, ms (at most 30000).
    #[arg(long, value_name = "MS")]
    pub long_poll_wait_ms: Option<u64>,
    /// PEM certificate chain: serve HTTPS + WebTransport (needs --tls-key; SIGHUP reloads).
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// HTTPS (TCP) and WebTransport (UDP) listen address.
    #[arg(long, value_name = "ADDR")]
    pub https: Option<SocketAddr>,
    /// Most simultaneously open WebTransport sessions.
    #[arg(long, value_name = "N")]
    pub wt_max_sessions: Option<usize>,
}

impl RunArgs {
    /// Builds the effective configuration: file (or defaults), then flags.
    pub fn to_config(&self) -> Result<Config, ConfigError> {
        let mut c = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if self.dev {
            c.allow_dev_key = true;
        }
        if let Some(v) = self.http {
            c.http.listen = v;
        }
        if let Some(v) = self.dns {
            c.dns.listen = Some(v);
        }
        if self.no_dns {
            c.dns.listen = None;
        }
        if !self.portal_ip.is_empty() {
            c.dns
                .set_ipv4(self.portal_ip.clone())
                .map_err(ConfigError::Invalid)?;
        }
        if !self.portal_ipv6.is_empty() {
            c.dns
                .set_ipv6(self.portal_ipv6.clone())
                .map_err(ConfigError::Invalid)?;
        }
        if let Some(v) = self.dns_ttl {
            c.dns.ttl = v;
        }
        if let Some(v) = self.rate_per_address {
            c.dns.rate_per_address = v;
        }
        if let Some(v) = self.max_tcp_per_address {
            c.dns.max_tcp_per_address = v;
        }
        if let Some(v) = &self.canonical_url {
            c.http.canonical_url = Some(v.clone());
        }
        if let Some(v) = self.group {
            c.beacon.group = v;
        }
        if let Some(v) = self.port {
            c.beacon.port = v;
        }
        if let Some(v) = self.interface {
            c.beacon.interface = v;
        }
        if let Some(v) = &self.key {
            c.key_file = Some(v.clone());
        }
        if let Some(v) = &self.shows {
            c.shows = v.clone();
        }
        if self.release {
            c.release = true;
        }
        if let Some(v) = self.header_timeout_ms {
            c.http.header_timeout_ms = v;
        }
        if let Some(v) = self.idle_timeout_ms {
            c.http.idle_timeout_ms = v;
        }
        if let Some(v) = self.max_connections {
            c.http.max_connections = v;
        }
        if let Some(v) = self.max_connections_per_address {
            c.http.max_connections_per_address = v;
        }
        c.http
            .exempt_addresses
            .extend(self.exempt_addresses.iter().copied());
        if let Some(v) = self.long_poll_wait_ms {
            c.http.long_poll_wait_ms = v;
        }
        if self.tls_cert.is_some()
            || self.tls_key.is_some()
            || self.https.is_some()
            || self.wt_max_sessions.is_some()
        {
            let t = c.tls.get_or_insert_with(Default::default);
            if let Some(v) = &self.tls_cert {
                t.cert = v.clone();
            }
            if let Some(v) = &self.tls_key {
                t.key = v.clone();
            }
            if let Some(v) = self.https {
                t.listen = v;
            }
            if let Some(v) = self.wt_max_sessions {
                t.wt_max_sessions = v;
            }
        }
        c.validate()?;
        Ok(c)
    }
}

/// The `[default: …]` each `portal run` flag shows in `--help`: the configuration `portal run
/// --dev` starts with when neither a file nor the flag sets it (argument id → value).
pub fn flag_defaults() -> Vec<(&'static str, String)> {
    let c = RunArgs {
        dev: true,
        ..RunArgs::default()
    }
    .to_config()
    .expect("the built-in defaults are a valid configuration");
    let join = |items: Vec<String>| items.join(", ");
    let tls = TlsConfig::default();
    vec![
        ("http", c.http.listen.to_string()),
        (
            "dns",
            c.dns.listen.map_or("off".to_owned(), |a| a.to_string()),
        ),
        (
            "portal_ip",
            join(c.dns.ipv4_all.iter().map(ToString::to_string).collect()),
        ),
        ("dns_ttl", c.dns.ttl.to_string()),
        ("rate_per_address", c.dns.rate_per_address.to_string()),
        ("max_tcp_per_address", c.dns.max_tcp_per_address.to_string()),
        ("group", c.beacon.group.to_string()),
        ("port", c.beacon.port.to_string()),
        ("interface", c.beacon.interface.to_string()),
        ("shows", c.shows.display().to_string()),
        ("header_timeout_ms", c.http.header_timeout_ms.to_string()),
        ("idle_timeout_ms", c.http.idle_timeout_ms.to_string()),
        ("max_connections", c.http.max_connections.to_string()),
        (
            "max_connections_per_address",
            c.http.max_connections_per_address.to_string(),
        ),
        ("long_poll_wait_ms", c.http.long_poll_wait_ms.to_string()),
        ("https", tls.listen.to_string()),
        ("wt_max_sessions", tls.wt_max_sessions.to_string()),
    ]
}
