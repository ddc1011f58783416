//! The HTTP server, one for HTTP and HTTPS: connection caps ([`caps`]), request heads
//! ([`request`]), answers ([`response`]), the one router ([`routes`]) and the one connection
//! path ([`serve`]; TLS is an accept step in it).
//!
//! # RFC 8908 / RFC 8910
//! `/api/captive` serves the Captive Portal API document (`application/captive+json`:
//! `captive`, `user-portal-url`, optional `venue-info-url`). RFC 8908 requires clients to fetch
//! it over **HTTPS** with a certificate valid for the API host: serve it over the portal's own
//! HTTPS (`[tls]`) or a TLS terminator in front, and announce `https://<portal-name>/api/captive`
//! in DHCPv4 option 114 (RFC 8910; DHCPv6 option 103, IPv6 RA option 37). iOS 14+ and
//! Android 11+ then open the portal without relying on probe interception. Over plain HTTP
//! (the demo) the document is informational.

pub mod caps;
mod lot;
pub mod request;
pub mod response;
pub mod routes;
pub mod serve;

pub use routes::{AppState, route};
pub use serve::{HttpLimits, Server};

/// Which listener a connection came in on (a metrics label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http = 0,
    /// HTTP over TLS.
    Https = 1,
}

impl Scheme {
    /// Both, in label order.
    pub const ALL: [Scheme; 2] = [Scheme::Http, Scheme::Https];

    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}
