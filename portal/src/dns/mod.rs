//! Captive DNS: the sans-IO answer policy ([`answer`]), per-address limits ([`limit`]) and its
//! UDP/TCP socket loops ([`serve`]).

pub mod answer;
pub mod limit;
pub mod serve;

pub use answer::{CaptiveDns, DnsCounters, DnsPolicy};
pub use serve::{DnsTcpLimits, DnsUdpLimits, serve_tcp, serve_udp};
