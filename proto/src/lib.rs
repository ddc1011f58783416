//! The Crowdlight beacon protocol, shared by the beacon (sender), the portal (relay) and the
//! simulator: the signed multicast packet ([`wire`], with the cue [`wire::State`] and the venue
//! [`wire::Key`]) and the sans-IO [`receiver`] that decides which packets to believe.
//!
//! Three small things both daemons share on purpose live here too, so that neither daemon links
//! the other: [`logging`] (one log format), [`report`] (the `validate` report) and [`shutdown`]
//! (one way to stop every server loop).

pub mod logging;
pub mod receiver;
pub mod report;
pub mod shutdown;
pub mod wire;
