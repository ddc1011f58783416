//! Portal configuration: TOML file (kebab-case, unknown fields rejected) whose every field
//! defaults to the loopback demo value; CLI flags override single fields.
//!
//! ```toml
//! release = false                      # true after the show: answer probes "online"
//! shows = "shows/examples"             # directory of *.toml shows
//! key-file = "/etc/crowdlight/venue.key"  # beacon key (hex); absent = development key
//! allow-dev-key = false                # production refuses the development key
//!
//! [http]
//! listen = "127.0.0.1:8080"
//! canonical-url = "http://10.0.0.1/"         # where probes / foreign hosts are sent; default:
//!                                            # http://<listen ip, or dns.ipv4 if 0.0.0.0>[:port]/
//! host-aliases = ["localhost"]               # extra Host names served as the portal itself
//! header-timeout-ms = 5000                   # whole request head must arrive within this
//! idle-timeout-ms = 15000                    # keep-alive connection with no traffic is closed
//! max-connections = 8192                     # HTTP + HTTPS; further ones wait in the backlog
//! max-connections-per-address = 16           # one address beyond this is closed at once
//! exempt-addresses = ["10.0.0.2"]            # no per-address cap (a cache or proxy in front)
//! max-header-bytes = 16384
//! long-poll-wait-ms = 25000                  # longest hold of /s?after=V (at most 30000)
//! venue-info-url = "https://example.org/"    # optional, RFC 8908 `venue-info-url`
//!
//! [dns]
//! listen = "127.0.0.1:8053"            # UDP and TCP; "" disables DNS
//! ipv4 = "127.0.0.1"                   # answer for every A query
//! # ipv6 = "fd00::1"                   # answer for AAAA (default: empty NOERROR)
//! ttl = 10
//!
//! [beacon]
//! group = "239.255.77.77"
//! port = 7777
//! interface = "127.0.0.1"
//!
//! [tls]                                # optional: HTTPS on TCP + WebTransport on UDP
//! cert = "/etc/crowdlight/fullchain.pem"
//! key = "/etc/crowdlight/privkey.pem"  # both re-read on SIGHUP
//! listen = "127.0.0.1:8443"
//! wt-max-sessions = 10000
//! wt-idle-timeout-ms = 30000
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// File could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// File is not valid config TOML.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why (with line/column).
        source: toml::de::Error,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// Whole portal configuration.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Release phones after the show: probes get their "online" answers.
    pub release: bool,
    /// Directory of show sources (`*.toml`).
    pub shows: PathBuf,
    /// Beacon key file (hex); `None` = development key (needs `allow-dev-key` or `--dev`).
    pub key_file: Option<PathBuf>,
    /// Accept the development key.
    pub allow_dev_key: bool,
    /// HTTP server.
    pub http: HttpConfig,
    /// Captive DNS.
    pub dns: DnsConfig,
    /// Beacon multicast.
    pub beacon: BeaconConfig,
    /// HTTPS + WebTransport (`[tls]`); absent = plain HTTP only.
    pub tls: Option<TlsConfig>,
}

/// `[http]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// The page's canonical URL (probes and foreign hosts are redirected here); `None` =
    /// derived from the bound address (see [`Config::canonical_url_for`]).
    pub canonical_url: Option<String>,
    /// More `Host` names treated as the portal itself.
    pub host_aliases: Vec<String>,
    /// Request-head read timeout, ms.
    pub header_timeout_ms: u64,
    /// Keep-alive idle timeout, ms.
    pub idle_timeout_ms: u64,
    /// Cap on simultaneously open connections (HTTP and HTTPS together).
    pub max_connections: usize,
    /// Cap on simultaneously open connections from one source address (a phone's browser
    /// opens at most 6 per host); a connection beyond it is closed at once and counted.
    pub max_connections_per_address: usize,
    /// Source addresses without the per-address cap (a cache or proxy in front).
    pub exempt_addresses: Vec<IpAddr>,
    /// Longest hold of a `/s?after=V` long-poll, ms (at most 30000).
    pub long_poll_wait_ms: u64,
    /// Largest accepted request head, bytes (≥ 8192).
    pub max_header_bytes: usize,
    /// RFC 8908 `venue-info-url`.
    pub venue_info_url: Option<String>,
}

/// `[dns]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct DnsConfig {
    /// Listen address for UDP and TCP; `None` (written `listen = ""`) disables DNS.
    #[serde(deserialize_with = "empty_is_none")]
    pub listen: Option<SocketAddr>,
    /// Answer to every A query.
    pub ipv4: Ipv4Addr,
    /// Answer to AAAA queries (else empty NOERROR).
    pub ipv6: Option<Ipv6Addr>,
    /// Answer TTL, seconds.
    pub ttl: u32,
}

/// `[beacon]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct BeaconConfig {
    /// Multicast group.
    pub group: Ipv4Addr,
    /// UDP port.
    pub port: u16,
    /// Interface address to join on.
    pub interface: Ipv4Addr,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            release: false,
            shows: PathBuf::from("shows/examples"),
            key_file: None,
            allow_dev_key: false,
            http: HttpConfig::default(),
            dns: DnsConfig::default(),
            beacon: BeaconConfig::default(),
            tls: None,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            canonical_url: None,
            host_aliases: vec!["localhost".into()],
            header_timeout_ms: 5000,
            idle_timeout_ms: 15000,
            max_connections: 8192,
            max_connections_per_address: 16,
            exempt_addresses: Vec::new(),
            max_header_bytes: 16384,
            long_poll_wait_ms: 25_000,
            venue_info_url: None,
        }
    }
}

/// `[tls]`: HTTPS on TCP and WebTransport on UDP, both on `listen`.
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

/// `""` means "off"; anything else must be a socket address.
fn empty_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.trim()
        .parse()
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("invalid address {s:?}: {e}")))
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8053))),
            ipv4: Ipv4Addr::LOCALHOST,
            ipv6: None,
            ttl: 10,
        }
    }
}

impl Default for BeaconConfig {
    fn default() -> Self {
        Self {
            group: Ipv4Addr::new(239, 255, 77, 77),
            port: 7777,
            interface: Ipv4Addr::LOCALHOST,
        }
    }
}

impl Config {
    /// The loopback demo configuration (`portal run --dev`).
    pub fn dev() -> Self {
        Self {
            allow_dev_key: true,
            ..Self::default()
        }
    }

    /// Parses a config file.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Checks ranges and consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if !self.beacon.group.is_multicast() {
            return bad("beacon.group must be an IPv4 multicast address");
        }
        if self.http.max_header_bytes < 8192 {
            return bad("http.max-header-bytes must be at least 8192");
        }
        if self.http.max_connections == 0 {
            return bad("http.max-connections must be at least 1");
        }
        if self.http.max_connections_per_address == 0 {
            return bad("http.max-connections-per-address must be at least 1");
        }
        if !(1..=30_000).contains(&self.http.long_poll_wait_ms) {
            return bad("http.long-poll-wait-ms must be between 1 and 30000");
        }
        if self.http.header_timeout_ms == 0 || self.http.idle_timeout_ms == 0 {
            return bad("http timeouts must be positive");
        }
        if let Some(url) = &self.http.canonical_url
            && (!(url.starts_with("http://") || url.starts_with("https://"))
                || http::Uri::try_from(url.as_str()).map_or(true, |u| u.host().is_none()))
        {
            return bad("http.canonical-url must be an absolute http(s) URL");
        }
        if let Some(tls) = &self.tls {
            tls.validate()
                .map_err(|m| ConfigError::Invalid(m.to_string()))?;
        }
        Ok(())
    }

    /// The canonical URL given the HTTP address actually bound: the configured one, else
    /// `http://<ip>[:port]/` with the listen IP (or `dns.ipv4` when listening on all
    /// addresses) and the port unless it is 80.
    pub fn canonical_url_for(&self, bound: SocketAddr) -> String {
        if let Some(url) = &self.http.canonical_url {
            return url.clone();
        }
        page_url("http", 80, bound, self.dns.ipv4)
    }
}

/// `<scheme>://<ip>[:port]/` for a bound address: the port is omitted when it is the scheme's
/// `default_port`, and `fallback_ip` replaces an unspecified listen IP.
pub fn page_url(
    scheme: &str,
    default_port: u16,
    bound: SocketAddr,
    fallback_ip: Ipv4Addr,
) -> String {
    let ip = if bound.ip().is_unspecified() {
        std::net::IpAddr::V4(fallback_ip)
    } else {
        bound.ip()
    };
    let host = match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
    };
    match bound.port() {
        port if port == default_port => format!("{scheme}://{host}/"),
        port => format!("{scheme}://{host}:{port}/"),
    }
}

/// The host part of a URL (lowercase, no port, no brackets).
pub fn url_host(url: &str) -> String {
    http::Uri::try_from(url)
        .ok()
        .and_then(|u| {
            u.host()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_dev_defaults_without_dev_key() {
        let c = Config::from_toml("", Path::new("x.toml")).unwrap();
        assert_eq!(c.http.listen.port(), 8080);
        assert!(!c.allow_dev_key);
        assert_eq!(c.canonical_url_for(c.http.listen), "http://127.0.0.1:8080/");
        assert_eq!(
            c.canonical_url_for("0.0.0.0:80".parse().unwrap()),
            "http://127.0.0.1/"
        );
    }

    #[test]
    fn dns_listen_empty_disables_dns() {
        let path = Path::new("x.toml");
        let c = Config::from_toml("[dns]\nlisten = \"\"\n", path).unwrap();
        assert_eq!(c.dns.listen, None);
        let c = Config::from_toml("[dns]\nlisten = \"127.0.0.1:53\"\n", path).unwrap();
        assert_eq!(c.dns.listen, Some("127.0.0.1:53".parse().unwrap()));
        let e = Config::from_toml("[dns]\nlisten = \"nope\"\n", path).unwrap_err();
        assert!(e.to_string().contains("invalid address"), "{e}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = Config::from_toml(
            "[http]\nlisten-addr = \"1.2.3.4:80\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("listen-addr"), "{e}");
    }

    #[test]
    fn kebab_case_fields() {
        let c = Config::from_toml(
            "release = true\n[http]\ncanonical-url = \"http://show.lan/\"\nmax-connections = 5\n[dns]\nttl = 30\nipv6 = \"fd00::1\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert!(c.release);
        assert_eq!(c.http.max_connections, 5);
        assert_eq!(c.dns.ttl, 30);
        assert_eq!(url_host(&c.canonical_url_for(c.http.listen)), "show.lan");
        let c = Config::from_toml(
            "[http]\nmax-connections-per-address = 6\nexempt-addresses = [\"10.0.0.2\", \"fd00::2\"]\nlong-poll-wait-ms = 30000\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.http.max_connections_per_address, 6);
        assert_eq!(c.http.exempt_addresses.len(), 2);
        assert!(Config::from_toml("[http]\nlong-poll-wait-ms = 30001\n", Path::new("x")).is_err());
    }
}
