//! `memory`: the portal's RSS with S open WebTransport sessions (client keep-alive 10 s, spread
//! over 8 client endpoints), against a fresh portal holding S parked HTTP long-polls
//! (`/s?after=v` on keep-alive connections: what a phone without WebTransport holds), for each
//! S in ascending order. Per-client figure = (RSS − RSS with no clients) ÷ clients.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crowdlight_proto::wire::State;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::Common;
use crate::beacon::Beacon;
use crate::setup::{Impair, Setup};

/// `memory` options.
#[derive(clap::Args)]
pub struct MemoryArgs {
    /// Client counts, ascending (each run adds clients to the previous count).
    #[arg(long, value_delimiter = ',', default_value = "2500")]
    sessions: Vec<usize>,
}

/// Runs the benchmark; prints the table and returns one JSON record per transport and count.
pub async fn run(common: &Common, a: MemoryArgs) -> anyhow::Result<Vec<Value>> {
    let mut counts = a.sessions.clone();
    counts.sort_unstable();
    println!("| transport | clients | portal RSS MiB | per client KiB | connect s |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut out = Vec::new();
    for wt in [true, false] {
        let s = Arc::new(Setup::start(common, &Impair::default()).await?);
        let mut b = Beacon::new(s.group, s.mport)?;
        let standby = State::Standby {
            cue: "chase".into(),
        };
        b.send(standby.clone());
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.send(standby.clone());
        let base = s.rss_kib();
        let (name, label) = if wt {
            ("webtransport", "WebTransport sessions")
        } else {
            ("http-long-poll", "HTTP parked long-polls")
        };
        let mut held = Clients::default();
        let (stop_tx, stop_rx) = watch::channel(false);
        let eps = (0..8)
            .map(|_| s.wt_endpoint().map(Arc::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        for &target in &counts {
            let t0 = Instant::now();
            if wt {
                held.add_wt(&s, &eps, target).await;
            } else {
                held.add_http(&s, target, &stop_rx).await;
            }
            let took = t0.elapsed().as_secs_f64();
            tokio::time::sleep(Duration::from_secs(2)).await;
            b.send(standby.clone()); // keeps the relay's beacon fresh; the state is unchanged
            let rss = s.rss_kib();
            let n = held.len();
            let per = rss.saturating_sub(base) as f64 / n.max(1) as f64;
            println!(
                "| {label} | {n} | {:.1} | {per:.1} | {took:.1} |",
                rss as f64 / 1024.0
            );
            out.push(json!({
                "mode": "memory", "transport": name, "clients": n, "target": target,
                "base_rss_kib": base, "rss_kib": rss, "per_client_kib": per, "connect_s": took,
            }));
        }
        let _ = stop_tx.send(true);
        held.close().await;
    }
    Ok(out)
}

/// The clients held open.
#[derive(Default)]
struct Clients {
    sessions: Vec<wtransport::Connection>,
    pollers: tokio::task::JoinSet<()>,
    parked: Arc<std::sync::atomic::AtomicUsize>,
}

impl Clients {
    fn len(&self) -> usize {
        self.sessions.len() + self.parked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Opens sessions until `target` are open (200 handshakes in flight at a time).
    async fn add_wt(
        &mut self,
        s: &Arc<Setup>,
        eps: &[Arc<wtransport::Endpoint<wtransport::endpoint::endpoint_side::Client>>],
        target: usize,
    ) {
        let mut set = tokio::task::JoinSet::new();
        for i in self.sessions.len()..target {
            let (ep, s) = (eps[i % eps.len()].clone(), s.clone());
            set.spawn(async move { s.wt_connect(&ep).await });
            if set.len() >= 200
                && let Some(Ok(Some(c))) = set.join_next().await
            {
                self.sessions.push(c);
            }
        }
        while let Some(r) = set.join_next().await {
            if let Ok(Some(c)) = r {
                self.sessions.push(c);
            }
        }
    }

    /// Starts pollers until `target` hold a parked `/s?after=v` (or 30 s pass). Each uses its
    /// own keep-alive connection from a source address in 127.0.4.0/22, 100 per address.
    async fn add_http(&mut self, s: &Arc<Setup>, target: usize, stop: &watch::Receiver<bool>) {
        use std::sync::atomic::Ordering;
        let start = self.pollers.len();
        for i in start..target {
            let (s, parked, mut stop) = (s.clone(), self.parked.clone(), stop.clone());
            let source = IpAddr::V4(Ipv4Addr::from(
                u32::from(Ipv4Addr::new(127, 0, 4, 1)) + (i / 100) as u32,
            ));
            self.pollers.spawn(async move {
                let Ok(mut conn) = sim::http_client::Conn::connect(s.http, Some(source)).await
                else {
                    return;
                };
                let Ok(r) = conn.get("127.0.0.1", "/s", &[]).await else {
                    return;
                };
                let version = |body: &[u8]| {
                    serde_json::from_slice::<Value>(body).unwrap_or_default()["v"].as_u64()
                };
                let mut v = version(&r.body).unwrap_or(0);
                let mut counted = false;
                loop {
                    let path = format!("/s?after={v}");
                    let get = conn.get("127.0.0.1", &path, &[]);
                    tokio::pin!(get);
                    // Written at once and held by the relay: count it after 200 ms in flight.
                    let answered = tokio::select! {
                        r = &mut get => Some(r),
                        _ = tokio::time::sleep(Duration::from_millis(200)) => None,
                    };
                    let answer = match answered {
                        Some(r) => r,
                        None => {
                            if !counted {
                                counted = true;
                                parked.fetch_add(1, Ordering::Relaxed);
                            }
                            tokio::select! {
                                r = &mut get => r,
                                _ = stop.wait_for(|s| *s) => break,
                            }
                        }
                    };
                    match answer {
                        Ok(r) => v = version(&r.body).unwrap_or(v),
                        Err(_) => break,
                    }
                }
                if counted {
                    parked.fetch_sub(1, Ordering::Relaxed);
                }
            });
            if i % 200 == 199 {
                tokio::task::yield_now().await;
            }
        }
        let t0 = Instant::now();
        while self.parked.load(Ordering::Relaxed) < target && t0.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn close(mut self) {
        self.pollers.shutdown().await;
        self.sessions.clear();
    }
}
