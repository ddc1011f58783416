//! DNS socket loops: UDP workers answering inline (rate-limited per source address, yielding
//! to the scheduler every [`UDP_BATCH`] datagrams so a flood cannot starve HTTP), and a TCP
//! accept loop with a global and a per-address connection cap and per-message / idle timeouts
//! (RFC 7766 framing). Never busy-loops: accept errors (e.g. out of file descriptors) back off,
//! and every read has a deadline.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_server::net::xfer::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

use super::CaptiveDns;
use super::limit::{PerAddress, RateLimiter};
use crate::shutdown::Shutdown;

/// Datagrams a UDP worker answers before yielding to the scheduler.
pub const UDP_BATCH: usize = 32;

/// Limits for DNS over TCP.
#[derive(Clone, Debug)]
pub struct DnsTcpLimits {
    /// Most simultaneous TCP connections; further ones wait in the kernel backlog.
    pub max_connections: usize,
    /// Most simultaneous TCP connections from one source address; more are closed at once.
    pub max_per_address: usize,
    /// Addresses exempt from `max_per_address` (a resolver or cache in front).
    pub exempt: Vec<IpAddr>,
    /// Longest wait for the next query on an open connection.
    pub idle_timeout: Duration,
    /// Longest time to receive one whole message once its length prefix started.
    pub read_timeout: Duration,
}

impl Default for DnsTcpLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_per_address: 8,
            exempt: Vec::new(),
            idle_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(3),
        }
    }
}

/// Limits for DNS over UDP.
#[derive(Clone, Debug)]
pub struct DnsUdpLimits {
    /// Queries per second per source address (bursts of twice that); 0 = no limit.
    pub rate_per_address: u32,
    /// Addresses exempt from the rate (a resolver or cache in front).
    pub exempt: Vec<IpAddr>,
}

impl Default for DnsUdpLimits {
    fn default() -> Self {
        Self {
            rate_per_address: 50,
            exempt: Vec::new(),
        }
    }
}

/// Logs a warning at most every 5 s when `total` grew since the last one.
#[derive(Debug, Default)]
struct Summary {
    seen: u64,
    last: Option<std::time::Instant>,
}

impl Summary {
    fn due(&mut self, total: u64) -> bool {
        if total > self.seen
            && self
                .last
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
        {
            self.seen = total;
            self.last = Some(std::time::Instant::now());
            return true;
        }
        false
    }
}

/// Answers UDP queries on `socket` until `shutdown` fires.
///
/// One worker per core shares the socket; each waits for readiness once and then drains the
/// queued datagrams, going back to the scheduler only every [`UDP_BATCH`] of them (so a burst
/// costs about two system calls per query, and HTTP still gets its turn under a flood).
/// Queries over their source address's rate are dropped unanswered and counted.
pub async fn serve_udp(
    socket: UdpSocket,
    dns: CaptiveDns,
    limits: DnsUdpLimits,
    shutdown: Shutdown,
) {
    let socket = Arc::new(socket);
    let rate = Arc::new(RateLimiter::new(
        limits.rate_per_address,
        limits.exempt,
        std::time::Instant::now(),
    ));
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        tasks.spawn(udp_worker(
            socket.clone(),
            dns.clone(),
            rate.clone(),
            shutdown.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
}

/// One UDP worker: wait until readable, then answer what is queued, yielding every batch.
async fn udp_worker(
    socket: Arc<UdpSocket>,
    dns: CaptiveDns,
    rate: Arc<RateLimiter>,
    mut shutdown: Shutdown,
) {
    let mut buf = vec![0u8; 4096];
    let mut bad = Summary::default();
    let mut limited = Summary::default();
    let mut batch = 0usize;
    loop {
        tokio::select! {
            r = socket.readable() => if let Err(error) = r {
                tracing::warn!(%error, "dns udp: socket error; worker stops");
                return;
            },
            _ = shutdown.wait() => return,
        }
        loop {
            batch += 1;
            if batch >= UDP_BATCH {
                batch = 0;
                tokio::task::yield_now().await;
            }
            let (len, src) = match socket.try_recv_from(&mut buf) {
                Ok(x) => x,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) => {
                    // ICMP port-unreachable from a previous send shows up here on Linux: ignore.
                    tracing::debug!(%error, "dns udp: recv error");
                    continue;
                }
            };
            if src.port() == 0 {
                dns.counters().dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if !rate.allow(src.ip(), std::time::Instant::now()) {
                let total = dns.counters().rate_limited.fetch_add(1, Ordering::Relaxed) + 1;
                if limited.due(total) {
                    tracing::warn!(%src, total, "dns udp: queries over the per-address rate dropped");
                }
                continue;
            }
            if let Some(reply) = dns.handle_message(&buf[..len], src, Protocol::Udp) {
                let sent = match socket.try_send_to(&reply, src) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        socket.send_to(&reply, src).await
                    }
                    other => other,
                };
                if let Err(error) = sent {
                    tracing::debug!(%error, %src, "dns udp: send error");
                }
            }
            // Malformed messages are logged at debug each, and summarised at warn at most every 5 s.
            let c = dns.counters();
            let total = c.formerr.load(Ordering::Relaxed) + c.dropped.load(Ordering::Relaxed);
            if bad.due(total) {
                tracing::warn!(%src, total, "dns: malformed queries answered FORMERR or dropped");
            }
        }
    }
}

/// Answers TCP queries on `listener` until `shutdown` fires.
pub async fn serve_tcp(
    listener: TcpListener,
    dns: CaptiveDns,
    limits: DnsTcpLimits,
    mut shutdown: Shutdown,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address = PerAddress::new(limits.max_per_address, limits.exempt.clone());
    let mut refused = Summary::default();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.wait() => return,
        };
        let (stream, src) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(error) => {
                    tracing::warn!(%error, "dns tcp: accept error, backing off");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => return,
        };
        let Some(slot) = per_address.try_acquire(src.ip()) else {
            // Closed at once: one address must not hold the slots every phone shares.
            let total = dns.counters().tcp_refused.fetch_add(1, Ordering::Relaxed) + 1;
            if refused.due(total) {
                tracing::warn!(%src, total, "dns tcp: connection over the per-address cap closed");
            }
            drop(stream);
            continue;
        };
        let dns = dns.clone();
        let shutdown = shutdown.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _slot = slot;
            if let Err(why) = handle_tcp_connection(stream, src, &dns, &limits, shutdown).await {
                dns.counters().tcp_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%src, why, "dns tcp: connection closed");
            }
        });
    }
}

async fn handle_tcp_connection(
    mut stream: TcpStream,
    src: SocketAddr,
    dns: &CaptiveDns,
    limits: &DnsTcpLimits,
    mut shutdown: Shutdown,
) -> Result<(), &'static str> {
    let _ = stream.set_nodelay(true);
    let mut msg = Vec::with_capacity(512);
    loop {
        let mut len = [0u8; 2];
        tokio::select! {
            r = tokio::time::timeout(limits.idle_timeout, stream.read_u8()) => match r {
                Err(_) => return Err("idle timeout"),
                Ok(Err(_)) => return Ok(()), // peer closed
                Ok(Ok(b)) => len[0] = b,
            },
            _ = shutdown.wait() => return Ok(()),
        }
        let n = tokio::time::timeout(limits.read_timeout, async {
            len[1] = stream.read_u8().await?;
            let n = usize::from(u16::from_be_bytes(len));
            msg.resize(n, 0);
            stream.read_exact(&mut msg).await?;
            Ok::<usize, std::io::Error>(n)
        })
        .await
        .map_err(|_| "read timeout")?
        .map_err(|_| "truncated message")?;
        let Some(reply) = dns.handle_message(&msg[..n], src, Protocol::Tcp) else {
            return Err("dropped message");
        };
        let Ok(rlen) = u16::try_from(reply.len()) else {
            return Err("reply too large");
        };
        let mut out = Vec::with_capacity(reply.len() + 2);
        out.extend_from_slice(&rlen.to_be_bytes());
        out.extend_from_slice(&reply);
        tokio::time::timeout(limits.read_timeout, stream.write_all(&out))
            .await
            .map_err(|_| "write timeout")?
            .map_err(|_| "write error")?;
    }
}
