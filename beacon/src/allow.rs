//! Which UDP senders may drive the beacon: one rule for the OSC input and the lighting desk.

use std::net::IpAddr;

/// Whether a datagram from `source` may drive the beacon: with an empty `allow` list only
/// loopback senders, else exactly the listed addresses. An IPv4-mapped IPv6 source counts as
/// its IPv4 address (a dual-stack socket reports desks that way).
pub fn permits(allow: &[IpAddr], source: IpAddr) -> bool {
    let source = match source {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(source, IpAddr::V4),
        v4 => v4,
    };
    if allow.is_empty() {
        source.is_loopback()
    } else {
        allow.contains(&source)
    }
}
