//! Benchmark peer: the WebSocket broadcast design Crowdlight is compared with.
//!
//! Every client that connects gets the current state message, then every new state the moment
//! it is posted, and a WebSocket ping every `--ping-s` seconds (the usual keep-alive). State is
//! posted as the body of any HTTP POST to the control address (answered `204`).
//!
//! `--read-buffer` sets tungstenite's per-connection read buffer: the library default is
//! 128 KiB, which costs that much RSS per client; the benchmark runs it tuned to 4 KiB (the
//! messages are ~150 bytes) and, for reference, with the default.
//!
//! usage: ws-rust-peer --listen 127.0.0.1:9101 --control 127.0.0.1:9102 [--ping-s 30]
//!        [--read-buffer 4096]

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

struct Args {
    listen: SocketAddr,
    control: SocketAddr,
    ping: Duration,
    read_buffer: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut listen = None;
    let mut control = None;
    let mut ping_s = 30.0_f64;
    let mut read_buffer = 4096usize;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => listen = Some(value()?.parse().map_err(|e| format!("--listen: {e}"))?),
            "--control" => control = Some(value()?.parse().map_err(|e| format!("--control: {e}"))?),
            "--ping-s" => ping_s = value()?.parse().map_err(|e| format!("--ping-s: {e}"))?,
            "--read-buffer" => {
                read_buffer = value()?
                    .parse()
                    .map_err(|e| format!("--read-buffer: {e}"))?
            }
            "-h" | "--help" => {
                println!(
                    "usage: ws-rust-peer --listen ADDR --control ADDR [--ping-s 30] [--read-buffer 4096]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !(ping_s > 0.0 && ping_s < 3600.0) {
        return Err("--ping-s must be in (0, 3600)".into());
    }
    Ok(Args {
        listen: listen.ok_or("--listen is required")?,
        control: control.ok_or("--control is required")?,
        ping: Duration::from_secs_f64(ping_s),
        read_buffer: read_buffer.clamp(256, 1 << 20),
    })
}

struct Hub {
    current: RwLock<Utf8Bytes>,
    tx: broadcast::Sender<Utf8Bytes>,
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ws-rust-peer: {e}");
            std::process::exit(2);
        }
    };
    let (tx, _) = broadcast::channel(16);
    let hub = Arc::new(Hub {
        current: RwLock::new(Utf8Bytes::from_static(r#"{"state":"stopped","cue":null}"#)),
        tx,
    });
    let listener = TcpListener::bind(args.listen).await.expect("bind --listen");
    let control = TcpListener::bind(args.control)
        .await
        .expect("bind --control");
    eprintln!(
        "ws-rust-peer: ws on {}, control on {}",
        args.listen, args.control
    );
    let ctl_hub = hub.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = control.accept().await else {
                continue;
            };
            let hub = ctl_hub.clone();
            tokio::spawn(async move {
                if let Err(e) = handle_control(stream, &hub).await {
                    eprintln!("ws-rust-peer: control: {e}");
                }
            });
        }
    });
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let hub = hub.clone();
                    let ping = args.ping;
                    let config = WebSocketConfig::default().read_buffer_size(args.read_buffer);
                    tokio::spawn(async move {
                        let _ = handle_client(stream, hub, ping, config).await;
                    });
                }
                Err(e) => {
                    eprintln!("ws-rust-peer: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

async fn handle_client(
    stream: TcpStream,
    hub: Arc<Hub>,
    ping: Duration,
    config: WebSocketConfig,
) -> Result<(), String> {
    stream.set_nodelay(true).ok();
    let ws = tokio_tungstenite::accept_async_with_config(stream, Some(config))
        .await
        .map_err(|e| e.to_string())?;
    let (mut sink, mut incoming) = ws.split();
    let mut rx = hub.tx.subscribe();
    let first = hub.current.read().expect("state lock").clone();
    sink.send(Message::Text(first))
        .await
        .map_err(|e| e.to_string())?;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + ping, ping);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Ok(m) => sink.send(Message::Text(m)).await.map_err(|e| e.to_string())?,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let m = hub.current.read().expect("state lock").clone();
                    sink.send(Message::Text(m)).await.map_err(|e| e.to_string())?;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            frame = incoming.next() => match frame {
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Ok(Message::Ping(p))) => sink.send(Message::Pong(p)).await.map_err(|e| e.to_string())?,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
            },
            _ = tick.tick() => sink.send(Message::Ping(Default::default())).await.map_err(|e| e.to_string())?,
        }
    }
}

/// One HTTP POST: the body becomes the new state and is broadcast to every client.
async fn handle_control(mut stream: TcpStream, hub: &Hub) -> Result<(), String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the request head".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 65536 {
            return Err("request head too large".into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if len > 65536 {
        return Err("body too large".into());
    }
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed inside the body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body =
        String::from_utf8(buf[head_end..head_end + len].to_vec()).map_err(|e| e.to_string())?;
    let msg = Utf8Bytes::from(body);
    *hub.current.write().expect("state lock") = msg.clone();
    let _ = hub.tx.send(msg);
    stream
        .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
