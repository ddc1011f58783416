//! The HTTP side: request dispatch ([`routes`]) and the hardened hyper connection loop
//! ([`serve`]).
//!
//! # RFC 8908 / RFC 8910
//! `/api/captive` serves the Captive Portal API document (`application/captive+json`:
//! `captive`, `user-portal-url`, optional `venue-info-url`). RFC 8908 requires clients to fetch
//! it over **HTTPS** with a certificate valid for the API host, so in production put a TLS
//! terminator (e.g. nginx with a real certificate for the portal's name) in front of it and
//! announce `https://<portal-name>/api/captive` in DHCPv4 option 114 (RFC 8910; DHCPv6
//! option 103, IPv6 RA option 37). iOS 14+ and Android 11+ then open the portal without
//! relying on probe interception. Over plain HTTP (the demo) the document is informational.

pub mod routes;
pub mod serve;

pub use routes::{AppState, router};
pub use serve::{HttpLimits, serve_http};
