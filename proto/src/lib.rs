//! The Crowdlight beacon protocol, shared by the beacon (sender), the portal (relay) and the
//! simulator: the signed multicast packet ([`wire`], with the cue [`wire::State`] and the venue
//! [`wire::Key`]) and the sans-IO [`receiver`] that decides which packets to believe.
//!
//! Three small things both daemons share on purpose live here too, so that neither daemon links
//! the other: [`logging`] (one log format), [`report`] (the `validate` report), [`shutdown`]
//! (one way to stop every server loop) and [`help`] (`--help` defaults from the real config).

pub mod help;
pub mod logging;
pub mod receiver;
pub mod report;
pub mod shutdown;
pub mod wire;

/// The multicast group the beacon sends to and every relay joins unless configured otherwise
/// (organisation-local scope, RFC 2365).
pub const DEFAULT_GROUP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(239, 255, 77, 77);
/// The UDP port of [`DEFAULT_GROUP`].
pub const DEFAULT_PORT: u16 = 7777;
