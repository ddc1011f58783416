//! A minimal keep-alive HTTP/1.1 client: one connection, one request at a time, bodies by
//! `Content-Length`, `chunked` or connection close. Cheap enough for thousands of simulated
//! phones in one process, and it can bind a chosen source address (e.g. `127.0.1.x`) so that
//! many phones do not exhaust one address's ephemeral ports.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

/// Longest status line or header line accepted.
const MAX_LINE: usize = 8 * 1024;
/// Most headers accepted.
const MAX_HEADERS: usize = 100;
/// Largest body accepted.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Client-side HTTP failures.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Socket error.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection before a full answer.
    #[error("connection closed")]
    Closed,
    /// Not a valid HTTP/1.x answer.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// A line, the header count or the body is over the limits.
    #[error("response too large")]
    TooLarge,
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes (still content-encoded if the server chose an encoding).
    pub body: Vec<u8>,
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

/// Status code and headers parsed from a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
}

/// Parse a status line (`HTTP/1.1 200 OK`).
pub fn parse_status_line(line: &str) -> Result<u16, HttpError> {
    let mut parts = line.trim_end().splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!("status line {line:?}")));
    }
    let code = parts.next().unwrap_or("");
    match code.parse::<u16>() {
        Ok(c) if (100..1000).contains(&c) && code.len() == 3 => Ok(c),
        _ => Err(HttpError::Malformed(format!("status code {code:?}"))),
    }
}

/// Parse one header line (`Name: value`).
pub fn parse_header_line(line: &str) -> Result<(String, String), HttpError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| HttpError::Malformed(format!("header {line:?}")))?;
    if name.is_empty() || name.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        return Err(HttpError::Malformed(format!("header name {name:?}")));
    }
    Ok((name.to_ascii_lowercase(), value.trim().to_string()))
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    stream: BufReader<TcpStream>,
    reusable: bool,
    read: u64,
    written: u64,
}

impl Conn {
    /// Connect to `addr`, from source address `source` if given.
    pub async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> Result<Conn, HttpError> {
        let stream = match source {
            None => TcpStream::connect(addr).await?,
            Some(ip) => {
                let socket = if addr.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                // Each source address has its own ephemeral port range.
                socket.bind(SocketAddr::new(ip, 0))?;
                socket.connect(addr).await?
            }
        };
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(stream),
            reusable: true,
            read: 0,
            written: 0,
        })
    }

    /// HTTP bytes (heads and bodies) read and written on this connection so far.
    pub fn bytes(&self) -> (u64, u64) {
        (self.read, self.written)
    }

    /// Whether the connection can carry another request.
    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// Send `GET path` with `Host: host` and extra headers; read the whole answer.
    pub async fn get(
        &mut self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, HttpError> {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
        for (n, v) in headers {
            req.push_str(n);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        self.stream.get_mut().write_all(req.as_bytes()).await?;
        self.written += req.len() as u64;
        let result = self.read_response().await;
        if result.is_err() {
            self.reusable = false;
        }
        result
    }

    async fn read_line(&mut self, buf: &mut String) -> Result<(), HttpError> {
        buf.clear();
        let n = (&mut self.stream)
            .take(MAX_LINE as u64)
            .read_line(buf)
            .await?;
        self.read += n as u64;
        if n == 0 {
            return Err(HttpError::Closed);
        }
        if !buf.ends_with('\n') {
            return Err(HttpError::TooLarge);
        }
        Ok(())
    }

    async fn read_response(&mut self) -> Result<Response, HttpError> {
        let mut line = String::new();
        let status = loop {
            self.read_line(&mut line).await?;
            let status = parse_status_line(&line)?;
            if status >= 200 {
                break status;
            }
            // 1xx: skip its headers and read the real answer.
            loop {
                self.read_line(&mut line).await?;
                if line.trim_end().is_empty() {
                    break;
                }
            }
        };
        let mut headers = Vec::new();
        loop {
            self.read_line(&mut line).await?;
            if line.trim_end().is_empty() {
                break;
            }
            if headers.len() >= MAX_HEADERS {
                return Err(HttpError::TooLarge);
            }
            headers.push(parse_header_line(&line)?);
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if resp
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            self.reusable = false;
        }
        if status == 204 || status == 304 {
            return Ok(resp);
        }
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            resp.body = self.read_chunked().await?;
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| HttpError::Malformed(format!("content-length {len:?}")))?;
            if len > MAX_BODY {
                return Err(HttpError::TooLarge);
            }
            let mut body = vec![0u8; len];
            self.stream
                .read_exact(&mut body)
                .await
                .map_err(|_| HttpError::Closed)?;
            self.read += len as u64;
            resp.body = body;
        } else {
            self.reusable = false;
            let mut body = Vec::new();
            (&mut self.stream)
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut body)
                .await?;
            if body.len() > MAX_BODY {
                return Err(HttpError::TooLarge);
            }
            self.read += body.len() as u64;
            resp.body = body;
        }
        Ok(resp)
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            self.read_line(&mut line).await?;
            let size_text = line.trim_end().split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| HttpError::Malformed(format!("chunk size {size_text:?}")))?;
            if body.len() + size > MAX_BODY {
                return Err(HttpError::TooLarge);
            }
            if size == 0 {
                // Trailers until the empty line.
                loop {
                    self.read_line(&mut line).await?;
                    if line.trim_end().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            self.stream
                .read_exact(&mut body[start..])
                .await
                .map_err(|_| HttpError::Closed)?;
            self.read += size as u64;
            self.read_line(&mut line).await?;
            if !line.trim_end().is_empty() {
                return Err(HttpError::Malformed("chunk without CRLF".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokio::net::TcpListener;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line("HTTP/1.1 200 OK\r\n").unwrap(), 200);
        assert_eq!(parse_status_line("HTTP/1.0 304\r\n").unwrap(), 304);
        assert!(parse_status_line("ICY 200 OK").is_err());
        assert!(parse_status_line("HTTP/1.1 2000 OK").is_err());
        assert!(parse_status_line("HTTP/1.1 abc").is_err());
    }

    #[test]
    fn header_lines() {
        assert_eq!(
            parse_header_line("ETag: \"abc\"\r\n").unwrap(),
            ("etag".into(), "\"abc\"".into())
        );
        assert!(parse_header_line("no colon\r\n").is_err());
        assert!(parse_header_line(": empty\r\n").is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let _ = parse_status_line(&s);
            let _ = parse_header_line(&s);
        }
    }

    async fn serve_once(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            for a in answers {
                let _ = s.read(&mut buf).await.unwrap();
                s.write_all(a).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn keep_alive_length_chunked_and_304() {
        let addr = serve_once(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
        ])
        .await;
        let mut c = Conn::connect(addr, Some("127.0.1.7".parse().unwrap()))
            .await
            .unwrap();
        let r = c.get("h", "/a", &[]).await.unwrap();
        assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
        assert_eq!(r.header("etag"), Some("\"x\""));
        let r = c.get("h", "/b", &[]).await.unwrap();
        assert_eq!(&r.body[..], b"abcde");
        let r = c
            .get("h", "/c", &[("If-None-Match", "\"x\"")])
            .await
            .unwrap();
        assert_eq!((r.status, r.body.len()), (304, 0));
        assert!(c.is_reusable());
        assert!(matches!(
            c.get("h", "/d", &[]).await,
            Err(HttpError::Closed)
        ));
        assert!(!c.is_reusable());
    }
}
