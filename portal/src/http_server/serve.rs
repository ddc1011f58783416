//! The one HTTP/1.1 connection path, for HTTP and HTTPS alike: accept (under the
//! [`ConnectionCaps`]) → TLS handshake when the listener has an acceptor → [`Server::serve_stream`],
//! the same loop, timers, caps and gauges for both.
//!
//! The loop is lean on purpose (BENCHMARKS.md §2: memory per idle keep-alive connection): a
//! connection between requests holds no buffer. Each wake-up reads into a per-worker-thread
//! scratch buffer, answers every complete request in it (pipelined requests in order) into a
//! per-worker output buffer and writes that at once; only what cannot be finished now is
//! copied into the connection (a partial head, unwritten output, requests behind a parked
//! long-poll). Heads are parsed by `httparse` ([`super::request`]); answers are mostly
//! pre-rendered `Bytes` ([`super::response`]).
//!
//! Limits: the request head must arrive within `header_timeout` of the end of the previous
//! answer (so it also bounds the keep-alive wait); no byte moving either way for
//! `idle_timeout` closes the connection (slow readers); heads over `max_header_bytes` get 431,
//! malformed ones 400, bodies 413 — each then closed. A parked `/s?after=V` is bounded by the
//! long-poll wait instead; over plain HTTP it waits in the lot ([`super::lot`]), not in the
//! task. On shutdown idle connections close at once, parked ones are answered, and the rest get
//! `drain` to finish.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::Scheme;
use super::caps::{Admitted, ConnectionCaps};
use super::lot::{self, Lot, Parked, Resumed};
use super::request::{self, HeadError, Method, Parsed};
use super::response::Reply;
use super::routes::{self, Answer, AppState};
use crate::shutdown::Shutdown;

/// Connection limits (shared by HTTP and HTTPS).
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// A request head must arrive within this after the previous answer (or the accept).
    pub header_timeout: Duration,
    /// Close a connection on which no byte moved in either direction for this long.
    pub idle_timeout: Duration,
    /// Most simultaneously open connections, HTTP and HTTPS together; further ones wait in
    /// the kernel backlog.
    pub max_connections: usize,
    /// Most simultaneously open connections from one source address (not for `exempt`).
    pub max_connections_per_address: usize,
    /// Addresses without the per-address cap.
    pub exempt_addresses: Vec<IpAddr>,
    /// Largest request head, bytes (431 beyond it).
    pub max_header_bytes: usize,
    /// Time given to in-flight answers on shutdown.
    pub drain: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            max_connections: 8192,
            max_connections_per_address: 16,
            exempt_addresses: Vec::new(),
            max_header_bytes: 16384,
            drain: Duration::from_secs(2),
        }
    }
}

/// Bytes read per wake-up (per worker thread, not per connection).
const SCRATCH_BYTES: usize = 64 * 1024;
/// Stop answering pipelined requests once this much output waits (the rest stay queued).
const OUTPUT_HIGH_WATER: usize = 64 * 1024;
/// Output buffers larger than this are not kept by a worker after use.
const OUTPUT_KEEP: usize = 256 * 1024;
/// Refusals at the per-address cap are logged at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_BYTES]);
    static OUTPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The HTTP server: one per process, serving every listener.
#[derive(Debug)]
pub struct Server {
    app: Arc<AppState>,
    limits: HttpLimits,
    caps: Arc<ConnectionCaps>,
}

/// What a connection waits for after a step.
enum Event {
    /// A `/s?after=V` to hold.
    Park,
    /// Done: close.
    Close,
}

/// Per-connection state: empty (no heap) between requests.
struct Conn {
    https: bool,
    /// Input not answered yet: a partial head, or requests behind a parked one.
    carry: Vec<u8>,
    /// `carry` may hold complete requests: answer them before reading.
    carry_ready: bool,
    /// Output not written yet, from `written` on.
    pending: Vec<u8>,
    written: usize,
    /// Output went into a layer that may buffer (TLS): flush before waiting.
    flush: bool,
    /// Close once `pending` is written.
    close: bool,
    /// Answers say `connection: close` (shutdown).
    stopping: bool,
    parked: Option<Parked>,
    /// When the current head wait began (end of the previous answer).
    wait_start: Instant,
    /// Last byte moved either way.
    last_progress: Instant,
}

impl Conn {
    fn new(https: bool, stopping: bool) -> Self {
        let now = Instant::now();
        Conn {
            https,
            carry: Vec::new(),
            carry_ready: false,
            pending: Vec::new(),
            written: 0,
            flush: false,
            close: false,
            stopping,
            parked: None,
            wait_start: now,
            last_progress: now,
        }
    }
}

/// Keeps the open-connections gauge right however the connection task ends.
struct OpenGauge<'a>(&'a AppState, Scheme);

impl Drop for OpenGauge<'_> {
    fn drop(&mut self) {
        self.0.metrics.connection_closed(self.1);
    }
}

/// Keeps `portal_listeners` right however a parked request ends.
struct ListenerGauge<'a>(&'a AppState);

impl<'a> ListenerGauge<'a> {
    fn new(app: &'a AppState) -> Self {
        app.metrics.listeners.fetch_add(1, Ordering::Relaxed);
        Self(app)
    }
}

impl Drop for ListenerGauge<'_> {
    fn drop(&mut self) {
        self.0.metrics.listeners.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Server {
    /// A server answering from `app` under `limits`.
    pub fn new(app: Arc<AppState>, limits: HttpLimits) -> Arc<Self> {
        let caps = ConnectionCaps::new(
            limits.max_connections,
            limits.max_connections_per_address,
            &limits.exempt_addresses,
        );
        Arc::new(Self { app, limits, caps })
    }

    /// Serves `listener` until `shutdown` (TLS first when `tls` is given), then drains its
    /// connections for `limits.drain` (+0.5 s) and aborts the rest.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<TlsAcceptor>,
        mut shutdown: Shutdown,
    ) {
        let label = if tls.is_some() { "https" } else { "http" };
        let mut tasks = tokio::task::JoinSet::new();
        // Plain-HTTP long-polls park in the lot, not in their task (lot.rs).
        let lot = tls.is_none().then(|| {
            let (server, stop) = (self.clone(), shutdown.clone());
            let resume: lot::ResumeFn = Box::new(move |lot, stream, resumed, admitted| {
                Box::pin(server.clone().serve_plain(
                    stream,
                    Some(resumed),
                    admitted,
                    lot,
                    stop.clone(),
                ))
            });
            Lot::start(
                self.app.clone(),
                self.limits.drain,
                resume,
                shutdown.clone(),
            )
        });
        let mut refused_since_log = 0u64;
        let mut last_log: Option<Instant> = None;
        loop {
            let permit = tokio::select! {
                p = self.caps.reserve() => match p { Some(p) => p, None => break },
                () = shutdown.wait() => break,
            };
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(error) => {
                        // EMFILE/ENFILE or a reset before accept: back off instead of spinning.
                        tracing::warn!(%error, "{label}: accept error, backing off");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = shutdown.wait() => break,
            };
            let Some(admitted) = self.caps.admit(permit, peer.ip()) else {
                drop(stream);
                self.app
                    .metrics
                    .refused_per_address
                    .fetch_add(1, Ordering::Relaxed);
                refused_since_log += 1;
                if last_log.is_none_or(|t| t.elapsed() >= REFUSAL_LOG_EVERY) {
                    tracing::warn!(
                        address = %peer.ip(),
                        refused = refused_since_log,
                        cap = self.limits.max_connections_per_address,
                        "{label}: connections over the per-address cap closed (see /metrics)"
                    );
                    last_log = Some(Instant::now());
                    refused_since_log = 0;
                }
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (server, shutdown) = (self.clone(), shutdown.clone());
            // Two task types, so a plain connection's future is not as large as a TLS one's.
            match &tls {
                None => {
                    let lot = lot
                        .as_ref()
                        .map(|(lot, _)| lot.clone())
                        .expect("plain listener");
                    tasks.spawn(server.serve_plain(stream, None, admitted, lot, shutdown))
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    tasks.spawn(async move {
                        let _admitted = admitted;
                        server.serve_tls(acceptor, stream, shutdown).await;
                    })
                }
            };
            while tasks.try_join_next().is_some() {}
        }
        let _ = tokio::time::timeout(self.limits.drain + Duration::from_millis(500), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
        if let Some((lot, task)) = lot {
            drop(lot);
            let _ = task.await;
        }
    }

    /// Serves a plain connection (new, or resumed by the lot) until it closes or parks a
    /// long-poll in the lot. The open-connections gauge counts it from the accept until it
    /// closes, across parks.
    pub(super) async fn serve_plain(
        self: Arc<Self>,
        mut stream: TcpStream,
        resumed: Option<Box<Resumed>>,
        admitted: Admitted,
        lot: Arc<Lot>,
        shutdown: Shutdown,
    ) {
        if resumed.is_none() {
            self.app.metrics.connection_opened(Scheme::Http);
        }
        let gauge = OpenGauge(&self.app, Scheme::Http);
        let Some(parked) = self
            .serve_stream(&mut stream, false, resumed, true, shutdown)
            .await
        else {
            return;
        };
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(%error, "http: cannot park a connection");
                return;
            }
        };
        let entry = lot::Entry {
            stream,
            parked,
            admitted,
            since: Instant::now(),
        };
        // Still open: the lot (then the resumed task) counts it.
        std::mem::forget(gauge);
        lot.park(entry);
    }

    /// The TLS handshake is an accept step: it must finish within the header timeout.
    async fn serve_tls(&self, acceptor: TlsAcceptor, stream: TcpStream, shutdown: Shutdown) {
        self.app.metrics.connection_opened(Scheme::Https);
        let _gauge = OpenGauge(&self.app, Scheme::Https);
        let tls = tokio::time::timeout(self.limits.header_timeout, acceptor.accept(stream)).await;
        match tls {
            Ok(Ok(mut tls)) => {
                let parked = self
                    .serve_stream(&mut tls, true, None, false, shutdown)
                    .await;
                debug_assert!(parked.is_none(), "HTTPS holds long-polls in its task");
            }
            Ok(Err(error)) => {
                self.app.metrics.tls_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "https: handshake failed");
            }
            Err(_) => {
                self.app.metrics.tls_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("https: handshake timed out");
            }
        }
    }

    /// Serves one connection (plain or TLS) until it closes, times out or shutdown drains it;
    /// or, with `park_away`, until a long-poll parks with nothing queued behind it: then it
    /// returns the parked request for the lot.
    async fn serve_stream<S>(
        &self,
        io: &mut S,
        https: bool,
        resumed: Option<Box<Resumed>>,
        park_away: bool,
        mut shutdown: Shutdown,
    ) -> Option<Parked>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut c = Conn::new(https, shutdown.is_triggered());
        if let Some(r) = resumed {
            c.pending = r.unwritten;
            c.close = r.close;
        }
        // Pinned once: re-creating the wait each round would re-register it every request.
        let stop = async move { shutdown.wait().await };
        tokio::pin!(stop);
        let timer = tokio::time::sleep_until(self.deadline(&c));
        tokio::pin!(timer);
        loop {
            let event = tokio::select! {
                biased;
                e = poll_fn(|cx| self.step(cx, io, &mut c)) => e,
                () = &mut timer => {
                    // The timer is not moved on every request: on firing, check the real
                    // deadlines and re-arm if they moved.
                    let now = Instant::now();
                    if now >= c.last_progress + self.limits.idle_timeout {
                        self.app.metrics.idle_closed.fetch_add(1, Ordering::Relaxed);
                        return None;
                    }
                    if c.pending.is_empty() && now >= c.wait_start + self.limits.header_timeout {
                        self.app.metrics.header_timeouts.fetch_add(1, Ordering::Relaxed);
                        return None;
                    }
                    timer.as_mut().reset(self.deadline(&c));
                    continue;
                }
                () = &mut stop, if !c.stopping => {
                    c.stopping = true;
                    if c.pending.is_empty() {
                        return None; // between requests (or mid-head): nothing to finish
                    }
                    c.close = true;
                    continue;
                }
            };
            match event {
                Ok(Event::Close) => {
                    // FIN (TLS: close_notify first), bounded by the connection's own timer.
                    timer
                        .as_mut()
                        .reset(Instant::now() + Duration::from_millis(500));
                    tokio::select! {
                        _ = io.shutdown() => {}
                        () = timer.as_mut() => {}
                    }
                    return None;
                }
                Err(error) => {
                    tracing::trace!(%error, "http: connection error");
                    return None;
                }
                Ok(Event::Park) => {
                    let Some(parked) = c.parked.take() else {
                        continue;
                    };
                    if park_away && c.carry.is_empty() && !c.stopping {
                        return Some(parked);
                    }
                    if !Box::pin(self.hold(io, &mut c, &parked, stop.as_mut(), timer.as_mut()))
                        .await
                    {
                        return None; // the phone went away
                    }
                    self.answer_parked(&mut c, &parked);
                    timer.as_mut().reset(self.deadline(&c));
                }
            }
        }
    }

    fn deadline(&self, c: &Conn) -> Instant {
        let idle = c.last_progress + self.limits.idle_timeout;
        if c.pending.is_empty() {
            idle.min(c.wait_start + self.limits.header_timeout)
        } else {
            idle
        }
    }

    /// Holds a parked `/s?after=V` until the state's version moves, the long-poll wait ends or
    /// shutdown; meanwhile reads only to notice the phone leaving (or queue what it pipelines).
    /// False if the connection is gone.
    async fn hold<S, F>(
        &self,
        io: &mut S,
        c: &mut Conn,
        p: &Parked,
        mut stop: Pin<&mut F>,
        mut until: Pin<&mut tokio::time::Sleep>,
    ) -> bool
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: Future<Output = ()>,
    {
        let _listening = ListenerGauge::new(&self.app);
        let mut changes = self.app.relay.subscribe();
        if self.app.relay.snapshot().version != p.after {
            return true; // changed between routing and subscribing
        }
        // The connection's own timer bounds the hold (re-armed by the caller afterwards).
        until
            .as_mut()
            .reset(Instant::now() + self.app.long_poll_wait);
        let carry_cap = self.limits.max_header_bytes + SCRATCH_BYTES;
        loop {
            let watch_input = c.carry.len() < carry_cap;
            tokio::select! {
                r = changes.changed() => {
                    if r.is_err() || self.app.relay.snapshot().version != p.after {
                        return true;
                    }
                }
                () = until.as_mut() => return true,
                () = stop.as_mut(), if !c.stopping => {
                    c.stopping = true;
                    return true;
                }
                r = poll_fn(|cx| read_into(cx, io, &mut c.carry)), if watch_input => match r {
                    Ok(0) | Err(_) => return false,
                    Ok(_) => c.last_progress = Instant::now(),
                },
            }
        }
    }

    fn answer_parked(&self, c: &mut Conn, p: &Parked) {
        c.close = p.encode_answer(&self.app, c.stopping, &mut c.pending);
        let now = Instant::now();
        c.wait_start = now;
        c.last_progress = now;
        c.carry_ready = !c.carry.is_empty();
    }

    /// One synchronous round: write what is pending, answer queued requests, read and answer
    /// new ones. `Pending` while waiting for the socket; `Ready` to park or close.
    fn step<S>(&self, cx: &mut Context<'_>, io: &mut S, c: &mut Conn) -> Poll<io::Result<Event>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        loop {
            while c.written < c.pending.len() {
                let n = ready!(Pin::new(&mut *io).poll_write(cx, &c.pending[c.written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                c.written += n;
                c.last_progress = Instant::now();
            }
            if !c.pending.is_empty() {
                c.pending = Vec::new();
                c.written = 0;
                c.flush = true;
            }
            if c.flush {
                ready!(Pin::new(&mut *io).poll_flush(cx))?;
                c.flush = false;
            }
            if c.close {
                return Poll::Ready(Ok(Event::Close));
            }
            if c.parked.is_some() {
                return Poll::Ready(Ok(Event::Park));
            }
            if c.carry_ready {
                c.carry_ready = false;
                let input = std::mem::take(&mut c.carry);
                OUTPUT.with_borrow_mut(|out| {
                    let used = self.answer(&input, c, out);
                    if used < input.len() {
                        c.carry = input[used..].to_vec();
                    }
                    self.write_now(cx, io, c, out)
                })?;
                continue;
            }
            ready!(SCRATCH.with_borrow_mut(|buf| -> Poll<io::Result<()>> {
                let mut rb = ReadBuf::new(buf);
                ready!(Pin::new(&mut *io).poll_read(cx, &mut rb))?;
                let n = rb.filled().len();
                if n == 0 {
                    c.close = true; // EOF
                    return Poll::Ready(Ok(()));
                }
                c.last_progress = Instant::now();
                OUTPUT.with_borrow_mut(|out| {
                    if c.carry.is_empty() {
                        let used = self.answer(&buf[..n], c, out);
                        if used < n {
                            c.carry.extend_from_slice(&buf[used..n]);
                        }
                    } else {
                        c.carry.extend_from_slice(&buf[..n]);
                        let input = std::mem::take(&mut c.carry);
                        let used = self.answer(&input, c, out);
                        if used < input.len() {
                            c.carry = input[used..].to_vec();
                        }
                    }
                    Poll::Ready(self.write_now(cx, io, c, out))
                })
            }))?;
        }
    }

    /// Writes `out` as far as the socket takes it now; the rest moves to `c.pending`.
    fn write_now<S>(
        &self,
        cx: &mut Context<'_>,
        io: &mut S,
        c: &mut Conn,
        out: &mut Vec<u8>,
    ) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut done = 0;
        while done < out.len() {
            match Pin::new(&mut *io).poll_write(cx, &out[done..]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    done += n;
                    c.flush = true;
                    c.last_progress = Instant::now();
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        if done < out.len() {
            c.pending.extend_from_slice(&out[done..]);
        }
        out.clear();
        if out.capacity() > OUTPUT_KEEP {
            *out = Vec::new();
        }
        Ok(())
    }

    /// Answers the complete requests at the start of `input` into `out`, in order; returns how
    /// many bytes were consumed (the rest: a partial head, or requests queued behind a parked
    /// one or a full output buffer — then `c.carry_ready` is set).
    fn answer(&self, input: &[u8], c: &mut Conn, out: &mut Vec<u8>) -> usize {
        let mut pos = 0;
        while pos < input.len() {
            if out.len() >= OUTPUT_HIGH_WATER {
                c.carry_ready = true;
                return pos;
            }
            match request::parse(&input[pos..], self.limits.max_header_bytes) {
                Parsed::Partial => return pos,
                Parsed::Error(e) => {
                    let (status, body) = match e {
                        HeadError::TooLarge => (431, "request head too large\n"),
                        HeadError::Malformed => (400, "bad request\n"),
                    };
                    self.app.metrics.count_request("rejected", status);
                    Reply::new(status, body).encode(out, false, true, false);
                    c.close = true;
                    return input.len();
                }
                Parsed::Complete { head, len } => {
                    pos += len;
                    c.wait_start = Instant::now();
                    match routes::route(&self.app, &head, c.https) {
                        Answer::Reply(reply) => {
                            let close = reply.close || !head.keep_alive || c.stopping;
                            reply.encode(out, head.method == Method::Head, close, head.http10);
                            if close {
                                c.close = true;
                                return input.len();
                            }
                        }
                        Answer::Park { after } => {
                            c.parked = Some(Parked {
                                after,
                                head_only: head.method == Method::Head,
                                keep_alive: head.keep_alive,
                                http10: head.http10,
                                if_none_match: (!head.if_none_match.is_empty())
                                    .then(|| head.if_none_match.into()),
                            });
                            c.carry_ready = pos < input.len();
                            return pos;
                        }
                    }
                }
            }
        }
        pos
    }
}

/// Reads what is there into `carry` (while a request is parked).
fn read_into<S: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    io: &mut S,
    carry: &mut Vec<u8>,
) -> Poll<io::Result<usize>> {
    SCRATCH.with_borrow_mut(|buf| {
        let mut rb = ReadBuf::new(buf);
        ready!(Pin::new(io).poll_read(cx, &mut rb))?;
        carry.extend_from_slice(rb.filled());
        Poll::Ready(Ok(rb.filled().len()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Arc<Server> {
        let app = AppState {
            canonical_url: "http://127.0.0.1/".into(),
            own_hosts: vec!["127.0.0.1".into()],
            release: Default::default(),
            relay: Arc::new(crate::relay::RelayState::new()),
            catalog: Arc::new(crate::catalog::Catalog::new("/nonexistent".into())),
            metrics: Default::default(),
            dns: Default::default(),
            webtransport: Default::default(),
            certificates: None,
            venue_info_url: None,
            long_poll_wait: Duration::from_secs(29),
        };
        Server::new(Arc::new(app), HttpLimits::default())
    }

    /// What one plain connection's task holds besides the socket (BENCHMARKS.md §2 measures
    /// the whole: task, socket registration, caps, allocator).
    #[tokio::test]
    async fn connection_future_is_small() {
        let server = server();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let admitted = server
            .caps
            .admit(
                server.caps.reserve().await.unwrap(),
                "127.0.0.1".parse().unwrap(),
            )
            .unwrap();
        let resume: lot::ResumeFn = Box::new(|_, _, _, _| Box::pin(async {}));
        let (lot, _) = Lot::start(
            server.app.clone(),
            Duration::ZERO,
            resume,
            Shutdown::never(),
        );
        let fut = server
            .clone()
            .serve_plain(stream, None, admitted, lot, Shutdown::never());
        let size = std::mem::size_of_val(&fut);
        // The whole task: `serve_plain` is spawned as it is.
        eprintln!("plain connection future: {size} bytes");
        assert!(size <= 900, "{size}");
    }

    #[test]
    fn idle_conn_is_small() {
        // The connection state itself: three empty Vecs, timestamps and flags.
        assert!(
            std::mem::size_of::<Conn>() <= 192,
            "{}",
            std::mem::size_of::<Conn>()
        );
    }
}
