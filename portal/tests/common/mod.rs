//! Shared helpers for the portal integration tests: GET through the tree's HTTP client, raw
//! HTTP/1.1 exchanges for hand-shaped requests (answers parsed with httparse), a wrapper that
//! runs the real `portal` binary on port-0 sockets and a random multicast port, DNS query
//! builders, and a beacon packet sender.
#![allow(dead_code)]

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The multicast group used by every test (ports differ per test).
pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 77, 77);

/// A random u64 (std's randomly keyed hasher).
pub fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// A random multicast port in 20000..60000.
pub fn random_port() -> u16 {
    20000 + (random_u64() % 40000) as u16
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Sends one well-formed GET (`Connection: close`) with extra headers through the tree's HTTP
/// client ([`sim::http_client::Conn`]) on a thread and current-thread runtime of its own (so async
/// tests may call it too); `host` goes in the Host header. Malformed or hand-shaped requests go
/// through [`request`] or the raw exchanges.
pub fn get(addr: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut all = headers.to_vec();
    all.push(("Connection", "close"));
    let exchange = || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let exchange = async {
                let mut conn = sim::http_client::Conn::connect(addr, None).await?;
                conn.get(host, path, &all).await
            };
            tokio::time::timeout(Duration::from_secs(20), exchange).await
        })
    };
    let answer = std::thread::scope(|s| s.spawn(exchange).join().unwrap());
    let r = answer
        .unwrap_or_else(|_| panic!("GET {path}: no answer within 20 s"))
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    Resp {
        status: r.status,
        headers: r.headers.into_iter().collect(),
        body: r.body,
    }
}

/// Sends a raw request head (first line + Host), adding `headers` and Connection: close, over
/// a plain TCP socket (so the request can be malformed on purpose); the body is everything the
/// server sent after the head.
pub fn request(addr: SocketAddr, head: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = head.to_string();
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    parse_response(&tcp_raw_exchange(addr, req.as_bytes()))
}

/// Parses the response head at the start of `raw` (httparse): `None` while it is incomplete,
/// else the response (body empty) and the head's length. Panics on a malformed head.
fn parse_head(raw: &[u8]) -> Option<(Resp, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    let status = r.parse(raw).unwrap_or_else(|e| {
        panic!(
            "malformed response head ({e}): {:?}",
            String::from_utf8_lossy(raw)
        )
    });
    let httparse::Status::Complete(len) = status else {
        return None;
    };
    let headers = r
        .headers
        .iter()
        .map(|h| {
            let value = String::from_utf8_lossy(h.value).into_owned();
            (h.name.to_ascii_lowercase(), value)
        })
        .collect();
    let status = r.code.expect("status code");
    let resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    Some((resp, len))
}

/// The body length a response head announces: none for 304 or an answer to HEAD, else
/// `content-length` (0 if absent).
fn body_len(r: &Resp, head_only: bool) -> usize {
    if head_only || r.status == 304 {
        return 0;
    }
    r.header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Parses one whole response read until the server closed: the head, and everything after it
/// as the body.
pub fn parse_response(raw: &[u8]) -> Resp {
    let (mut r, len) = parse_head(raw).unwrap_or_else(|| {
        panic!(
            "no complete response head: {:?}",
            String::from_utf8_lossy(raw)
        )
    });
    r.body = raw[len..].to_vec();
    r
}

/// A running `portal` binary, killed on drop.
pub struct PortalProcess {
    pub child: Child,
    pub http: SocketAddr,
    pub dns: Option<SocketAddr>,
    /// HTTPS/WebTransport address (with `--tls-cert`).
    pub https: Option<SocketAddr>,
    pub mcast_port: u16,
    pub log: mpsc::Receiver<String>,
}

impl PortalProcess {
    /// Starts `portal run --dev` on port 0 with a random multicast port and `extra` flags,
    /// and waits until it serves and its shows directory is compiled.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(extra, true)
    }

    /// [`PortalProcess::start`]; `wait_catalog = false` returns as soon as it serves.
    pub fn start_with(extra: &[&str], wait_catalog: bool) -> Self {
        Self::start_on_with(random_port(), extra, wait_catalog)
    }

    /// Starts `portal run --dev` on port 0 listening to multicast `port`, with `extra` flags.
    pub fn start_on(port: u16, extra: &[&str]) -> Self {
        Self::start_on_with(port, extra, true)
    }

    fn start_on_with(port: u16, extra: &[&str], wait_catalog: bool) -> Self {
        let shows = repo().join("shows/examples");
        let mut args: Vec<String> = vec![
            "run".into(),
            "--dev".into(),
            "--http".into(),
            "127.0.0.1:0".into(),
            "--dns".into(),
            "127.0.0.1:0".into(),
            "--port".into(),
            port.to_string(),
        ];
        if !extra.contains(&"--shows") {
            args.extend(["--shows".to_string(), shows.display().to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
            .args(&args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portal");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut proc = Self {
            child,
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            dns: None,
            https: None,
            mcast_port: port,
            log: rx,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        let (mut running, mut catalog) = (false, !wait_catalog);
        loop {
            if running && catalog {
                return proc;
            }
            let line = proc
                .log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| {
                    panic!("portal did not start (args {args:?}):\n{}", seen.join("\n"))
                });
            seen.push(line.clone());
            catalog |= line.contains("catalog ready");
            if line.contains("portal running") {
                running = true;
                let field = |name: &str| -> Option<SocketAddr> {
                    let rest = line.split(&format!("{name}=")).nth(1)?;
                    let v = rest
                        .split_whitespace()
                        .next()?
                        .trim_start_matches("Some(")
                        .trim_end_matches(')');
                    v.parse().ok()
                };
                proc.http = field("http_addr").expect("http_addr in log");
                proc.dns = field("dns_addr");
                proc.https = field("https_addr");
            }
        }
    }

    /// Collected log lines so far.
    pub fn drain_log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

impl Drop for PortalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends datagrams to the test multicast group on loopback.
pub struct McastSender {
    sock: UdpSocket,
    dest: SocketAddr,
}

impl McastSender {
    pub fn new(port: u16) -> Self {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        sock.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
        sock.set_multicast_loop_v4(true).unwrap();
        sock.set_multicast_ttl_v4(1).unwrap();
        sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        Self {
            sock: sock.into(),
            dest: SocketAddr::V4(SocketAddrV4::new(GROUP, port)),
        }
    }

    pub fn send(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.dest).unwrap();
    }
}

/// Microseconds since the Unix epoch now.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// Polls `f` every 50 ms until it returns `Some`, up to `limit`.
pub fn poll_until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Encodes a DNS name.
pub fn qname(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A standard query (RD set), optionally with an EDNS OPT record (version `edns_version`).
pub fn dns_query(id: u16, name: &str, qtype: u16, edns: Option<u8>) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x0100u16.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&0u16.to_be_bytes());
    m.extend_from_slice(&u16::from(edns.is_some()).to_be_bytes());
    m.extend_from_slice(&qname(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    if let Some(v) = edns {
        m.push(0); // root
        m.extend_from_slice(&41u16.to_be_bytes());
        m.extend_from_slice(&4096u16.to_be_bytes());
        m.extend_from_slice(&[0, v, 0, 0]); // ext rcode, version, flags
        m.extend_from_slice(&0u16.to_be_bytes());
    }
    m
}

/// Parsed bits of a DNS response.
#[derive(Debug)]
pub struct DnsAnswer {
    pub id: u16,
    pub rcode: u8,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub arcount: u16,
    /// (type, ttl, rdata) of each answer.
    pub answers: Vec<(u16, u32, Vec<u8>)>,
}

fn skip_name(m: &[u8], mut i: usize) -> usize {
    loop {
        let l = m[i] as usize;
        if l == 0 {
            return i + 1;
        }
        if l & 0xc0 == 0xc0 {
            return i + 2;
        }
        i += 1 + l;
    }
}

/// Parses a response produced by the portal (trusted shape).
pub fn parse_dns(m: &[u8]) -> DnsAnswer {
    let u16at = |i: usize| u16::from_be_bytes([m[i], m[i + 1]]);
    let (id, flags, qd, an, ar) = (u16at(0), u16at(2), u16at(4), u16at(6), u16at(10));
    let mut i = 12;
    for _ in 0..qd {
        i = skip_name(m, i) + 4;
    }
    let mut answers = Vec::new();
    for _ in 0..an {
        i = skip_name(m, i);
        let t = u16at(i);
        let ttl = u32::from_be_bytes([m[i + 4], m[i + 5], m[i + 6], m[i + 7]]);
        let len = u16at(i + 8) as usize;
        answers.push((t, ttl, m[i + 10..i + 10 + len].to_vec()));
        i += 10 + len;
    }
    DnsAnswer {
        id,
        rcode: (flags & 0xf) as u8,
        flags,
        qdcount: qd,
        ancount: an,
        arcount: ar,
        answers,
    }
}

/// One UDP exchange; `None` on timeout (dropped).
pub fn udp_exchange(addr: SocketAddr, msg: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    s.send_to(msg, addr).unwrap();
    let mut buf = vec![0u8; 65535];
    s.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

/// One TCP exchange (2-byte length framing); `None` if the server closed without answering.
pub fn tcp_exchange(addr: SocketAddr, msg: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(msg);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut out = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut out).ok()?;
    Some(out)
}

/// An in-process portal (port-0 HTTP, no DNS, no multicast) on a background runtime.
pub struct InProcess {
    pub http: SocketAddr,
    pub release: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub relay: std::sync::Arc<portal::relay::RelayState>,
    pub catalog: std::sync::Arc<portal::catalog::Catalog>,
    _trigger: portal::shutdown::ShutdownTrigger,
}

impl InProcess {
    pub fn start(cfg: portal::config::Config) -> Self {
        let (trigger, shutdown) = portal::shutdown::shutdown_pair();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let http = portal::app::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
                let listeners = portal::app::Listeners {
                    http,
                    dns_udp: None,
                    dns_tcp: None,
                    beacon: None,
                    https: None,
                };
                let p = portal::app::Portal::start(
                    listeners,
                    &cfg,
                    crowdlight_proto::wire::Key::dev(),
                    shutdown,
                );
                tx.send((
                    p.http_addr,
                    p.release.clone(),
                    p.relay.clone(),
                    p.catalog.clone(),
                ))
                .unwrap();
                p.join().await;
            });
        });
        let (http, release, relay, catalog) = rx.recv().unwrap();
        poll_until(Duration::from_secs(30), || catalog.is_ready().then_some(()))
            .expect("catalog compiled");
        Self {
            http,
            release,
            relay,
            catalog,
            _trigger: trigger,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self._trigger.trigger();
    }
}

/// Writes `cert.pem`/`key.pem` (a [`portal::tls::dev_cert::DevCert`]: ECDSA P-256,
/// 127.0.0.1/localhost, valid `days` from yesterday) into `dir`; returns the certificate's DER.
pub fn write_cert(dir: &Path, days: u32) -> Vec<u8> {
    let cert = portal::tls::dev_cert::DevCert::generate(days).unwrap();
    cert.write(dir).unwrap();
    cert.der
}

/// Starts the binary with HTTPS on port 0 using `dir`'s `cert.pem`/`key.pem`.
pub fn start_with_tls(dir: &Path, extra: &[&str]) -> PortalProcess {
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let mut args = vec![
        "--tls-cert",
        cert.as_str(),
        "--tls-key",
        key.as_str(),
        "--https",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let p = PortalProcess::start(&args);
    assert!(p.https.is_some(), "https_addr in the log");
    p
}

/// A TLS client stream to `addr` trusting exactly `cert_der` (the handshake runs on first use).
pub fn tls_stream(
    addr: SocketAddr,
    cert_der: &[u8],
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der.to_vec().into()).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    rustls::StreamOwned::new(conn, sock)
}

/// Sends `raw` (whole request bytes) over TLS and reads until the server closes.
pub fn tls_exchange(addr: SocketAddr, cert_der: &[u8], raw: &[u8]) -> Vec<u8> {
    let mut s = tls_stream(addr, cert_der);
    s.write_all(raw).unwrap();
    s.flush().unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out); // peers may close without close_notify
    out
}

/// Sends `raw` over plain TCP and reads until the server closes.
pub fn tcp_raw_exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Splits a byte stream of HTTP/1.1 responses into responses, bodies by `content-length`
/// (none for 304 or answers to HEAD, listed in `head_only`).
pub fn split_responses(mut raw: &[u8], head_only: &[bool]) -> Vec<Resp> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        let (mut r, head) = parse_head(raw).unwrap_or_else(|| {
            panic!(
                "incomplete response head: {:?}",
                String::from_utf8_lossy(raw)
            )
        });
        let end = head + body_len(&r, head_only.get(out.len()).copied().unwrap_or(false));
        r.body = raw[head..end].to_vec();
        raw = &raw[end..];
        out.push(r);
    }
    out
}

/// Reads one metric's value (first sample whose line starts with `prefix`) from `/metrics`.
pub fn metric_value(http: SocketAddr, prefix: &str) -> i64 {
    get(http, "127.0.0.1", "/metrics", &[])
        .text()
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Reads one HTTP/1.1 response (head + `content-length` body, none for 304) from `s`.
pub fn read_response(s: &mut impl Read) -> Resp {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some((mut r, head)) = parse_head(&raw) {
            let end = head + body_len(&r, false);
            if raw.len() >= end {
                r.body = raw[head..end].to_vec();
                return r;
            }
        }
        let n = s.read(&mut buf).expect("read response");
        assert!(
            n > 0,
            "closed before a whole response: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
}
