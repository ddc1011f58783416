//! DNS socket loops: one UDP task answering inline, and a TCP accept loop with a connection
//! cap and per-message / idle timeouts (RFC 7766 framing). Never busy-loops: accept errors
//! (e.g. out of file descriptors) back off, and every read has a deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_server::net::xfer::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

use super::CaptiveDns;
use crate::shutdown::Shutdown;

/// Limits for DNS over TCP.
#[derive(Clone, Copy, Debug)]
pub struct DnsTcpLimits {
    /// Most simultaneous TCP connections; further ones wait in the kernel backlog.
    pub max_connections: usize,
    /// Longest wait for the next query on an open connection.
    pub idle_timeout: Duration,
    /// Longest time to receive one whole message once its length prefix started.
    pub read_timeout: Duration,
}

impl Default for DnsTcpLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            idle_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(3),
        }
    }
}

/// Answers UDP queries on `socket` until `shutdown` fires.
///
/// One worker per core shares the socket; each waits for readiness once and then drains every
/// queued datagram without going back to the scheduler, so a burst of queries costs two system
/// calls per query and no task wake-ups.
pub async fn serve_udp(socket: UdpSocket, dns: CaptiveDns, shutdown: Shutdown) {
    let socket = Arc::new(socket);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        tasks.spawn(udp_worker(socket.clone(), dns.clone(), shutdown.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

/// One UDP worker: wait until readable, then answer everything queued.
async fn udp_worker(socket: Arc<UdpSocket>, dns: CaptiveDns, mut shutdown: Shutdown) {
    let mut buf = vec![0u8; 4096];
    let mut bad_seen = 0u64;
    let mut last_warn: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            r = socket.readable() => if let Err(error) = r {
                tracing::warn!(%error, "dns udp: socket error; worker stops");
                return;
            },
            _ = shutdown.wait() => return,
        }
        loop {
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
            let bad = c.formerr.load(Ordering::Relaxed) + c.dropped.load(Ordering::Relaxed);
            if bad > bad_seen && last_warn.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                tracing::warn!(%src, total = bad, "dns: malformed queries answered FORMERR or dropped");
                bad_seen = bad;
                last_warn = Some(std::time::Instant::now());
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
        let dns = dns.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(why) = handle_tcp_connection(stream, src, &dns, limits, shutdown).await {
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
    limits: DnsTcpLimits,
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
