//! `portal validate CONFIG`: checks a config file without starting the portal — syntax,
//! unknown keys and ranges ([`Config::load`]), the beacon key (readable, private, not the
//! development key unless allowed), the shows directory (present, every show compiling), and
//! the HTTP, DNS and multicast sockets (by binding them: a port in use or an address this
//! machine does not have is named). Each problem is one line naming the option.

use std::net::{SocketAddr, SocketAddrV4};
use std::path::Path;

use socket2::{Domain, Protocol, Socket, Type};

use crate::catalog::{self, Catalog};
use crate::config::{Config, ConfigError};

pub use crowdlight_proto::report::Report;

/// Why the config could not be checked at all (a usage error rather than an invalid config).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Unreadable(#[from] ConfigError);

/// Checks the config file at `path`.
pub fn check_file(path: &Path) -> Result<Report, Unreadable> {
    match Config::load(path) {
        Ok(cfg) => Ok(check_config(&cfg)),
        Err(e @ ConfigError::Read { .. }) => Err(e.into()),
        Err(e) => Ok(Report {
            problems: vec![e.to_string().replace('\n', " ")],
            notes: Vec::new(),
        }),
    }
}

/// Checks an already parsed configuration.
pub fn check_config(cfg: &Config) -> Report {
    let mut report = Report::default();
    if let Err(e) = crate::app::load_key(cfg) {
        report.problems.push(format!("key-file: {e}"));
    }
    check_shows(cfg, &mut report);
    if let Err(e) = std::net::TcpListener::bind(cfg.http.listen) {
        report.problems.push(format!(
            "http.listen: {}",
            bind_error(cfg.http.listen, "TCP", &e)
        ));
    }
    if let Some(dns) = cfg.dns.listen {
        if let Err(e) = std::net::UdpSocket::bind(dns) {
            report
                .problems
                .push(format!("dns.listen: {}", bind_error(dns, "UDP", &e)));
        }
        if let Err(e) = std::net::TcpListener::bind(dns) {
            report
                .problems
                .push(format!("dns.listen: {}", bind_error(dns, "TCP", &e)));
        }
    }
    if let Err(e) = join_group(cfg) {
        report.problems.push(format!(
            "beacon: cannot join {}:{} on interface {}: {e} (beacon.interface must be this machine's address on the show LAN)",
            cfg.beacon.group, cfg.beacon.port, cfg.beacon.interface
        ));
    }
    report
}

fn bind_error(addr: SocketAddr, proto: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            format!("{proto} {addr} is already in use (another portal or server listens there)")
        }
        std::io::ErrorKind::PermissionDenied => format!(
            "{proto} {addr}: permission denied (ports below 1024 need CAP_NET_BIND_SERVICE: the systemd unit grants it)"
        ),
        std::io::ErrorKind::AddrNotAvailable => {
            format!(
                "{proto} {addr}: {} is not an address of this machine",
                addr.ip()
            )
        }
        _ => format!("{proto} {addr}: {e}"),
    }
}

/// Opens the relay's multicast socket as the portal would (shared port, group joined).
fn join_group(cfg: &Config) -> std::io::Result<()> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(cfg.beacon.group, cfg.beacon.port)).into())?;
    socket.join_multicast_v4(&cfg.beacon.group, &cfg.beacon.interface)
}

fn check_shows(cfg: &Config, report: &mut Report) {
    let dir = catalog::resolve_dir(&cfg.shows);
    if !dir.is_dir() {
        report.problems.push(format!(
            "shows: {} is not a directory (it holds the show sources, *.toml)",
            dir.display()
        ));
        return;
    }
    let catalog = Catalog::new(dir.clone());
    let scan = catalog.scan();
    for failed in &scan.failed {
        report.problems.push(format!("shows: {failed}"));
    }
    if scan.compiled == 0 && scan.failed.is_empty() {
        report.problems.push(format!(
            "shows: no *.toml show in {}: phones would get no show",
            dir.display()
        ));
    } else {
        report.notes.push(format!(
            "shows: {} compiled in {}",
            scan.compiled,
            dir.display()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn config(dir: &Path, mode: u32) -> Config {
        let key = dir.join("venue.key");
        std::fs::write(&key, "ab".repeat(32)).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let mut cfg = Config {
            key_file: Some(key),
            shows: Path::new(env!("CARGO_MANIFEST_DIR")).join("../shows/examples"),
            ..Config::default()
        };
        cfg.http.listen = "127.0.0.1:0".parse().unwrap();
        cfg.dns.listen = Some("127.0.0.1:0".parse().unwrap());
        cfg
    }

    #[test]
    fn a_good_config_passes_and_problems_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let r = check_config(&config(dir.path(), 0o600));
        assert!(r.is_valid(), "{r:?}");

        let r = check_config(&config(dir.path(), 0o640));
        assert!(r.problems[0].starts_with("key-file:"), "{r:?}");

        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut cfg = config(dir.path(), 0o600);
        cfg.http.listen = taken.local_addr().unwrap();
        let r = check_config(&cfg);
        assert!(
            r.problems
                .iter()
                .any(|p| p.starts_with("http.listen") && p.contains("in use")),
            "{r:?}"
        );

        let mut cfg = config(dir.path(), 0o600);
        cfg.shows = dir.path().join("none");
        let r = check_config(&cfg);
        assert!(r.problems.iter().any(|p| p.starts_with("shows:")), "{r:?}");

        let mut cfg = config(dir.path(), 0o600);
        cfg.beacon.interface = "192.0.2.7".parse().unwrap();
        let r = check_config(&cfg);
        assert!(r.problems.iter().any(|p| p.starts_with("beacon:")), "{r:?}");
    }
}
