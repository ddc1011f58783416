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
//! long-poll-wait-ms = 29000                  # longest hold of /s?after=V (at most 30000)
//! venue-info-url = "https://example.org/"    # optional, RFC 8908 `venue-info-url`
//!
//! [dns]
//! listen = "127.0.0.1:8053"            # UDP and TCP; "" disables DNS
//! ipv4 = "127.0.0.1"                   # answer for every A query; a list of relays, e.g.
//!                                      # ["10.0.0.2", "10.0.0.3"], is answered in rotated order
//! # ipv6 = "fd00::1"                   # answer for AAAA, one or a list (default: empty NOERROR)
//! ttl = 10
//! rate-per-address = 50                # UDP queries per second per source address (burst 2x)
//! max-tcp-per-address = 8              # DNS-over-TCP connections per source address
//! exempt-addresses = []                # e.g. a resolver or cache in front: no per-address caps
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
        /// The config file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// File is not valid config TOML.
    #[error("{path}: {source}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The TOML error, with line and column.
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

/// Most addresses in `[dns] ipv4` or `ipv6` (answers stay far below 512 bytes).
pub const MAX_DNS_ADDRESSES: usize = 16;

/// `[dns]`. `ipv4` and `ipv6` accept one address or a list (several relays, answered in
/// rotated order so phones spread over them); the first of each list is the portal's own
/// address (used where one address is needed, e.g. the default canonical URL).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(try_from = "RawDnsConfig")]
pub struct DnsConfig {
    /// Listen address for UDP and TCP; `None` (written `listen = ""`) disables DNS.
    pub listen: Option<SocketAddr>,
    /// First (own) address answered to A queries.
    pub ipv4: Ipv4Addr,
    /// First (own) address answered to AAAA queries (else empty NOERROR).
    pub ipv6: Option<Ipv6Addr>,
    /// Every address answered to A queries, `ipv4` first (never empty).
    pub ipv4_all: Vec<Ipv4Addr>,
    /// Every address answered to AAAA queries, `ipv6` first (empty when `ipv6` is `None`).
    pub ipv6_all: Vec<Ipv6Addr>,
    /// Answer TTL, seconds.
    pub ttl: u32,
    /// UDP queries per second allowed per source address (bursts of twice that); 0 = no limit.
    pub rate_per_address: u32,
    /// Simultaneous DNS-over-TCP connections per source address.
    pub max_tcp_per_address: usize,
    /// Source addresses exempt from the per-address limits (a resolver or cache in front).
    pub exempt_addresses: Vec<std::net::IpAddr>,
}

/// One value or a list of them.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(x) => vec![x],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `[dns]` as written in the file.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
struct RawDnsConfig {
    #[serde(deserialize_with = "empty_is_none")]
    listen: Option<SocketAddr>,
    ipv4: OneOrMany<Ipv4Addr>,
    ipv6: Option<OneOrMany<Ipv6Addr>>,
    ttl: u32,
    rate_per_address: u32,
    max_tcp_per_address: usize,
    exempt_addresses: Vec<std::net::IpAddr>,
}

impl Default for RawDnsConfig {
    fn default() -> Self {
        let d = DnsConfig::default();
        Self {
            listen: d.listen,
            ipv4: OneOrMany::One(d.ipv4),
            ipv6: None,
            ttl: d.ttl,
            rate_per_address: d.rate_per_address,
            max_tcp_per_address: d.max_tcp_per_address,
            exempt_addresses: d.exempt_addresses,
        }
    }
}

impl TryFrom<RawDnsConfig> for DnsConfig {
    type Error = String;

    fn try_from(raw: RawDnsConfig) -> Result<Self, String> {
        let mut c = DnsConfig {
            listen: raw.listen,
            ttl: raw.ttl,
            rate_per_address: raw.rate_per_address,
            max_tcp_per_address: raw.max_tcp_per_address,
            exempt_addresses: raw.exempt_addresses,
            ..DnsConfig::default()
        };
        c.set_ipv4(raw.ipv4.into_vec())?;
        c.set_ipv6(raw.ipv6.map(OneOrMany::into_vec).unwrap_or_default())?;
        Ok(c)
    }
}

/// A list of answer addresses must be non-empty (IPv4), short and without duplicates.
fn check_addresses<T: PartialEq + std::fmt::Display>(
    key: &str,
    list: &[T],
    may_be_empty: bool,
) -> Result<(), String> {
    if list.is_empty() && !may_be_empty {
        return Err(format!("dns.{key} needs at least one address"));
    }
    if list.len() > MAX_DNS_ADDRESSES {
        return Err(format!(
            "dns.{key} has {} addresses; at most {MAX_DNS_ADDRESSES} are allowed",
            list.len()
        ));
    }
    for (i, a) in list.iter().enumerate() {
        if list[..i].contains(a) {
            return Err(format!("dns.{key} lists {a} twice"));
        }
    }
    Ok(())
}

impl DnsConfig {
    /// Sets the A answers (non-empty, no duplicates); the first is the portal's own.
    pub fn set_ipv4(&mut self, list: Vec<Ipv4Addr>) -> Result<(), String> {
        check_addresses("ipv4", &list, false)?;
        self.ipv4 = list[0];
        self.ipv4_all = list;
        Ok(())
    }

    /// Sets the AAAA answers (no duplicates; empty = empty NOERROR).
    pub fn set_ipv6(&mut self, list: Vec<Ipv6Addr>) -> Result<(), String> {
        check_addresses("ipv6", &list, true)?;
        self.ipv6 = list.first().copied();
        self.ipv6_all = list;
        Ok(())
    }
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
            long_poll_wait_ms: 29_000,
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
            ipv4_all: vec![Ipv4Addr::LOCALHOST],
            ipv6_all: Vec::new(),
            ttl: 10,
            rate_per_address: 50,
            max_tcp_per_address: 8,
            exempt_addresses: Vec::new(),
        }
    }
}

impl Default for BeaconConfig {
    fn default() -> Self {
        Self {
            group: crowdlight_proto::DEFAULT_GROUP,
            port: crowdlight_proto::DEFAULT_PORT,
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
        if self.dns.max_tcp_per_address == 0 {
            return bad("dns.max-tcp-per-address must be at least 1");
        }
        if self.dns.ipv4_all.first() != Some(&self.dns.ipv4)
            || self.dns.ipv6_all.first() != self.dns.ipv6.as_ref()
        {
            return bad(
                "dns.ipv4 / dns.ipv6 disagree with their address lists (set both with DnsConfig::set_ipv4 / set_ipv6)",
            );
        }
        check_addresses("ipv4", &self.dns.ipv4_all, false).map_err(ConfigError::Invalid)?;
        check_addresses("ipv6", &self.dns.ipv6_all, true).map_err(ConfigError::Invalid)?;
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

    /// Every `[value]` the shipped config/portal.toml states as the default of the key below it
    /// is the real default: set alone in a file, it yields exactly `Config::default()`.
    /// (Bracketed rules such as `[http://<listen ip…>]` are not values and are passed over.)
    #[test]
    fn the_example_config_states_the_real_defaults() {
        let text = include_str!("../../config/portal.toml");
        let (mut section, mut stated, mut checked) = (String::new(), None::<String>, 0);
        for line in text.lines().map(str::trim) {
            if let Some(comment) = line.strip_prefix('#') {
                let comment = comment.trim_end();
                if comment.ends_with(']')
                    && let Some(open) = comment.rfind(" [")
                {
                    stated = Some(comment[open + 2..comment.len() - 1].to_owned());
                }
                continue;
            }
            if line.starts_with('[') {
                section = format!("{line}\n");
                stated = None;
                continue;
            }
            let (Some(value), Some((key, _))) = (stated.take(), line.split_once(" = ")) else {
                continue;
            };
            let parse = |v: &str| toml::from_str::<Config>(&format!("{section}{key} = {v}\n"));
            // Not values: "absent"/"none", and rules with a <placeholder>.
            if value == "absent" || value == "none" || value.contains('<') {
                continue;
            }
            let Ok(parsed) = parse(&value).or_else(|_| parse(&format!("{value:?}"))) else {
                continue;
            };
            assert_eq!(
                parsed,
                Config::default(),
                "config/portal.toml says {section}{key} defaults to [{value}]"
            );
            checked += 1;
        }
        assert!(checked >= 12, "only {checked} stated defaults were checked");
    }

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
    fn dns_addresses_are_one_or_a_list_without_duplicates() {
        let path = Path::new("x.toml");
        let c = Config::from_toml("[dns]\nipv4 = \"10.0.0.2\"\n", path).unwrap();
        assert_eq!(c.dns.ipv4_all, [Ipv4Addr::new(10, 0, 0, 2)]);
        let c = Config::from_toml(
            "[dns]\nipv4 = [\"10.0.0.2\", \"10.0.0.3\"]\nipv6 = [\"fd00::2\", \"fd00::3\"]\n",
            path,
        )
        .unwrap();
        assert_eq!(c.dns.ipv4, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(c.dns.ipv4_all.len(), 2);
        assert_eq!(c.dns.ipv6, Some("fd00::2".parse().unwrap()));
        assert_eq!(c.dns.ipv6_all.len(), 2);
        assert_eq!(c.dns.max_tcp_per_address, 8);
        for (bad, why) in [
            ("ipv4 = []", "at least one"),
            ("ipv4 = [\"10.0.0.2\", \"10.0.0.2\"]", "twice"),
            ("ipv6 = [\"fd00::1\", \"fd00::1\"]", "twice"),
            ("ipv4 = [\"nope\"]", "ipv4"),
            ("max-tcp-per-address = 0", "at least 1"),
        ] {
            let e = Config::from_toml(&format!("[dns]\n{bad}\n"), path).unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
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
