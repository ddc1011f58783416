//! Process-wide counters and their Prometheus text rendering (`/metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::captive::ProbeOs;
use crate::dns::DnsCounters;
use crate::relay::RelayState;
use crate::relay::render::{STATE_LABELS, state_index};

/// HTTP-side counters.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    probes: [AtomicU64; 7],
    /// Connections currently open.
    pub open_connections: AtomicI64,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Connections closed by the idle (no progress) timer.
    pub idle_closed: AtomicU64,
}

impl HttpMetrics {
    /// Counts one request by route label and status.
    pub fn handle_request(&self, route: &'static str, status: u16) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route, status)).or_default() += 1;
        }
    }

    /// Counts one captive probe.
    pub fn handle_probe(&self, os: ProbeOs) {
        self.probes[os.index()].fetch_add(1, Ordering::Relaxed);
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

/// Renders every metric in Prometheus text exposition format 0.0.4.
pub fn render(http: &HttpMetrics, dns: &DnsCounters, relay: &RelayState, healthy: bool) -> String {
    let mut o = String::with_capacity(4096);
    let r = Ordering::Relaxed;
    let _ = writeln!(
        o,
        "# HELP portal_http_requests_total HTTP requests by route and status."
    );
    let _ = writeln!(o, "# TYPE portal_http_requests_total counter");
    if let Ok(m) = http.requests.lock() {
        for ((route, status), n) in m.iter() {
            let _ = writeln!(
                o,
                "portal_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        o,
        "# HELP portal_captive_probes_total Connectivity checks seen, by OS."
    );
    let _ = writeln!(o, "# TYPE portal_captive_probes_total counter");
    for os in ProbeOs::ALL {
        let _ = writeln!(
            o,
            "portal_captive_probes_total{{os=\"{}\"}} {}",
            os.label(),
            http.probes[os.index()].load(r)
        );
    }
    let _ = writeln!(
        o,
        "# HELP portal_http_open_connections HTTP connections open now."
    );
    let _ = writeln!(o, "# TYPE portal_http_open_connections gauge");
    let _ = writeln!(
        o,
        "portal_http_open_connections {}",
        http.open_connections.load(r)
    );
    let _ = writeln!(o, "# TYPE portal_http_connections_total counter");
    let _ = writeln!(
        o,
        "portal_http_connections_total {}",
        http.connections_total.load(r)
    );
    let _ = writeln!(o, "# TYPE portal_http_idle_closed_total counter");
    let _ = writeln!(
        o,
        "portal_http_idle_closed_total {}",
        http.idle_closed.load(r)
    );

    let _ = writeln!(
        o,
        "# HELP portal_dns_queries_total Well-formed DNS queries answered, by type."
    );
    let _ = writeln!(o, "# TYPE portal_dns_queries_total counter");
    for (t, c) in [
        ("a", &dns.answered_a),
        ("aaaa", &dns.answered_aaaa),
        ("other", &dns.answered_other),
    ] {
        let _ = writeln!(o, "portal_dns_queries_total{{type=\"{t}\"}} {}", c.load(r));
    }
    let _ = writeln!(
        o,
        "# HELP portal_dns_errors_total Bad DNS messages, by outcome."
    );
    let _ = writeln!(o, "# TYPE portal_dns_errors_total counter");
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

    let rc = relay.counters();
    let _ = writeln!(
        o,
        "# HELP portal_beacon_packets_total Beacon datagrams, accepted or rejected by reason."
    );
    let _ = writeln!(o, "# TYPE portal_beacon_packets_total counter");
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
    let _ = writeln!(o, "# TYPE portal_beacon_state_changes_total counter");
    let _ = writeln!(
        o,
        "portal_beacon_state_changes_total {}",
        rc.state_changes.load(r)
    );
    let current = state_index(&relay.snapshot().input.state);
    let _ = writeln!(
        o,
        "# HELP portal_beacon_state Current beacon state (1 = current)."
    );
    let _ = writeln!(o, "# TYPE portal_beacon_state gauge");
    for (i, label) in STATE_LABELS.iter().enumerate() {
        let _ = writeln!(
            o,
            "portal_beacon_state{{state=\"{label}\"}} {}",
            u8::from(i == current)
        );
    }
    let _ = writeln!(o, "# TYPE portal_beacon_healthy gauge");
    let _ = writeln!(o, "portal_beacon_healthy {}", u8::from(healthy));
    o
}
