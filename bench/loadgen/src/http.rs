//! A minimal HTTP/1.1 client over one keep-alive connection: GET with headers, bodies by
//! `Content-Length`, chunked encoding or close; and an incremental chunked decoder for streams.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::Counted;

/// Headers a phone browser sends with every request (Safari on iOS), so that the byte counts are
/// those of a real page rather than of a bare benchmark client.
pub const BROWSER_HEADERS: &[(&str, &str)] = &[
    (
        "User-Agent",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ),
    ("Accept", "*/*"),
    ("Accept-Language", "en-GB,en;q=0.9"),
    ("Accept-Encoding", "gzip, deflate, br"),
    ("Connection", "keep-alive"),
];

/// One answer.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body (still encoded if the server compressed it).
    pub body: Vec<u8>,
    /// The server will close the connection.
    pub close: bool,
}

impl Response {
    /// First header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A connection with a read buffer.
pub struct Conn {
    /// The socket.
    pub io: Counted,
    buf: Vec<u8>,
}

impl Conn {
    /// Wraps a connected stream.
    pub fn new(io: Counted) -> Self {
        Conn {
            io,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Writes a GET request.
    pub async fn send_get(
        &mut self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        self.io.write_all(req.as_bytes()).await.context("write")?;
        Ok(())
    }

    /// GET and read the whole answer, within `timeout`.
    pub async fn get(
        &mut self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> anyhow::Result<Response> {
        tokio::time::timeout(timeout, async {
            self.send_get(host, path, headers).await?;
            self.read_response(true).await
        })
        .await
        .context("timeout")?
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 16384];
        let n = self.io.read(&mut chunk).await.context("read")?;
        if n == 0 {
            bail!("connection closed");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Reads a response head, and the body when `with_body`.
    pub async fn read_response(&mut self, with_body: bool) -> anyhow::Result<Response> {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > 65536 {
                bail!("response head too large");
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
            close: false,
        };
        resp.close = resp
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if !with_body || status == 204 || status == 304 || (100..200).contains(&status) {
            return Ok(resp);
        }
        if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().context("bad content-length")?;
            while self.buf.len() < len {
                self.fill().await?;
            }
            resp.body = self.buf.drain(..len).collect();
        } else if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            let mut dec = Chunked::default();
            loop {
                let done = dec.feed(&mut self.buf, &mut resp.body)?;
                if done {
                    break;
                }
                self.fill().await?;
            }
        } else {
            while self.fill().await.is_ok() {}
            resp.body = std::mem::take(&mut self.buf);
            resp.close = true;
        }
        Ok(resp)
    }

    /// Reads more of a chunked stream into `out`; returns false when the stream ended.
    pub async fn read_chunked(
        &mut self,
        dec: &mut Chunked,
        out: &mut Vec<u8>,
    ) -> anyhow::Result<bool> {
        if dec.feed(&mut self.buf, out)? {
            return Ok(false);
        }
        self.fill().await?;
        Ok(!dec.feed(&mut self.buf, out)?)
    }
}

/// Incremental decoder of `Transfer-Encoding: chunked`.
#[derive(Default, Debug)]
pub struct Chunked {
    /// Bytes left in the current chunk's data (+2 for its CRLF), `None` when a size line is next.
    left: Option<usize>,
}

impl Chunked {
    /// Consumes what it can from `buf` into `out`; returns true at the last chunk.
    pub fn feed(&mut self, buf: &mut Vec<u8>, out: &mut Vec<u8>) -> anyhow::Result<bool> {
        loop {
            match self.left {
                None => {
                    let Some(i) = buf.windows(2).position(|w| w == b"\r\n") else {
                        if buf.len() > 1024 {
                            bail!("bad chunk size line");
                        }
                        return Ok(false);
                    };
                    let line = String::from_utf8_lossy(&buf[..i]).into_owned();
                    let size =
                        usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                            .with_context(|| format!("bad chunk size {line:?}"))?;
                    buf.drain(..i + 2);
                    if size == 0 {
                        return Ok(true);
                    }
                    self.left = Some(size + 2);
                }
                Some(left) => {
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    let take = left.min(buf.len());
                    let data_left = left.saturating_sub(2);
                    out.extend_from_slice(&buf[..take.min(data_left)]);
                    buf.drain(..take);
                    self.left = if take == left {
                        None
                    } else {
                        Some(left - take)
                    };
                }
            }
        }
    }
}

/// `http://host[:port]/path` → (`host[:port]`, `/path`).
pub fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((host.to_string(), path.to_string()))
}
