//! Byte-counting TCP streams and source-address-spreading connects.
//!
//! Every byte a client reads or writes is added to a process-wide counter for its kind of
//! traffic, so the figures include HTTP headers, chunk framing and WebSocket frames exactly as
//! they cross the socket (TCP/IP headers are not counted here; see `procstat::lo_counters`).
//!
//! Every stream also notes when the kernel received the bytes it reads ([`Stamped`]): the time
//! an answer reached the simulated phone, apart from when the load generator, sharing the
//! machine's cores with the server, got round to reading it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;
use sim::http_client::ByteSink;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
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
pub type Counted = sim::http_client::Counted<Stamped, KindSwitch>;

/// When the kernel received the last bytes read from a [`Stamped`] stream: Unix µs (the
/// clock the orchestrating script stamps `beacon go` with), 0 before any.
#[derive(Clone, Debug, Default)]
pub struct Arrival(Arc<AtomicI64>);

impl Arrival {
    /// Unix µs of the last read's newest segment (0: none yet).
    pub fn last_us(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A TCP stream read with `recvmsg` and `SO_TIMESTAMPNS`: each read notes the kernel's receive
/// time of the newest segment it returned ([`Arrival`]). On loopback that is when the server's
/// `write` reached this socket, so a cue's arrival is measured apart from the load generator's
/// own scheduling delay.
#[derive(Debug)]
pub struct Stamped {
    tcp: TcpStream,
    arrival: Arrival,
    /// Room for one `SCM_TIMESTAMPNS` control message.
    control: Vec<u8>,
}

impl Stamped {
    /// Turns on receive timestamps for `tcp`.
    pub fn new(tcp: TcpStream) -> io::Result<Self> {
        setsockopt(&tcp, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)?;
        Ok(Stamped {
            tcp,
            arrival: Arrival::default(),
            control: nix::cmsg_space!(TimeSpec),
        })
    }

    /// When the bytes read last arrived.
    pub fn arrival(&self) -> &Arrival {
        &self.arrival
    }
}

impl AsyncRead for Stamped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let fd = this.tcp.as_raw_fd();
        loop {
            ready!(this.tcp.poll_read_ready(cx))?;
            let dst = buf.initialize_unfilled();
            let control = &mut this.control;
            let read = this.tcp.try_io(Interest::READABLE, || {
                let mut iov = [io::IoSliceMut::new(dst)];
                let msg = recvmsg::<()>(
                    fd,
                    &mut iov,
                    Some(control.as_mut_slice()),
                    MsgFlags::empty(),
                )
                .map_err(io::Error::from)?;
                let mut at = None;
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::ScmTimestampns(ts) = c {
                            at = Some(ts.tv_sec() * 1_000_000 + ts.tv_nsec() / 1_000);
                        }
                    }
                }
                Ok((msg.bytes, at))
            });
            match read {
                Ok((n, at)) => {
                    buf.advance(n);
                    if let Some(us) = at {
                        this.arrival.0.store(us, Ordering::Relaxed);
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Stamped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

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
    let stream = Stamped::new(sim::http_client::connect_tcp(dst, src).await?)?;
    Ok(Counted::new(stream, KindSwitch::new(kind)))
}
