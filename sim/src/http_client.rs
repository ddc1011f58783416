//! The simulator's and load generator's HTTP/1.1 client: a thin wrapper over hyper's
//! `client::conn::http1`, one keep-alive connection, one request at a time.
//!
//! What it adds to hyper: a chosen source address (bind before connect, so 10,000+ simulated
//! phones spread over `127.0.1.x` do not exhaust one address's ephemeral ports), a count of the
//! bytes read and written on the socket (heads and bodies, as they cross it; [`Counted`] also
//! serves callers that count by their own rule), a cap on the body size, and typed errors that
//! tell a stale keep-alive connection from a garbled answer.

use std::future::{Future, poll_fn};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::{Builder, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

/// Largest body accepted.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// Largest response head accepted (hyper's read buffer).
const MAX_HEAD: usize = 64 * 1024;

/// Client-side HTTP failures.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connecting, or setting up the socket, failed.
    #[error("io: {0}")]
    Io(#[from] io::Error),
    /// The connection was closed before the request could be sent (e.g. the server closed an
    /// idle keep-alive connection).
    #[error("connection closed")]
    Closed,
    /// The connection broke (closed or reset) before a full answer arrived.
    #[error("connection lost: {0}")]
    Lost(#[source] hyper::Error),
    /// Not a valid HTTP/1.x answer.
    #[error("malformed response: {0}")]
    Malformed(#[source] hyper::Error),
    /// The head or the body is over the limits.
    #[error("response too large")]
    TooLarge,
    /// The request could not be built (bad path or header value).
    #[error("bad request: {0}")]
    Request(#[from] hyper::http::Error),
}

impl From<hyper::Error> for HttpError {
    fn from(e: hyper::Error) -> Self {
        if e.is_parse_too_large() {
            HttpError::TooLarge
        } else if e.is_parse() || e.is_parse_status() {
            HttpError::Malformed(e)
        } else {
            HttpError::Lost(e)
        }
    }
}

impl HttpError {
    /// Whether the failure is the connection's, not the answer's: a request that failed so on
    /// a reused keep-alive connection is worth one retry on a fresh one.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            HttpError::Io(_) | HttpError::Closed | HttpError::Lost(_)
        )
    }
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

/// An answer whose body is read as it arrives (a stream such as Server-Sent Events).
#[derive(Debug)]
pub struct Streaming {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    body: Incoming,
}

impl Streaming {
    /// The next piece of the body as it came off the wire (chunk framing removed); `None` at
    /// its end.
    pub async fn next_data(&mut self) -> Result<Option<Bytes>, HttpError> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// Where a [`Counted`] stream adds the bytes crossing it.
pub trait ByteSink {
    /// `n` bytes were read.
    fn read(&self, n: u64);
    /// `n` bytes were written.
    fn written(&self, n: u64);
}

/// Bytes read and written on one connection.
#[derive(Debug, Default)]
struct Tally {
    read: AtomicU64,
    written: AtomicU64,
}

impl ByteSink for Arc<Tally> {
    fn read(&self, n: u64) {
        self.read.fetch_add(n, Ordering::Relaxed);
    }
    fn written(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
    }
}

/// A stream that adds every byte crossing it to a [`ByteSink`].
#[derive(Debug)]
pub struct Counted<S, C> {
    inner: S,
    sink: C,
}

impl<S, C> Counted<S, C> {
    /// Wraps a stream.
    pub fn new(inner: S, sink: C) -> Self {
        Counted { inner, sink }
    }

    /// Where the bytes go.
    pub fn sink(&self) -> &C {
        &self.sink
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin, C: ByteSink + Unpin> AsyncRead for Counted<S, C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.sink.read(n as u64);
        r
    }
}

impl<S: AsyncWrite + Unpin, C: ByteSink + Unpin> AsyncWrite for Counted<S, C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.sink.written(*n as u64);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Connects a TCP stream to `addr`, from source address `source` if given, `TCP_NODELAY` on.
pub async fn connect_tcp(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        // Each source address has its own ephemeral port range.
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// hyper's connection future (reads and writes the socket); its errors reach the caller
/// through the request in flight.
type Driver = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One keep-alive connection. Dropping it closes the socket.
///
/// hyper's connection future is polled by this connection's own calls, in the caller's task,
/// not by a task of its own: a load generator with 10,000 clients then has 10,000 tasks, not
/// 20,000, and an answer costs one task wake-up, not two (at 10,000 long-polling clients the
/// second task put ~150 ms on the p99 of the measured cue latency, BENCHMARKS.md §2).
pub struct Conn {
    send: SendRequest<Empty<Bytes>>,
    /// `None` once it has ended (the connection is closed).
    driver: Option<Driver>,
    tally: Arc<Tally>,
    /// The server asked to close (`Connection: close`) or a request failed midway.
    spent: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("open", &self.driver.is_some())
            .field("spent", &self.spent)
            .finish_non_exhaustive()
    }
}

/// Runs `work` while polling the connection's driver (first, so that a close the server sent
/// while the connection was idle is seen before a request goes out).
async fn driving<T>(driver: &mut Option<Driver>, work: impl Future<Output = T>) -> T {
    let mut work = std::pin::pin!(work);
    poll_fn(|cx| {
        if let Some(d) = driver.as_mut()
            && d.as_mut().poll(cx).is_ready()
        {
            *driver = None;
        }
        work.as_mut().poll(cx)
    })
    .await
}

impl Conn {
    /// Connect to `addr`, from source address `source` if given.
    pub async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> Result<Conn, HttpError> {
        let stream = connect_tcp(addr, source).await?;
        Conn::handshake(stream).await
    }

    /// Speak HTTP/1.1 over an already connected stream (e.g. one that counts its own bytes).
    pub async fn handshake<S>(io: S) -> Result<Conn, HttpError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let tally = Arc::new(Tally::default());
        let io = Counted::new(io, tally.clone());
        let (send, conn) = Builder::new()
            .title_case_headers(true)
            .max_buf_size(MAX_HEAD)
            .handshake(TokioIo::new(io))
            .await
            .map_err(HttpError::from)?;
        let driver: Driver = Box::pin(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            send,
            driver: Some(driver),
            tally,
            spent: false,
        })
    }

    /// HTTP bytes (heads and bodies) read and written on this connection so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.tally.read.load(Ordering::Relaxed),
            self.tally.written.load(Ordering::Relaxed),
        )
    }

    /// Whether the connection can carry another request (it has not been closed by either
    /// side, as far as hyper has noticed).
    pub fn is_reusable(&self) -> bool {
        !self.spent && self.driver.is_some() && !self.send.is_closed()
    }

    /// Send `GET path` with `Host: host` and extra headers; read the whole answer.
    pub async fn get(
        &mut self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, HttpError> {
        let Streaming {
            status,
            headers,
            body,
        } = self.send(host, path, headers).await?;
        let collected = driving(&mut self.driver, Limited::new(body, MAX_BODY).collect()).await;
        let body = match collected {
            Ok(c) => c.to_bytes().to_vec(),
            Err(e) => {
                self.spent = true;
                return Err(match e.downcast::<hyper::Error>() {
                    Ok(e) => HttpError::from(*e),
                    Err(e) if e.is::<LengthLimitError>() => HttpError::TooLarge,
                    Err(e) => HttpError::Io(io::Error::other(e)),
                });
            }
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Send `GET path` like [`Conn::get`], but hand back the body to read as it arrives.
    pub async fn open(
        &mut self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Streaming, HttpError> {
        let stream = self.send(host, path, headers).await?;
        // The stream holds the connection until it ends; its body is read by the caller at its
        // own pace, so the driver goes to a task of its own now.
        self.spent = true;
        if let Some(driver) = self.driver.take() {
            tokio::spawn(driver);
        }
        Ok(stream)
    }

    async fn send(
        &mut self,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Streaming, HttpError> {
        if !self.is_reusable() {
            return Err(HttpError::Closed);
        }
        let mut req = hyper::Request::get(path).header(hyper::header::HOST, host);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let req = req.body(Empty::new())?;
        // An idle connection the server has closed shows up here or in the send.
        let send = &mut self.send;
        driving(&mut self.driver, send.ready())
            .await
            .map_err(|_| HttpError::Closed)?;
        let resp = match driving(&mut self.driver, send.send_request(req)).await {
            Ok(r) => r,
            Err(e) => {
                self.spent = true;
                return Err(e.into());
            }
        };
        let close = resp
            .headers()
            .get(hyper::header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        self.spent |= close;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(Streaming {
            status,
            headers,
            body: resp.into_body(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Answers each request on one connection with the next canned answer, then closes.
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
        let answers: Vec<&'static [u8]> = vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
        ];
        let read: u64 = answers.iter().map(|a| a.len() as u64).sum();
        let addr = serve_once(answers).await;
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
        // Every byte of the answers, heads included; requests were written too.
        let (r, w) = c.bytes();
        assert_eq!(r, read);
        assert!(
            w > 3 * "GET /a HTTP/1.1\r\nHost: h\r\n\r\n".len() as u64 - 3,
            "{w}"
        );
        // The server is gone: the next request fails as a connection failure.
        let e = c.get("h", "/d", &[]).await.unwrap_err();
        assert!(e.is_connection(), "{e}");
        assert!(!c.is_reusable());
    }

    #[tokio::test]
    async fn garbage_and_connection_close_are_told_apart() {
        let addr = serve_once(vec![b"ICY 200 OK\r\n\r\n"]).await;
        let mut c = Conn::connect(addr, None).await.unwrap();
        let e = c.get("h", "/", &[]).await.unwrap_err();
        assert!(matches!(e, HttpError::Malformed(_)), "{e}");

        let addr = serve_once(vec![
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        ])
        .await;
        let mut c = Conn::connect(addr, None).await.unwrap();
        let r = c.get("h", "/", &[]).await.unwrap();
        assert_eq!(&r.body[..], b"ok");
        assert!(!c.is_reusable());
        assert!(matches!(c.get("h", "/", &[]).await, Err(HttpError::Closed)));
    }

    #[tokio::test]
    async fn a_stream_is_read_as_it_arrives() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata: \r\n")
                .await
                .unwrap();
            let _ = wait.await;
            s.write_all(b"3\r\n1\n\n\r\n0\r\n\r\n").await.unwrap();
        });
        let mut c = Conn::connect(addr, None).await.unwrap();
        let mut s = c.open("h", "/events", &[]).await.unwrap();
        assert_eq!(s.status, 200);
        assert_eq!(s.next_data().await.unwrap().unwrap(), &b"data: "[..]);
        go.send(()).unwrap();
        assert_eq!(s.next_data().await.unwrap().unwrap(), &b"1\n\n"[..]);
        assert!(s.next_data().await.unwrap().is_none());
    }
}
