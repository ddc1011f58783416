//! `sim`: Crowdlight's venue simulation tools.
//!
//! - [`sched`]: the sans-IO impairment scheduler (delay, jitter, loss, bandwidth) and
//!   [`proxy`]: the TCP/UDP proxy that runs it on real sockets (`impair` binary).
//! - [`sync`]: the page's clock-sync algorithm (min-RTT filter + drift regression), sans-IO,
//!   and [`poll`]: the page's `/s` long-poll and polling rules (jitter, backoff, relay failover),
//!   sans-IO.
//! - [`http_client`]: the keep-alive HTTP/1.1 client (hyper's, with source-address binding and byte
//!   counts), [`phone`]: one simulated phone, [`piggyback`]: steady-state `/t` riding the
//!   long-poll connection, [`report`]: percentiles and the JSON report (`phonesim` binary).
//! - [`vectors`]: the sync test vectors shared with the page (`sim/vectors/sync.json`).

pub mod http_client;
pub mod phone;
pub mod piggyback;
pub mod poll;
pub mod proxy;
pub mod report;
pub mod sched;
pub mod sync;
pub mod vectors;
