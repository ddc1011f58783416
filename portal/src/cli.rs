//! Command-line flags of `portal run` and how they override the configuration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use crate::config::{Config, ConfigError};

/// `portal run` flags. Each overrides the same-named config field.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct RunArgs {
    /// Development mode: loopback demo defaults and the public development key.
    #[arg(long)]
    pub dev: bool,
    /// TOML config file (kebab-case keys; unknown keys are an error).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTP listen address [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// DNS listen address, UDP and TCP [default: 127.0.0.1:8053].
    #[arg(long, value_name = "ADDR")]
    pub dns: Option<SocketAddr>,
    /// Do not run the DNS server.
    #[arg(long, conflicts_with = "dns")]
    pub no_dns: bool,
    /// IPv4 address every DNS A query resolves to [default: 127.0.0.1].
    #[arg(long, value_name = "IP")]
    pub portal_ip: Option<Ipv4Addr>,
    /// IPv6 address for AAAA queries [default: none, empty answer].
    #[arg(long, value_name = "IP")]
    pub portal_ipv6: Option<Ipv6Addr>,
    /// DNS answer TTL, seconds [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub dns_ttl: Option<u32>,
    /// The page's canonical URL; probes and foreign hosts redirect here
    /// [default: http://<HTTP listen IP, or --portal-ip if 0.0.0.0>[:port]/].
    #[arg(long, value_name = "URL")]
    pub canonical_url: Option<String>,
    /// Beacon multicast group [default: 239.255.77.77].
    #[arg(long, value_name = "IP")]
    pub group: Option<Ipv4Addr>,
    /// Beacon multicast port [default: 7777].
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Address of the interface to join the group on [default: 127.0.0.1].
    #[arg(long, value_name = "IP")]
    pub interface: Option<Ipv4Addr>,
    /// Beacon key file (64 hex chars or 32 raw bytes) [default: the development key, --dev only].
    #[arg(long = "key-file", alias = "key", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Directory of show sources (*.toml) [default: shows/examples].
    #[arg(long, value_name = "DIR")]
    pub shows: Option<PathBuf>,
    /// Release phones: answer connectivity checks as "online" (after the show).
    #[arg(long)]
    pub release: bool,
    /// Request-head read timeout, ms [default: 5000].
    #[arg(long, value_name = "MS")]
    pub header_timeout_ms: Option<u64>,
    /// Close connections with no traffic for this long, ms [default: 15000].
    #[arg(long, value_name = "MS")]
    pub idle_timeout_ms: Option<u64>,
    /// Most simultaneously open HTTP + HTTPS connections [default: 8192].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Most simultaneously open connections from one source address; more are closed at once
    /// [default: 16].
    #[arg(long, value_name = "N")]
    pub max_connections_per_address: Option<usize>,
    /// A source address without the per-address cap, e.g. a cache or proxy in front
    /// (repeatable; adds to the config's `exempt-addresses`).
    #[arg(long = "exempt-address", value_name = "IP")]
    pub exempt_addresses: Vec<IpAddr>,
    /// Longest hold of a `/s?after=V` long-poll, ms [default: 25000, at most 30000].
    #[arg(long, value_name = "MS")]
    pub long_poll_wait_ms: Option<u64>,
    /// PEM certificate chain: serve HTTPS + WebTransport (needs --tls-key; SIGHUP reloads).
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// HTTPS (TCP) and WebTransport (UDP) listen address [default: 127.0.0.1:8443].
    #[arg(long, value_name = "ADDR")]
    pub https: Option<SocketAddr>,
    /// Most simultaneously open WebTransport sessions [default: 10000].
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
        if let Some(v) = self.portal_ip {
            c.dns.ipv4 = v;
        }
        if let Some(v) = self.portal_ipv6 {
            c.dns.ipv6 = Some(v);
        }
        if let Some(v) = self.dns_ttl {
            c.dns.ttl = v;
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
