//! `beacon`: the Crowdlight beacon. [`wire`] is the signed packet format and [`receiver`] the
//! sans-IO packet filter (both also used by the portal's relay); [`engine`] is the sans-IO
//! daemon core, [`daemon`] its IO shell, [`protocol`] and [`client`] the operator socket,
//! [`osc`] the OSC input, [`console`] the operator web page and [`validate`] the config check
//! (its [`validate::Report`] is shared with `portal validate`); [`logging`] sets up `tracing`
//! for both binaries.

pub mod client;
pub mod config;
pub mod console;
pub mod daemon;
pub mod engine;
pub mod keygen;
pub mod logging;
pub mod osc;
pub mod paths;
pub mod persist;
pub mod protocol;
pub mod receiver;
pub mod timebase;
pub mod validate;
pub mod wire;
