//! Runs the real `impair` binary between a local echo server and a client, on loopback.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

struct Proxy {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_impair(upstream: SocketAddr, extra: &[&str]) -> Proxy {
    let mut child = Command::new(env!("CARGO_BIN_EXE_impair"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream.to_string(),
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn impair");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read announce line");
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("bad announce line {line:?}"));
    Proxy { child, addr }
}

#[tokio::test]
async fn tcp_bytes_arrive_complete_in_order_and_delayed() {
    let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = echo.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let proxy = start_impair(
        echo_addr,
        &[
            "--delay-ms",
            "20",
            "--jitter-ms",
            "10",
            "--loss",
            "0.2",
            "--rto-ms",
            "30",
            "--seed",
            "3",
        ],
    );
    let mut client = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let sent: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let started = Instant::now();
    let (mut r, mut w) = client.split();
    let writer = async {
        for chunk in sent.chunks(3000) {
            w.write_all(chunk).await.unwrap();
        }
        w.shutdown().await.unwrap();
    };
    let mut got = Vec::new();
    let reader = r.read_to_end(&mut got);
    let ((), n) = tokio::join!(writer, reader);
    assert_eq!(n.unwrap(), sent.len());
    assert!(got == sent, "echoed bytes differ");
    // Both directions have a floor of delay - jitter = 10 ms.
    assert!(started.elapsed() >= Duration::from_millis(20));
}

#[tokio::test]
async fn udp_datagrams_are_delayed_and_some_lost() {
    let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf).await {
            let _ = echo.send_to(&buf[..n], from).await;
        }
    });
    let proxy = start_impair(
        echo_addr,
        &[
            "--udp",
            "--delay-ms",
            "5",
            "--jitter-ms",
            "2",
            "--loss",
            "0.3",
            "--seed",
            "9",
        ],
    );
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(proxy.addr).await.unwrap();
    let total = 200u32;
    for i in 0..total {
        client.send(&i.to_be_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut buf = [0u8; 64];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(500), client.recv(&mut buf)).await
    {
        assert_eq!(n, 4);
        let v = u32::from_be_bytes(buf[..4].try_into().unwrap());
        assert!(v < total);
        assert!(seen.insert(v), "duplicate {v}");
    }
    // Each datagram survives two 30 % losses with probability 0.49.
    assert!(
        seen.len() > 50 && seen.len() < 150,
        "{} of {total}",
        seen.len()
    );
}
