//! The impairment proxy on real sockets: a TCP proxy (each direction of each connection runs
//! its own [`Scheduler`] in [`Mode::Stream`]) and a UDP proxy (one upstream socket and a pair
//! of [`Mode::Datagram`] schedulers per client address). Time is microseconds since the proxy
//! started; the schedulers decide, this module only reads, sleeps and writes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::sched::{Impairment, Mode, Scheduler, Verdict, derive_seed};

/// Largest chunk read from a TCP socket at once (one scheduling unit).
const CHUNK: usize = 16 * 1024;
/// Chunks queued per direction before the proxy stops reading (TCP backpressure).
const QUEUE: usize = 64;
/// Most UDP client flows tracked at once; datagrams from further clients are dropped.
const MAX_FLOWS: usize = 4096;

/// Proxy-wide counters, shared by all connections.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections (TCP) or flows (UDP) accepted.
    pub flows: AtomicU64,
    /// Upstream connects that failed.
    pub upstream_failures: AtomicU64,
    /// Units delivered.
    pub delivered: AtomicU64,
    /// Datagrams dropped.
    pub dropped: AtomicU64,
}

/// Settings shared by every flow of one proxy.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to forward to.
    pub upstream: SocketAddr,
    /// Impairment applied in both directions.
    pub impairment: Impairment,
    /// Seed of the whole run; each flow and direction derives its own.
    pub seed: u64,
}

fn micros_since(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// Accept TCP connections forever, proxying each to `settings.upstream` with impairment.
pub async fn run_tcp(listener: TcpListener, settings: Settings, stats: Arc<Stats>) {
    let epoch = Instant::now();
    let mut flow = 0u64;
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        flow += 1;
        stats.flows.fetch_add(1, Ordering::Relaxed);
        let (settings, stats) = (settings.clone(), stats.clone());
        tokio::spawn(async move {
            let connect = TcpStream::connect(settings.upstream);
            let upstream = match tokio::time::timeout(Duration::from_secs(5), connect).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    stats.upstream_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("{peer}: upstream {} failed: {e}", settings.upstream);
                    return;
                }
                Err(_) => {
                    stats.upstream_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("{peer}: upstream {} timed out", settings.upstream);
                    return;
                }
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (ur, uw) = upstream.into_split();
            let up = Scheduler::new(
                settings.impairment.clone(),
                Mode::Stream,
                derive_seed(settings.seed, flow, 0),
            );
            let down = Scheduler::new(
                settings.impairment,
                Mode::Stream,
                derive_seed(settings.seed, flow, 1),
            );
            let a = tokio::spawn(pipe(cr, uw, up, epoch, stats.clone()));
            let b = tokio::spawn(pipe(ur, cw, down, epoch, stats));
            let _ = tokio::join!(a, b);
        });
    }
}

/// One direction: read chunks, schedule each, write it at its release time, then forward EOF.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut sched: Scheduler,
    epoch: Instant,
    stats: Arc<Stats>,
) {
    let (tx, mut rx) = mpsc::channel::<(u64, Vec<u8>)>(QUEUE);
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(epoch + Duration::from_micros(at)).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
            stats.delivered.fetch_add(1, Ordering::Relaxed);
        }
        let _ = to.shutdown().await;
    });
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let at = match sched.handle_arrival(micros_since(epoch), n) {
            Verdict::Release(at) => at,
            Verdict::Drop => continue, // never happens in stream mode
        };
        if tx.send((at, buf[..n].to_vec())).await.is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

struct Flow {
    socket: Arc<UdpSocket>,
    up: Scheduler,
}

/// Proxy UDP datagrams from clients of `listen` to `settings.upstream` and replies back.
pub async fn run_udp(listen: UdpSocket, settings: Settings, stats: Arc<Stats>) {
    let epoch = Instant::now();
    let listen = Arc::new(listen);
    let mut flows: HashMap<SocketAddr, Flow> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, client) = match listen.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("udp recv: {e}");
                continue;
            }
        };
        if !flows.contains_key(&client) {
            if flows.len() >= MAX_FLOWS {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let Ok(flow) = open_flow(
                &listen,
                client,
                &settings,
                flows.len() as u64,
                epoch,
                &stats,
            )
            .await
            .inspect_err(|e| tracing::warn!("udp upstream for {client}: {e}")) else {
                stats.upstream_failures.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            stats.flows.fetch_add(1, Ordering::Relaxed);
            flows.insert(client, flow);
        }
        let Some(flow) = flows.get_mut(&client) else {
            continue;
        };
        match flow.up.handle_arrival(micros_since(epoch), n) {
            Verdict::Drop => {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Release(at) => {
                let (socket, data, stats) = (flow.socket.clone(), buf[..n].to_vec(), stats.clone());
                tokio::spawn(async move {
                    tokio::time::sleep_until(epoch + Duration::from_micros(at)).await;
                    if socket.send(&data).await.is_ok() {
                        stats.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        }
    }
}

async fn open_flow(
    listen: &Arc<UdpSocket>,
    client: SocketAddr,
    settings: &Settings,
    index: u64,
    epoch: Instant,
    stats: &Arc<Stats>,
) -> std::io::Result<Flow> {
    let bind: SocketAddr = if settings.upstream.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let socket = Arc::new(UdpSocket::bind(bind).await?);
    socket.connect(settings.upstream).await?;
    let mut down = Scheduler::new(
        settings.impairment.clone(),
        Mode::Datagram,
        derive_seed(settings.seed, index, 1),
    );
    let (reply, listen, stats) = (socket.clone(), listen.clone(), stats.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = reply.recv(&mut buf).await {
            match down.handle_arrival(micros_since(epoch), n) {
                Verdict::Drop => {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Verdict::Release(at) => {
                    let (listen, data, stats) = (listen.clone(), buf[..n].to_vec(), stats.clone());
                    tokio::spawn(async move {
                        tokio::time::sleep_until(epoch + Duration::from_micros(at)).await;
                        if listen.send_to(&data, client).await.is_ok() {
                            stats.delivered.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            }
        }
    });
    Ok(Flow {
        socket,
        up: Scheduler::new(
            settings.impairment.clone(),
            Mode::Datagram,
            derive_seed(settings.seed, index, 0),
        ),
    })
}
