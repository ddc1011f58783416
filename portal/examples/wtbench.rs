//! WebTransport vs HTTP polling, on loopback (optionally through `impair`):
//!
//! ```sh
//! cargo run --release -p portal --example wtbench -- latency --clients 100 --changes 20
//! cargo run --release -p portal --example wtbench -- latency --impair target/release/impair --delay-ms 20 --jitter-ms 10 --loss 0.02
//! cargo run --release -p portal --example wtbench -- memory --sessions 2500,10000
//! ```
//!
//! It starts `target/release/portal` itself (a generated 9-day certificate, its own multicast
//! port, HTTP/HTTPS on free loopback ports) and plays the beacon: signed packets (development key)
//! sent to the loopback multicast group, `clock_us` = this machine's wall clock, so the true
//! beacon time is known here.
//!
//! - `latency`: N WebTransport sessions and N HTTP pollers (the page's schedule: `/s` with
//!   `If-None-Match` every `poll` ms ±20 %, one connection per poll) follow K state changes;
//!   delivery latency = when a client first holds the new state − when the beacon sent it. Each
//!   client also syncs its clock from a burst of 12 time samples (WT datagrams vs `/t`) with the
//!   min-RTT rule; sync error = estimate − true beacon time.
//! - `memory`: opens S sessions (client keep-alive 10 s) and reads the portal's RSS from `/proc`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crowdlight_proto::wire::{self, Key, Packet, State};
use portal::webtransport::wire as wt_wire;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use wtransport::{ClientConfig, Endpoint};

const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 77, 77);

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn free_port() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = t.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    ((yoe + era * 400 + i64::from(m <= 2)) as i32, m, d)
}

struct Setup {
    portal: Child,
    impairs: Vec<Child>,
    http: SocketAddr,
    https: SocketAddr,
    hash: [u8; 32],
    mport: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Setup {
    fn drop(&mut self) {
        for c in self
            .impairs
            .iter_mut()
            .chain(std::iter::once(&mut self.portal))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn setup(args: &[String]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let today = (now_us() / 86_400_000_000) as i64;
    let (y, m, d) = civil_from_days(today - 1);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(today + 8);
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join("c.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("k.pem"), key.serialize_pem()).unwrap();
    let hash = *wtransport::tls::Certificate::from_der(cert.der().to_vec())
        .unwrap()
        .hash()
        .as_ref();
    let (http, https, mport) = (free_port(), free_port(), 20000 + (now_us() % 40000) as u16);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = arg(args, "--portal", "target/release/portal");
    let portal = Command::new(root.join(&bin))
        .current_dir(&root)
        .args(["run", "--dev", "--no-dns", "--port", &mport.to_string()])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .args(["--https", &format!("127.0.0.1:{https}")])
        .arg("--tls-cert")
        .arg(dir.path().join("c.pem"))
        .arg("--tls-key")
        .arg(dir.path().join("k.pem"))
        .args(["--wt-max-sessions", "20000", "--max-connections", "20000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn portal");
    let mut s = Setup {
        portal,
        impairs: Vec::new(),
        http: SocketAddr::from(([127, 0, 0, 1], http)),
        https: SocketAddr::from(([127, 0, 0, 1], https)),
        hash,
        mport,
        _dir: dir,
    };
    let impair = arg(args, "--impair", "");
    if !impair.is_empty() {
        // HTTP through TCP impair, WebTransport through UDP impair, same settings.
        let common = [
            "--delay-ms".to_string(),
            arg(args, "--delay-ms", "0"),
            "--jitter-ms".to_string(),
            arg(args, "--jitter-ms", "0"),
            "--loss".to_string(),
            arg(args, "--loss", "0"),
        ];
        let (ih, iu) = (free_port(), free_port());
        for (listen, up, udp) in [(ih, http, false), (iu, https, true)] {
            let mut c = Command::new(root.join(&impair));
            c.args(["--listen", &format!("127.0.0.1:{listen}")])
                .args(["--upstream", &format!("127.0.0.1:{up}")])
                .args(&common)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if udp {
                c.arg("--udp");
            }
            s.impairs.push(c.spawn().expect("spawn impair"));
        }
        s.http.set_port(ih);
        s.https.set_port(iu);
    }
    std::thread::sleep(Duration::from_millis(800));
    s
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Beacon {
    sock: std::net::UdpSocket,
    dest: SocketAddr,
    show: [u8; 16],
    seq: u64,
}

impl Beacon {
    fn new(port: u16) -> Self {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        sock.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
        sock.set_multicast_loop_v4(true).unwrap();
        sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let show = shows::compile_file(&root.join("shows/examples/intermission.toml")).unwrap();
        Self {
            sock: sock.into(),
            dest: SocketAddr::V4(SocketAddrV4::new(GROUP, port)),
            show: show.id(),
            seq: 0,
        }
    }
    fn send(&mut self, state: State) {
        self.seq += 1;
        let p = Packet {
            show: self.show,
            boot: 7,
            seq: self.seq,
            clock_us: now_us(),
            state,
            next: None,
        };
        let _ = self.sock.send_to(&wire::emit(&p, &Key::dev()), self.dest);
    }
}

async fn wt_connect(
    ep: &Endpoint<wtransport::endpoint::endpoint_side::Client>,
    s: &Setup,
) -> Option<wtransport::Connection> {
    tokio::time::timeout(
        Duration::from_secs(20),
        ep.connect(format!("https://127.0.0.1:{}/wt", s.https.port())),
    )
    .await
    .ok()?
    .ok()
}

fn wt_endpoint(
    hash: [u8; 32],
    keepalive: bool,
) -> Endpoint<wtransport::endpoint::endpoint_side::Client> {
    let cfg = ClientConfig::builder()
        .with_bind_address("127.0.0.1:0".parse().unwrap())
        .with_server_certificate_hashes([wtransport::tls::Sha256Digest::new(hash)])
        .keep_alive_interval(keepalive.then_some(Duration::from_secs(10)))
        .build();
    Endpoint::client(cfg).unwrap()
}

/// The `at` of a state body (our changes are Running with unique starts).
fn at_of(body: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(body).ok()?["at"].as_u64()
}

async fn http_get(
    addr: SocketAddr,
    path: &str,
    etag: Option<&str>,
) -> Option<(u16, Option<String>, Vec<u8>)> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let inm = etag
        .map(|e| format!("If-None-Match: {e}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{inm}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .ok()?
        .ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let etag = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .starts_with("etag:")
            .then(|| l[5..].trim().to_string())
    });
    Some((status, etag, raw[split + 4..].to_vec()))
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn rng(seed: &mut u64) -> f64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

/// Min-RTT offset estimate error over a burst of 12 samples, µs (estimate − truth).
async fn sync_error<F, Fut>(mut sample: F, seed: &mut u64) -> Option<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<u64>>,
{
    let mut best: Option<(u64, f64)> = None; // (rtt, error)
    for _ in 0..12 {
        let t1 = now_us();
        if let Some(t) = sample().await {
            let t4 = now_us();
            let err = t as f64 - (t1 + t4) as f64 / 2.0; // truth: our wall clock = beacon clock
            if best.is_none_or(|(r, _)| t4 - t1 < r) {
                best = Some((t4 - t1, err));
            }
        }
        tokio::time::sleep(Duration::from_millis(30 + (rng(seed) * 40.0) as u64)).await;
    }
    best.map(|b| b.1)
}

async fn latency(args: Vec<String>) {
    let n: usize = arg(&args, "--clients", "100").parse().unwrap();
    let k: usize = arg(&args, "--changes", "20").parse().unwrap();
    let s = Arc::new(setup(&args));
    let mut b = Beacon::new(s.mport);
    b.send(State::Standby {
        cue: "chase".into(),
    });
    // The relay needs a steady beacon (health, clock): repeat the current state every 200 ms.
    let (state_tx, state_rx) = watch::channel(State::Standby {
        cue: "chase".into(),
    });
    let emits: Arc<std::sync::Mutex<Vec<(u64, u64)>>> = Arc::default(); // (at, sent µs)
    let beacon_task = {
        let mut rx = state_rx.clone();
        tokio::spawn(async move {
            loop {
                let st = rx.borrow_and_update().clone();
                b.send(st);
                tokio::select! {
                    r = rx.changed() => if r.is_err() { return },
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let seen_wt: Arc<std::sync::Mutex<Vec<(u64, u64)>>> = Arc::default(); // (at, seen µs)
    let seen_poll: Arc<std::sync::Mutex<Vec<(u64, u64)>>> = Arc::default();
    let sync_wt: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let sync_http: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let connected = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let ep = Arc::new(wt_endpoint(s.hash, true));
    for i in 0..n {
        let (s, ep, seen, sync, connected, mut stop) = (
            s.clone(),
            ep.clone(),
            seen_wt.clone(),
            sync_wt.clone(),
            connected.clone(),
            stop_rx.clone(),
        );
        tasks.spawn(async move {
            let Some(c) = wt_connect(&ep, &s).await else {
                return;
            };
            connected.fetch_add(1, Ordering::Relaxed);
            let c = Arc::new(c);
            let pending: Arc<
                std::sync::Mutex<std::collections::HashMap<u32, tokio::sync::oneshot::Sender<u64>>>,
            > = Arc::default();
            let reader = {
                let (c, pending, seen) = (c.clone(), pending.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut last = None;
                    while let Ok(d) = c.receive_datagram().await {
                        if d.first() == Some(&b'{') {
                            if let Some(at) = at_of(&d)
                                && last != Some(at)
                            {
                                last = Some(at);
                                seen.lock().unwrap().push((at, now_us()));
                            }
                        } else if let Some((id, _, us)) = wt_wire::parse_time_reply(&d)
                            && let Some(tx) = pending.lock().unwrap().remove(&id)
                        {
                            let _ = tx.send(us);
                        }
                    }
                })
            };
            let mut seed = i as u64 + 1;
            let mut next_id = 0u32;
            let err = sync_error(
                || {
                    next_id += 1;
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    pending.lock().unwrap().insert(next_id, tx);
                    let _ = c.send_datagram(wt_wire::time_request(next_id, 0.0));
                    async move {
                        tokio::time::timeout(Duration::from_secs(3), rx)
                            .await
                            .ok()?
                            .ok()
                    }
                },
                &mut seed,
            )
            .await;
            if let Some(e) = err {
                sync.lock().unwrap().push(e);
            }
            let _ = stop.wait_for(|s| *s).await;
            reader.abort();
        });
    }
    for i in 0..n {
        let (s, seen, sync, mut stop) = (
            s.clone(),
            seen_poll.clone(),
            sync_http.clone(),
            stop_rx.clone(),
        );
        tasks.spawn(async move {
            let mut seed = 1000 + i as u64;
            tokio::time::sleep(Duration::from_millis((rng(&mut seed) * 1000.0) as u64)).await;
            let err = sync_error(
                || async {
                    let (st, _, body) = http_get(s.http, "/t", None).await?;
                    (st == 200).then_some(())?;
                    serde_json::from_slice::<serde_json::Value>(&body).ok()?["t"].as_u64()
                },
                &mut seed,
            )
            .await;
            if let Some(e) = err {
                sync.lock().unwrap().push(e);
            }
            let (mut etag, mut poll_ms, mut last) = (None::<String>, 1000.0, None);
            loop {
                if let Some((st, e, body)) = http_get(s.http, "/s", etag.as_deref()).await
                    && st == 200
                {
                    {
                        let v: serde_json::Value =
                            serde_json::from_slice(&body).unwrap_or_default();
                        poll_ms = v["poll"].as_f64().unwrap_or(1000.0);
                        if let Some(at) = v["at"].as_u64()
                            && last != Some(at)
                        {
                            last = Some(at);
                            seen.lock().unwrap().push((at, now_us()));
                        }
                        etag = e;
                    }
                }
                let d = Duration::from_millis((poll_ms * (0.8 + 0.4 * rng(&mut seed))) as u64);
                tokio::select! {
                    _ = tokio::time::sleep(d) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        });
    }
    // Let everyone connect and sync, then fire the changes 3 s apart (longer than any poll).
    let t0 = Instant::now();
    while connected.load(Ordering::Relaxed) < n as u64 && t0.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for _ in 0..k {
        let sent = now_us();
        let at = sent + 2_000_000;
        emits.lock().unwrap().push((at, sent));
        let _ = state_tx.send(State::Running {
            cue: "chase".into(),
            start_us: at,
        });
        tokio::time::sleep(Duration::from_millis(2500 + (now_us() % 1000))).await;
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    beacon_task.abort();

    let emits = emits.lock().unwrap().clone();
    let lat = |seen: &[(u64, u64)]| -> (Vec<f64>, usize) {
        let mut v = Vec::new();
        for (at, sent) in &emits {
            v.extend(
                seen.iter()
                    .filter(|(a, _)| a == at)
                    .map(|(_, t)| (*t as f64 - *sent as f64) / 1000.0),
            );
        }
        let n = v.len();
        (v, n)
    };
    let (mut lw, nw) = lat(&seen_wt.lock().unwrap());
    let (mut lp, np) = lat(&seen_poll.lock().unwrap());
    let mut sw: Vec<f64> = sync_wt
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.abs() / 1000.0)
        .collect();
    let mut sh: Vec<f64> = sync_http
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.abs() / 1000.0)
        .collect();
    let expected = emits.len() * n;
    println!(
        "impair: delay {} ms, jitter {} ms, loss {}; {n} clients per transport, {} changes, WT sessions connected {}",
        arg(&args, "--delay-ms", "0"),
        arg(&args, "--jitter-ms", "0"),
        arg(&args, "--loss", "0"),
        emits.len(),
        connected.load(Ordering::Relaxed)
    );
    println!(
        "| transport | changes seen | delivery p50 ms | p95 ms | max ms | sync |err| p50 ms | p95 ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, l, seen, sy) in [
        ("WebTransport", &mut lw, nw, &mut sw),
        ("HTTP polling", &mut lp, np, &mut sh),
    ] {
        println!(
            "| {name} | {seen}/{expected} | {:.1} | {:.1} | {:.1} | {:.3} | {:.3} |",
            pct(l, 0.5),
            pct(l, 0.95),
            pct(l, 1.0),
            pct(sy, 0.5),
            pct(sy, 0.95)
        );
    }
}

async fn memory(args: Vec<String>) {
    let counts: Vec<usize> = arg(&args, "--sessions", "2500")
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    let s = Arc::new(setup(&args));
    let pid = s.portal.id();
    let mut b = Beacon::new(s.mport);
    b.send(State::Standby {
        cue: "chase".into(),
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = rss_kib(pid);
    println!("portal RSS with 0 sessions: {base} KiB");
    println!("| sessions | portal RSS MiB | per session KiB | connect s |");
    println!("| --- | --- | --- | --- |");
    let mut held = Vec::new();
    // Spread sessions over several client endpoints (one UDP socket each).
    let eps: Vec<_> = (0..8)
        .map(|_| Arc::new(wt_endpoint(s.hash, true)))
        .collect();
    for &target in &counts {
        let t0 = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in held.len()..target {
            let (ep, s) = (eps[i % eps.len()].clone(), s.clone());
            set.spawn(async move { wt_connect(&ep, &s).await });
            if set.len() >= 200
                && let Some(Ok(Some(c))) = set.join_next().await
            {
                held.push(c);
            }
        }
        while let Some(r) = set.join_next().await {
            if let Ok(Some(c)) = r {
                held.push(c);
            }
        }
        let took = t0.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await;
        b.send(State::Standby {
            cue: "chase".into(),
        });
        let rss = rss_kib(pid);
        println!(
            "| {} | {:.1} | {:.1} | {:.1} |",
            held.len(),
            rss as f64 / 1024.0,
            (rss.saturating_sub(base)) as f64 / held.len().max(1) as f64,
            took
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("latency") => rt.block_on(latency(args)),
        Some("memory") => rt.block_on(memory(args)),
        _ => eprintln!("usage: wtbench latency|memory [options] (see the source's header)"),
    }
}
