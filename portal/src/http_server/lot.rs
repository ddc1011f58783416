//! The long-poll lot: plain-HTTP `/s?after=V` requests parked away from their connection task.
//!
//! With long-poll, nearly every phone has one request parked at any moment, so what a parked
//! request costs decides the relay's memory (BENCHMARKS.md §2: RSS at 10,000 phones). Held in
//! its connection task, it costs the task and its future (~1 KiB) plus the socket's reactor
//! registration. Here it costs the socket's file descriptor, taken out of the reactor, and one
//! [`Entry`] in a queue: the task ends at the park and a new one starts when the answer is out.
//!
//! Every park waits the same `long_poll_wait`, so the queue, in park order, is also in deadline
//! order: the front entry is the next to time out. One task watches the front's deadline and the
//! relay's state, and answers timeouts in batches ([`timeout_batch`]); a connection task parks
//! by pushing under the queue's lock, waking the lot's task only when the queue was empty (its
//! timer needs arming), so a park costs no wake-up.
//! On a state change the waiting answers go out in chunks spread over the runtime's workers:
//! every answer is written first (one non-blocking `write` each, from the pre-rendered `/s`
//! bytes), and only when all chunks are written are the connections resumed, so the last phones
//! in the hall are not kept waiting behind the re-parks of the first ones.
//!
//! A phone that leaves while parked is noticed at its answer (the write fails, or the resumed
//! connection reads EOF), at the latest one long-poll wait later; `portal_listeners` counts it
//! until then. Connections with requests pipelined behind the parked one, and HTTPS ones (the
//! TLS state lives in the task), are held in their task as before ([`super::serve`]).

use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::net::Shutdown as SocketShutdown;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::caps::Admitted;
use super::routes::{self, AppState};
use crate::shutdown::Shutdown;

/// A held `/s?after=V`: what its answer needs.
#[derive(Debug)]
pub(super) struct Parked {
    pub(super) after: u64,
    pub(super) head_only: bool,
    pub(super) keep_alive: bool,
    pub(super) http10: bool,
    pub(super) if_none_match: Option<Box<str>>,
}

impl Parked {
    /// Appends the answer to this parked request to `out` (counted in the metrics); returns
    /// whether the connection closes after it (`stopping`: shutdown).
    pub(super) fn encode_answer(&self, app: &AppState, stopping: bool, out: &mut Vec<u8>) -> bool {
        let inm = self.if_none_match.as_deref().unwrap_or("");
        let reply = routes::held_reply(app, inm, self.after);
        app.metrics.count_request("s", reply.status);
        let close = stopping || !self.keep_alive;
        reply.encode(out, self.head_only, close, self.http10);
        close
    }
}

/// A connection the lot resumes after its parked answer went out: the part of the answer the
/// socket did not take yet, and whether the connection closes after it.
pub(super) struct Resumed {
    pub(super) unwritten: Vec<u8>,
    pub(super) close: bool,
}

/// Serves a resumed connection (the server's connection path; it may park here again).
pub(super) type ResumeFn = Box<
    dyn Fn(Arc<Lot>, TcpStream, Box<Resumed>, Admitted) -> Pin<Box<dyn Future<Output = ()> + Send>>
        + Send
        + Sync,
>;

/// How early a timed-out entry may be answered, so that timeouts go out in batches: each batch
/// answers every entry whose wait ends before the next one, at most `batch` early (a hold
/// lasts between `wait - batch` and `wait`). A hall's phones park at scattered instants; answered
/// one by one, each timeout would wake the relay (and, on loopback, the phone) on its own, while
/// a batch shares the wake-ups (BENCHMARKS.md §2: relay CPU at 10,000 phones).
fn timeout_batch(wait: Duration) -> Duration {
    (wait / 16).min(Duration::from_millis(500))
}

/// The timing of timeout batches, apart from the sockets: when the next batch goes, and which
/// parks it answers.
#[derive(Clone, Copy, Debug)]
struct Batches {
    wait: Duration,
    batch: Duration,
    /// When the last batch went: the next one is not before `batch` later.
    last: Option<Instant>,
}

impl Batches {
    fn new(wait: Duration) -> Self {
        Batches {
            wait,
            batch: timeout_batch(wait),
            last: None,
        }
    }

    /// When the batch for the park made at `front_since` (the oldest waiting) goes.
    fn next_at(&self, front_since: Instant) -> Instant {
        let at = front_since + self.wait - self.batch;
        self.last.map_or(at, |last| at.max(last + self.batch))
    }

    /// A batch goes at `now`: whether a park made at `since` is in it.
    fn is_due(&self, since: Instant, now: Instant) -> bool {
        since + self.wait <= now + self.batch
    }
}

/// Answers written by one task before the rest go to another: a state change in a full hall
/// is spread over the runtime's workers.
const CHUNK: usize = 512;

/// One parked request: its socket (out of the reactor), what its answer needs, its place
/// under the connection caps and when it parked.
pub(super) struct Entry {
    pub(super) stream: std::net::TcpStream,
    pub(super) parked: Parked,
    pub(super) admitted: Admitted,
    pub(super) since: Instant,
}

/// The lot of one plain-HTTP listener; shared by its connection tasks and its own task.
pub(super) struct Lot {
    app: Arc<AppState>,
    /// Time given to resumed connections on shutdown.
    drain: Duration,
    resume: ResumeFn,
    queue: Mutex<Queue>,
    /// The queue went from empty to one entry: the lot's task arms its timer.
    first: Notify,
    /// Tasks answering chunks and the connections they resumed (drained on shutdown).
    tasks: Mutex<JoinSet<()>>,
}

struct Queue {
    waiting: VecDeque<Entry>,
    /// Shutdown has answered everyone: nothing parks any more.
    closed: bool,
}

impl Lot {
    /// Starts the lot's task for one listener's plain-HTTP connections (`resume` serves them
    /// again after their answer). The task ends on `shutdown`
    /// after answering every waiting request (`connection: close`) and giving the connections
    /// it resumed the drain time.
    pub(super) fn start(
        app: Arc<AppState>,
        drain: Duration,
        resume: ResumeFn,
        shutdown: Shutdown,
    ) -> (Arc<Lot>, tokio::task::JoinHandle<()>) {
        let lot = Arc::new(Lot {
            app,
            drain,
            resume,
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                closed: false,
            }),
            first: Notify::new(),
            tasks: Mutex::new(JoinSet::new()),
        });
        let task = tokio::spawn(lot.clone().run(shutdown));
        (lot, task)
    }

    /// Parks `entry` until the state moves past `entry.parked.after` or the wait ends. If the
    /// state has moved already, or the lot has shut down, it is answered now.
    pub(super) fn park(self: &Arc<Self>, entry: Entry) {
        let app = &self.app;
        let mut q = self.queue();
        // Checked under the lock: a change after this is answered by the lot's task, which
        // takes the lock after the relay's version moved.
        let stale = entry.parked.after != app.relay.snapshot().version;
        if q.closed || stale {
            let stopping = q.closed;
            drop(q);
            app.metrics.listeners.fetch_add(1, Ordering::Relaxed);
            self.answer(vec![entry], stopping);
            return;
        }
        let was_empty = q.waiting.is_empty();
        q.waiting.push_back(entry);
        drop(q);
        app.metrics.listeners.fetch_add(1, Ordering::Relaxed);
        if was_empty {
            self.first.notify_one();
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run(self: Arc<Self>, mut shutdown: Shutdown) {
        let app = self.app.clone();
        let wait = app.long_poll_wait;
        let mut batches = Batches::new(wait);
        let mut changes = app.relay.subscribe();
        let timer = tokio::time::sleep(wait);
        tokio::pin!(timer);
        loop {
            let next_timeout = self
                .queue()
                .waiting
                .front()
                .map(|e| batches.next_at(e.since));
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
                    let moved: Vec<Entry> = {
                        let mut q = self.queue();
                        let version = app.relay.snapshot().version;
                        let (moved, same): (Vec<Entry>, Vec<Entry>) =
                            std::mem::take(&mut q.waiting)
                                .into_iter()
                                .partition(|e| e.parked.after != version);
                        q.waiting = same.into();
                        moved
                    };
                    self.answer(moved, false);
                }
                () = self.first.notified() => {}
                () = timer.as_mut(), if next_timeout.is_some() => {
                    let now = Instant::now();
                    batches.last = Some(now);
                    let due: Vec<Entry> = {
                        let mut q = self.queue();
                        let n = q
                            .waiting
                            .iter()
                            .take_while(|e| batches.is_due(e.since, now))
                            .count();
                        q.waiting.drain(..n).collect()
                    };
                    self.answer(due, false);
                }
            }
            let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
            while tasks.try_join_next().is_some() {}
        }
        let everyone: Vec<Entry> = {
            let mut q = self.queue();
            q.closed = true;
            q.waiting.drain(..).collect()
        };
        self.answer(everyone, true);
        let drain = self.drain + Duration::from_millis(500);
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let _ =
            tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.abort_all();
    }

    /// Answers `entries` (taken out of the queue): up to [`CHUNK`] in this task, more in
    /// chunks on tasks of their own.
    fn answer(self: &Arc<Self>, entries: Vec<Entry>, stopping: bool) {
        if entries.len() <= CHUNK {
            self.answer_chunk(entries, stopping);
            return;
        }
        let chunks = entries.len().div_ceil(CHUNK);
        // No chunk resumes its connections (whose next requests then compete for the cores)
        // before every chunk has written its answers.
        let written = Arc::new(tokio::sync::Barrier::new(chunks));
        let mut rest = entries.into_iter();
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..chunks {
            let chunk: Vec<Entry> = rest.by_ref().take(CHUNK).collect();
            let (lot, written) = (self.clone(), written.clone());
            tasks.spawn(async move {
                let goes_on = lot.write_answers(chunk, stopping);
                written.wait().await;
                lot.resume(goes_on);
            });
        }
    }

    /// Writes every answer, then resumes the connections that go on.
    fn answer_chunk(self: &Arc<Self>, entries: Vec<Entry>, stopping: bool) {
        let goes_on = self.write_answers(entries, stopping);
        self.resume(goes_on);
    }

    /// Writes each entry's answer; returns the connections that go on (the others are closed).
    fn write_answers(&self, entries: Vec<Entry>, stopping: bool) -> Vec<(Entry, Resumed)> {
        let app = &self.app;
        let mut goes_on = Vec::with_capacity(entries.len());
        let mut out = Vec::new();
        for entry in entries {
            app.metrics.listeners.fetch_sub(1, Ordering::Relaxed);
            out.clear();
            let close = entry.parked.encode_answer(app, stopping, &mut out);
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
            let resumed = Resumed {
                unwritten: out[written..].to_vec(),
                close,
            };
            goes_on.push((entry, resumed));
        }
        goes_on
    }

    /// Hands each connection back to a task of its own (it may park here again).
    fn resume(self: &Arc<Self>, goes_on: Vec<(Entry, Resumed)>) {
        let app = &self.app;
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        for (entry, resumed) in goes_on {
            let Entry {
                stream, admitted, ..
            } = entry;
            let stream = match TcpStream::from_std(stream) {
                Ok(s) => s,
                Err(error) => {
                    tracing::warn!(%error, "http: cannot resume a parked connection");
                    app.metrics.connection_closed(super::Scheme::Http);
                    continue;
                }
            };
            tasks.spawn((self.resume)(
                self.clone(),
                stream,
                Box::new(resumed),
                admitted,
            ));
        }
    }

    /// The connection ends here: it leaves the open-connections gauge (its cap place is freed
    /// with the entry).
    fn closed(&self, entry: Entry) {
        self.app.metrics.connection_closed(super::Scheme::Http);
        drop(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hall parking every 3 ms for 10 s, timed on a virtual clock: every hold lasts between
    /// `wait - batch` and `wait` (never past the contract's longest hold), and the timeouts go
    /// in one batch per `batch`, not one per park.
    #[test]
    fn timeouts_go_in_batches_and_no_hold_outlasts_the_wait() {
        let wait = Duration::from_secs(29);
        let mut batches = Batches::new(wait);
        assert_eq!(batches.batch, Duration::from_millis(500));
        let t0 = Instant::now();
        let mut waiting: VecDeque<Instant> = (0..3334)
            .map(|k| t0 + Duration::from_millis(3 * k))
            .collect();
        let (mut fired, mut answered) = (0, 0);
        while let Some(&front) = waiting.front() {
            let now = batches.next_at(front);
            batches.last = Some(now);
            fired += 1;
            while let Some(&since) = waiting.front() {
                if !batches.is_due(since, now) {
                    break;
                }
                let held = now - since;
                assert!(held <= wait, "held {held:?}");
                assert!(held >= wait - batches.batch, "held {held:?}");
                waiting.pop_front();
                answered += 1;
            }
        }
        assert_eq!(answered, 3334);
        // 10 s of parks in 0.5 s batches: 20, or 21 with the first one.
        assert!(fired <= 21, "{fired} batches");
    }

    #[test]
    fn a_short_wait_gets_a_short_batch() {
        assert_eq!(
            timeout_batch(Duration::from_millis(300)),
            Duration::from_micros(18_750)
        );
        assert_eq!(
            timeout_batch(Duration::from_secs(30)),
            Duration::from_millis(500)
        );
    }
}
