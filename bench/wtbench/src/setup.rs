//! The system under test: the real portal binary with HTTP and HTTPS/WebTransport on free
//! loopback ports and a development certificate, optionally behind two `impair` proxies (TCP
//! for HTTP, UDP for WebTransport, same settings). Everything is killed on drop.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use portal::tls::dev_cert::DevCert;
use wtransport::endpoint::endpoint_side::Client;
use wtransport::{ClientConfig, Endpoint};

use crate::Common;
use crate::host::{now_us, repo};

/// Path impairment (`impair`'s flags), applied to both transports.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Impair {
    /// The `impair` binary; without it the clients talk to the portal directly.
    #[arg(long)]
    pub impair: Option<PathBuf>,
    /// One-way delay per direction, ms.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// Jitter per direction, ms.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Loss rate, 0..1.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
}

/// A running portal (and impair proxies).
pub struct Setup {
    /// The portal process (its pid for `/proc`).
    pub portal: Child,
    impairs: Vec<Child>,
    /// Where HTTP clients connect (the portal, or the TCP impair in front of it).
    pub http: SocketAddr,
    /// Where WebTransport clients connect.
    pub https: SocketAddr,
    /// SHA-256 of the portal's certificate (pinned by the clients).
    pub hash: [u8; 32],
    /// The beacon's multicast group and port.
    pub group: Ipv4Addr,
    /// The beacon's multicast port.
    pub mport: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let children = self
            .impairs
            .iter_mut()
            .chain(std::iter::once(&mut self.portal));
        for c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A loopback port free for both TCP and UDP.
fn free_port() -> anyhow::Result<u16> {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0")?;
        let p = t.local_addr()?.port();
        if std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return Ok(p);
        }
    }
}

impl Setup {
    /// Starts the portal (and `impair`), waits until it answers HTTP.
    pub async fn start(common: &Common, impair: &Impair) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let cert = DevCert::generate(9)?;
        let (cert_file, key_file) = cert.write(dir.path())?;
        let (http, https) = (free_port()?, free_port()?);
        let mport = 20_000 + (now_us() % 40_000) as u16;
        let root = repo();
        let portal = Command::new(root.join(&common.portal))
            .current_dir(&root)
            .args(["run", "--dev", "--no-dns"])
            .args([
                "--group",
                &common.group.to_string(),
                "--port",
                &mport.to_string(),
            ])
            .args(["--http", &format!("127.0.0.1:{http}")])
            .args(["--https", &format!("127.0.0.1:{https}")])
            .arg("--tls-cert")
            .arg(&cert_file)
            .arg("--tls-key")
            .arg(&key_file)
            .args(["--wt-max-sessions", "20000", "--max-connections", "20000"])
            // Every client comes from loopback (the bench's own addresses).
            .args(["--max-connections-per-address", "20000"])
            .args(["--long-poll-wait-ms", "30000"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("spawn {}", common.portal.display()))?;
        let mut s = Setup {
            portal,
            impairs: Vec::new(),
            http: SocketAddr::from(([127, 0, 0, 1], http)),
            https: SocketAddr::from(([127, 0, 0, 1], https)),
            hash: cert.sha256(),
            group: common.group,
            mport,
            _dir: dir,
        };
        s.wait_serving().await?;
        if let Some(bin) = &impair.impair {
            let (ih, iu) = (free_port()?, free_port()?);
            for (listen, up, udp) in [(ih, http, false), (iu, https, true)] {
                let mut c = Command::new(root.join(bin));
                c.args(["--listen", &format!("127.0.0.1:{listen}")])
                    .args(["--upstream", &format!("127.0.0.1:{up}")])
                    .args(["--delay-ms", &impair.delay_ms.to_string()])
                    .args(["--jitter-ms", &impair.jitter_ms.to_string()])
                    .args(["--loss", &impair.loss.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                if udp {
                    c.arg("--udp");
                }
                s.impairs.push(
                    c.spawn()
                        .with_context(|| format!("spawn {}", bin.display()))?,
                );
            }
            s.http.set_port(ih);
            s.https.set_port(iu);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(s)
    }

    async fn wait_serving(&mut self) -> anyhow::Result<()> {
        for _ in 0..100 {
            if let Some(status) = self.portal.try_wait()? {
                anyhow::bail!("the portal exited: {status}");
            }
            // Any answer will do: /healthz is 503 until the beacon is heard.
            if http_get(self.http, "/healthz", &[]).await.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("the portal on {} never answered /healthz", self.http)
    }

    /// The portal's resident set, KiB (0 if unreadable).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.portal.id()))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
                line.split_whitespace().nth(1)?.parse().ok()
            })
            .unwrap_or(0)
    }

    /// A WebTransport client endpoint (one UDP socket) pinning the portal's certificate.
    pub fn wt_endpoint(&self) -> anyhow::Result<Endpoint<Client>> {
        let cfg = ClientConfig::builder()
            .with_bind_address(SocketAddr::from(([127, 0, 0, 1], 0)))
            .with_server_certificate_hashes([wtransport::tls::Sha256Digest::new(self.hash)])
            .keep_alive_interval(Some(Duration::from_secs(10)))
            .build();
        Ok(Endpoint::client(cfg)?)
    }

    /// Opens a session to `/wt` (`None` after 20 s or on refusal).
    pub async fn wt_connect(&self, ep: &Endpoint<Client>) -> Option<wtransport::Connection> {
        let url = format!("https://127.0.0.1:{}/wt", self.https.port());
        tokio::time::timeout(Duration::from_secs(20), ep.connect(url))
            .await
            .ok()?
            .ok()
    }
}

/// One GET on a fresh connection through the tree's HTTP client (`None` on any failure or
/// after 10 s).
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<sim::http_client::Response> {
    let mut conn = connect(addr).await?;
    get(&mut conn, path, headers).await
}

/// A keep-alive connection (`None` after 5 s or on failure).
pub async fn connect(addr: SocketAddr) -> Option<sim::http_client::Conn> {
    tokio::time::timeout(
        Duration::from_secs(5),
        sim::http_client::Conn::connect(addr, None),
    )
    .await
    .ok()?
    .ok()
}

/// One GET on `conn` (`None` on failure or after 10 s; then the connection is spent).
pub async fn get(
    conn: &mut sim::http_client::Conn,
    path: &str,
    headers: &[(&str, &str)],
) -> Option<sim::http_client::Response> {
    tokio::time::timeout(
        Duration::from_secs(10),
        conn.get("127.0.0.1", path, headers),
    )
    .await
    .ok()?
    .ok()
}
