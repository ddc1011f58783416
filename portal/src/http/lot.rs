//! The long-poll lot: plain-HTTP `/s?after=V` requests parked away from their connection task.
//!
//! With long-poll, nearly every phone has one request parked at any moment, so what a parked
//! request costs decides the relay's memory (BENCHMARKS.md §2: RSS at 10,000 phones). Held in
//! its connection task, it costs the task and its future (~1 KiB) plus the socket's reactor
//! registration. Here it costs the socket's file descriptor, taken out of the reactor, and one
//! [`Entry`] in a queue: the task ends at the park and a new one starts when the answer is out.
//!
//! One task owns the lot. Entries arrive over a channel in park order, and every park waits the
//! same `long_poll_wait`, so the queue is also in deadline order: the front entry is the next to
//! time out. On a state change the task writes every waiting answer first (one non-blocking
//! `write` each, from the pre-rendered `/s` bytes) and only then resumes the connections, so the
//! last phone in the hall is not kept waiting behind the re-parks of the first ones.
//!
//! A phone that leaves while parked is noticed at its answer (the write fails, or the resumed
//! connection reads EOF), at the latest one long-poll wait later; `portal_listeners` counts it
//! until then. Connections with requests pipelined behind the parked one, and HTTPS ones (the
//! TLS state lives in the task), are held in their task as before ([`super::serve`]).

use std::collections::VecDeque;
use std::io::Write;
use std::net::Shutdown as SocketShutdown;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::caps::Admitted;
use super::routes;
use super::serve::{Parked, Resumed, Server};
use crate::shutdown::Shutdown;

/// One parked request: its socket (out of the reactor), what its answer needs, its place
/// under the connection caps and when it parked.
pub(super) struct Entry {
    pub(super) stream: std::net::TcpStream,
    pub(super) parked: Parked,
    pub(super) admitted: Admitted,
    pub(super) since: Instant,
}

/// Where connection tasks hand their parked requests.
pub(super) type LotSender = mpsc::UnboundedSender<Entry>;

/// Starts the lot's task for `server`'s plain-HTTP connections. The task ends on `shutdown`
/// after answering every waiting request (`connection: close`) and draining the connections
/// it resumed.
pub(super) fn start(
    server: Arc<Server>,
    shutdown: Shutdown,
) -> (LotSender, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let lot = Lot {
        server,
        sender: tx.clone(),
        waiting: VecDeque::new(),
        resumed: JoinSet::new(),
        shutdown: shutdown.clone(),
    };
    (tx, tokio::spawn(lot.run(rx, shutdown)))
}

struct Lot {
    server: Arc<Server>,
    /// Resumed connections may park again.
    sender: LotSender,
    waiting: VecDeque<Entry>,
    resumed: JoinSet<()>,
    shutdown: Shutdown,
}

/// An answered entry whose connection goes on: the socket, the unwritten part of the answer.
struct Resume {
    entry: Entry,
    unwritten: Vec<u8>,
    close: bool,
}

impl Lot {
    async fn run(mut self, mut arrivals: mpsc::UnboundedReceiver<Entry>, mut shutdown: Shutdown) {
        let app = self.server.app().clone();
        let wait = app.long_poll_wait;
        let mut changes = app.relay.subscribe();
        let timer = tokio::time::sleep(wait);
        tokio::pin!(timer);
        loop {
            let next_timeout = self.waiting.front().map(|e| e.since + wait);
            if let Some(at) = next_timeout
                && timer.deadline() != at
            {
                timer.as_mut().reset(at);
            }
            tokio::select! {
                biased;
                () = shutdown.wait() => break,
                r = changes.changed() => {
                    if r.is_err() {
                        break;
                    }
                    let version = app.relay.snapshot().version;
                    let (answer, keep): (VecDeque<Entry>, VecDeque<Entry>) =
                        std::mem::take(&mut self.waiting)
                            .into_iter()
                            .partition(|e| e.parked.after != version);
                    self.waiting = keep;
                    self.answer_all(answer, false);
                }
                Some(entry) = arrivals.recv() => {
                    app.metrics.listeners.fetch_add(1, Ordering::Relaxed);
                    if entry.parked.after != app.relay.snapshot().version {
                        // Changed between routing and arriving here.
                        self.answer_all([entry], false);
                    } else {
                        self.waiting.push_back(entry);
                    }
                }
                () = timer.as_mut(), if next_timeout.is_some() => {
                    let now = Instant::now();
                    let due = self.waiting.iter().take_while(|e| e.since + wait <= now).count();
                    let answer: Vec<Entry> = self.waiting.drain(..due).collect();
                    self.answer_all(answer, false);
                }
            }
            while self.resumed.try_join_next().is_some() {}
        }
        // Shutdown: nothing new parks here (connections hold in their task once stopping);
        // answer everyone waiting, then give resumed connections the drain time.
        arrivals.close();
        while let Ok(entry) = arrivals.try_recv() {
            app.metrics.listeners.fetch_add(1, Ordering::Relaxed);
            self.waiting.push_back(entry);
        }
        let answer = std::mem::take(&mut self.waiting);
        self.answer_all(answer, true);
        let drain = self.server.limits().drain + Duration::from_millis(500);
        let resumed = &mut self.resumed;
        let _ = tokio::time::timeout(drain, async {
            while resumed.join_next().await.is_some() {}
        })
        .await;
        self.resumed.abort_all();
    }

    /// Writes every answer, then resumes the connections that go on.
    fn answer_all(&mut self, entries: impl IntoIterator<Item = Entry>, stopping: bool) {
        let app = self.server.app().clone();
        let mut goes_on = Vec::new();
        let mut out = Vec::new();
        for entry in entries {
            app.metrics.listeners.fetch_sub(1, Ordering::Relaxed);
            let p = &entry.parked;
            let reply = routes::held_reply(&app, p.if_none_match.as_deref().unwrap_or(""), p.after);
            app.metrics.count_request("s", reply.status);
            let close = stopping || !p.keep_alive;
            out.clear();
            reply.encode(&mut out, p.head_only, close, p.http10);
            let written = match (&entry.stream).write(&out) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                Err(error) => {
                    tracing::trace!(%error, "http: parked phone gone");
                    self.closed(entry);
                    continue;
                }
            };
            if written == out.len() && close {
                let _ = entry.stream.shutdown(SocketShutdown::Write);
                self.closed(entry);
                continue;
            }
            goes_on.push(Resume {
                entry,
                unwritten: out[written..].to_vec(),
                close,
            });
        }
        for r in goes_on {
            self.resume(r);
        }
    }

    /// The connection ends here: it leaves the open-connections gauge (its cap place is freed
    /// with the entry).
    fn closed(&self, entry: Entry) {
        self.server
            .app()
            .metrics
            .connection_closed(super::Scheme::Http);
        drop(entry);
    }

    fn resume(&mut self, r: Resume) {
        let Resume {
            entry,
            unwritten,
            close,
        } = r;
        let Entry {
            stream, admitted, ..
        } = entry;
        let stream = match TcpStream::from_std(stream) {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(%error, "http: cannot resume a parked connection");
                self.server
                    .app()
                    .metrics
                    .connection_closed(super::Scheme::Http);
                return;
            }
        };
        let resumed = Some(Box::new(Resumed { unwritten, close }));
        let server = self.server.clone();
        let (lot, shutdown) = (self.sender.clone(), self.shutdown.clone());
        self.resumed
            .spawn(server.serve_plain(stream, resumed, admitted, lot, shutdown));
    }
}
