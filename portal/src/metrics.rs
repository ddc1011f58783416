//! The HTTP/HTTPS counters and the one `/metrics` renderer (Prometheus text format 0.0.4) for
//! every counter of the process: HTTP and HTTPS, WebTransport, DNS and the beacon relay. Every
//! family is written with `# HELP` and `# TYPE` (a test parses the output to keep it so).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::captive::ProbeOs;
use crate::http_server::{AppState, Scheme};
use crate::relay::render::{STATE_LABELS, state_index};

/// HTTP-side counters, both schemes.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    probes: [AtomicU64; 7],
    open: [AtomicI64; 2],
    accepted: [AtomicU64; 2],
    /// Connections closed by the idle (no progress) timer.
    pub idle_closed: AtomicU64,
    /// Connections closed because a request head (or the next one) did not arrive in time.
    pub header_timeouts: AtomicU64,
    /// Connections closed at once because their address held its cap already.
    pub refused_per_address: AtomicU64,
    /// TLS handshakes that failed or timed out.
    pub tls_errors: AtomicU64,
    /// `/s?after=V` requests parked right now.
    pub listeners: AtomicI64,
}

impl HttpMetrics {
    /// Counts one answered request by route label and status.
    pub fn count_request(&self, route: &'static str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route, status)).or_default() += 1;
        }
    }

    /// Counts one captive probe.
    pub fn count_probe(&self, os: ProbeOs) {
        self.probes[os.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an accepted connection (open until [`HttpMetrics::connection_closed`]).
    pub fn connection_opened(&self, scheme: Scheme) {
        self.accepted[scheme as usize].fetch_add(1, Ordering::Relaxed);
        self.open[scheme as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a closed connection.
    pub fn connection_closed(&self, scheme: Scheme) {
        self.open[scheme as usize].fetch_sub(1, Ordering::Relaxed);
    }

    /// Connections open now.
    pub fn open_connections(&self, scheme: Scheme) -> i64 {
        self.open[scheme as usize].load(Ordering::Relaxed)
    }

    /// Requests counted for `route` with `status`.
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        self.requests
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|((r, s), _)| *r == route && *s == status)
                    .map(|(_, n)| *n)
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// Writes the `# HELP` and `# TYPE` lines of a family.
fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// Renders every metric of the process.
pub fn render(app: &AppState) -> String {
    let mut o = String::with_capacity(6144);
    let r = Ordering::Relaxed;
    let http = &app.metrics;
    family(
        &mut o,
        "portal_http_requests_total",
        "counter",
        "HTTP and HTTPS requests answered, by route and status.",
    );
    if let Ok(m) = http.requests.lock() {
        for ((route, status), n) in m.iter() {
            let _ = writeln!(
                o,
                "portal_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
    }
    family(
        &mut o,
        "portal_captive_probes_total",
        "counter",
        "Connectivity checks seen, by OS.",
    );
    for os in ProbeOs::ALL {
        let _ = writeln!(
            o,
            "portal_captive_probes_total{{os=\"{}\"}} {}",
            os.label(),
            http.probes[os.index()].load(r)
        );
    }
    family(
        &mut o,
        "portal_http_open_connections",
        "gauge",
        "HTTP connections open now, by scheme.",
    );
    for s in Scheme::ALL {
        let _ = writeln!(
            o,
            "portal_http_open_connections{{scheme=\"{}\"}} {}",
            s.label(),
            http.open[s as usize].load(r)
        );
    }
    family(
        &mut o,
        "portal_http_connections_total",
        "counter",
        "HTTP connections accepted since start, by scheme.",
    );
    for s in Scheme::ALL {
        let _ = writeln!(
            o,
            "portal_http_connections_total{{scheme=\"{}\"}} {}",
            s.label(),
            http.accepted[s as usize].load(r)
        );
    }
    for (name, help, c) in [
        (
            "portal_http_idle_closed_total",
            "Connections closed because no byte moved for the idle timeout.",
            &http.idle_closed,
        ),
        (
            "portal_http_header_timeouts_total",
            "Connections closed because a request head did not arrive within the header timeout.",
            &http.header_timeouts,
        ),
        (
            "portal_http_refused_per_address_total",
            "Connections closed at once because their source address held its cap already.",
            &http.refused_per_address,
        ),
        (
            "portal_https_tls_errors_total",
            "HTTPS TLS handshakes that failed or timed out.",
            &http.tls_errors,
        ),
    ] {
        family(&mut o, name, "counter", help);
        let _ = writeln!(o, "{name} {}", c.load(r));
    }
    family(
        &mut o,
        "portal_listeners",
        "gauge",
        "Phones with a parked /s long-poll right now.",
    );
    let _ = writeln!(o, "portal_listeners {}", http.listeners.load(r));

    let wt = &app.webtransport;
    family(
        &mut o,
        "portal_wt_sessions_open",
        "gauge",
        "WebTransport sessions open now.",
    );
    let _ = writeln!(o, "portal_wt_sessions_open {}", wt.sessions_open.load(r));
    for (name, help, c) in [
        (
            "portal_wt_sessions_total",
            "WebTransport sessions accepted since start.",
            &wt.sessions_total,
        ),
        (
            "portal_wt_sessions_refused_total",
            "WebTransport session requests refused at the session cap.",
            &wt.sessions_refused,
        ),
        (
            "portal_wt_sessions_idle_closed_total",
            "WebTransport sessions ended by the QUIC idle timeout.",
            &wt.sessions_idle_closed,
        ),
        (
            "portal_wt_handshake_errors_total",
            "QUIC handshakes or WebTransport session requests that failed.",
            &wt.handshake_errors,
        ),
    ] {
        family(&mut o, name, "counter", help);
        let _ = writeln!(o, "{name} {}", c.load(r));
    }
    family(
        &mut o,
        "portal_wt_datagrams_total",
        "counter",
        "WebTransport datagrams by kind.",
    );
    for (kind, c) in [
        ("time", &wt.time_requests),
        ("state", &wt.state_datagrams),
        ("bad", &wt.bad_datagrams),
        ("send_error", &wt.send_errors),
    ] {
        let _ = writeln!(
            o,
            "portal_wt_datagrams_total{{kind=\"{kind}\"}} {}",
            c.load(r)
        );
    }

    let dns = &app.dns;
    family(
        &mut o,
        "portal_dns_queries_total",
        "counter",
        "Well-formed DNS queries answered, by type.",
    );
    for (t, c) in [
        ("a", &dns.answered_a),
        ("aaaa", &dns.answered_aaaa),
        ("other", &dns.answered_other),
    ] {
        let _ = writeln!(o, "portal_dns_queries_total{{type=\"{t}\"}} {}", c.load(r));
    }
    family(
        &mut o,
        "portal_dns_errors_total",
        "counter",
        "Bad DNS messages, by outcome.",
    );
    for (k, c) in [
        ("formerr", &dns.formerr),
        ("dropped", &dns.dropped),
        ("notimp", &dns.notimp),
        ("badvers", &dns.badvers),
        ("tcp", &dns.tcp_errors),
    ] {
        let _ = writeln!(o, "portal_dns_errors_total{{kind=\"{k}\"}} {}", c.load(r));
    }
    let _ = writeln!(
        o,
        "# HELP portal_dns_limited_total DNS traffic refused by the per-address limits: UDP queries over the rate (dropped), TCP connections over the cap (closed)."
    );
    let _ = writeln!(o, "# TYPE portal_dns_limited_total counter");
    for (k, c) in [("udp", &dns.rate_limited), ("tcp", &dns.tcp_refused)] {
        let _ = writeln!(o, "portal_dns_limited_total{{proto=\"{k}\"}} {}", c.load(r));
    }

    let relay = &app.relay;
    let rc = relay.counters();
    family(
        &mut o,
        "portal_beacon_packets_total",
        "counter",
        "Beacon datagrams, accepted or rejected by reason.",
    );
    let _ = writeln!(
        o,
        "portal_beacon_packets_total{{result=\"accepted\"}} {}",
        rc.accepted.load(r)
    );
    for (i, reason) in crate::relay::REJECT_REASONS.iter().enumerate() {
        let _ = writeln!(
            o,
            "portal_beacon_packets_total{{result=\"{reason}\"}} {}",
            rc.rejected[i].load(r)
        );
    }
    family(
        &mut o,
        "portal_beacon_state_changes_total",
        "counter",
        "Changes of the relayed state (re-renders of /s).",
    );
    let _ = writeln!(
        o,
        "portal_beacon_state_changes_total {}",
        rc.state_changes.load(r)
    );
    let snapshot = relay.snapshot();
    let current = state_index(&snapshot.input.state);
    family(
        &mut o,
        "portal_beacon_state",
        "gauge",
        "Current beacon state (1 = current).",
    );
    for (i, label) in STATE_LABELS.iter().enumerate() {
        let _ = writeln!(
            o,
            "portal_beacon_state{{state=\"{label}\"}} {}",
            u8::from(i == current)
        );
    }
    let live = snapshot.input.live.as_ref();
    family(
        &mut o,
        "portal_desk_live_zones",
        "gauge",
        "Zones the lighting desk holds now (the live layer relayed in /s `live`).",
    );
    let _ = writeln!(
        o,
        "portal_desk_live_zones {}",
        live.map_or(0, |l| l.zones.len())
    );
    family(
        &mut o,
        "portal_desk_live_zone",
        "gauge",
        "1 for each zone the lighting desk holds, labelled with its zone and colour.",
    );
    for (zone, colour) in live.map(|l| l.zones.as_slice()).unwrap_or_default() {
        let zone: String = zone
            .chars()
            .map(|c| {
                if c == '"' || c == '\\' || c == '\n' {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let _ = writeln!(
            o,
            "portal_desk_live_zone{{zone=\"{zone}\",colour=\"{colour}\"}} 1"
        );
    }
    family(
        &mut o,
        "portal_beacon_healthy",
        "gauge",
        "1 while a valid beacon packet arrived within the last 3 s, else 0.",
    );
    let _ = writeln!(o, "portal_beacon_healthy {}", u8::from(relay.healthy_now()));
    o
}

/// Families of `text` whose samples lack a `# HELP` or `# TYPE` line (empty = well-formed).
pub fn undocumented_families(text: &str) -> Vec<String> {
    let (mut help, mut kind) = (
        std::collections::HashSet::new(),
        std::collections::HashSet::new(),
    );
    let mut missing = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help.insert(rest.split(' ').next().unwrap_or("").to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            kind.insert(rest.split(' ').next().unwrap_or("").to_string());
        } else if !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap_or("").to_string();
            let documented = help.contains(&name) && kind.contains(&name);
            if !documented && !missing.contains(&name) {
                missing.push(name);
            }
        }
    }
    missing
}
