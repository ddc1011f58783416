//! `portal`: captive DNS + HTTP for the venue WiFi, the page and compiled-show file server, and
//! the relay that turns signed beacon multicast into cacheable `/t` and `/s` answers.
//!
//! Entry points: [`app::run`] (bind from a [`config::Config`] and run), or
//! [`app::Listeners`] + [`app::Portal::start`] for tests with port-0 sockets.

pub mod app;
pub mod assets;
pub mod captive;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod dns;
pub mod http_server;
pub mod metrics;
pub mod relay;
pub use crowdlight_proto::shutdown;
pub mod tls;
pub mod validate;
pub mod webtransport;
