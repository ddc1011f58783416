//! `beacon`: the Crowdlight beacon. [`wire`] is the signed packet format and [`receiver`] the
//! sans-IO packet filter (both also used by the portal's relay); [`engine`] is the sans-IO
//! daemon core, [`daemon`] its IO shell, [`protocol`] and [`client`] the operator socket.

pub mod client;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod paths;
pub mod persist;
pub mod protocol;
pub mod receiver;
pub mod timebase;
pub mod wire;
