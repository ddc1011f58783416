//! Captive DNS: the sans-IO answer policy ([`answer`]) and its UDP/TCP socket loops ([`serve`]).

pub mod answer;
pub mod serve;

pub use answer::{CaptiveDns, DnsCounters, DnsPolicy};
pub use serve::{DnsTcpLimits, serve_tcp, serve_udp};
