//! Byte-counting TCP streams and source-address-spreading connects.
//!
//! Every byte a client reads or writes is added to a process-wide counter for its kind of
//! traffic, so the figures include HTTP headers, chunk framing and WebSocket frames exactly as
//! they cross the socket (TCP/IP headers are not counted here; see `procstat::lo_counters`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use sim::http::ByteSink;
use tokio::net::TcpStream;

/// Kinds of traffic counted separately.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Connection set-up, page, show, captive probe, WebSocket/SSE handshake.
    Setup = 0,
    /// State delivery: `/s` polls, WebSocket frames, SSE events.
    State = 1,
    /// Clock sync: `/t`.
    Time = 2,
}

/// The kind a [`Counted`] stream counts its bytes as, switchable between requests from outside
/// the stream (the HTTP client owns the stream itself).
#[derive(Clone, Debug)]
pub struct KindSwitch(Arc<AtomicU8>);

impl KindSwitch {
    fn new(kind: Kind) -> Self {
        KindSwitch(Arc::new(AtomicU8::new(kind as u8)))
    }

    /// Count the next bytes as `kind`.
    pub fn set(&self, kind: Kind) {
        self.0.store(kind as u8, Ordering::Relaxed);
    }

    fn index(&self) -> usize {
        usize::from(self.0.load(Ordering::Relaxed)).min(BYTES.len() - 1)
    }
}

/// Process-wide byte counters: `[kind][0 = received, 1 = sent]`.
pub static BYTES: [[AtomicU64; 2]; 3] = [
    [AtomicU64::new(0), AtomicU64::new(0)],
    [AtomicU64::new(0), AtomicU64::new(0)],
    [AtomicU64::new(0), AtomicU64::new(0)],
];

/// Snapshot of [`BYTES`].
pub fn bytes_snapshot() -> [[u64; 2]; 3] {
    let mut out = [[0; 2]; 3];
    for (k, row) in BYTES.iter().enumerate() {
        for (d, c) in row.iter().enumerate() {
            out[k][d] = c.load(Ordering::Relaxed);
        }
    }
    out
}

impl ByteSink for KindSwitch {
    fn read(&self, n: u64) {
        BYTES[self.index()][0].fetch_add(n, Ordering::Relaxed);
    }
    fn written(&self, n: u64) {
        BYTES[self.index()][1].fetch_add(n, Ordering::Relaxed);
    }
}

/// A TCP stream that adds every byte to [`BYTES`] under its current kind.
pub type Counted = sim::http::Counted<TcpStream, KindSwitch>;

/// Source addresses `base, base+1, ...` (`count` of them), client `i` uses `i % count`.
#[derive(Clone, Copy, Debug)]
pub struct Sources {
    /// First address; `None` lets the kernel choose.
    pub base: Option<Ipv4Addr>,
    /// How many.
    pub count: u32,
}

impl Sources {
    /// The source address of client `i`.
    pub fn for_client(&self, i: usize) -> Option<IpAddr> {
        self.base.map(|b| {
            IpAddr::V4(Ipv4Addr::from(
                u32::from(b) + (i as u32 % self.count.max(1)),
            ))
        })
    }
}

/// Connects to `dst` from `src` (port chosen by the kernel), `TCP_NODELAY` on.
pub async fn connect(dst: SocketAddr, src: Option<IpAddr>, kind: Kind) -> io::Result<Counted> {
    let stream = sim::http::connect_tcp(dst, src).await?;
    Ok(Counted::new(stream, KindSwitch::new(kind)))
}
