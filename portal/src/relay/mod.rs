//! The relay: verified beacon packets in, `/t` (beacon-timebase clock) and `/s` (pre-rendered
//! state) out. [`RelayState`] owns the process's time base: its `local_us` origin, the beacon
//! clock estimate, and [`RelayState::now`] ("beacon time, else system time"), the one clock
//! read by `/t`, `/healthz` and the WebTransport time replies. Its `handle_*` inputs stay
//! sans-IO (callers pass `local_us`); [`listen`] is the multicast socket loop feeding it.

pub mod clock;
pub mod listen;
pub mod render;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crowdlight_proto::receiver::Rejection;
use crowdlight_proto::wire::{NO_SHOW, Packet};

pub use clock::ClockEstimator;
pub use render::{LiveInput, Rendered, SnapshotInput};

/// `/healthz` is healthy while the last valid packet is younger than this, µs.
pub const HEALTHY_WITHIN_US: u64 = 3_000_000;

/// Rejection reasons as metric labels (matches `crowdlight_proto::receiver::RejectCounters`).
pub const REJECT_REASONS: [&str; 5] = ["bad_tag", "replay", "stale", "garbled", "version"];

/// Relay counters for `/metrics`.
#[derive(Debug, Default)]
pub struct RelayCounters {
    /// Packets accepted.
    pub accepted: AtomicU64,
    /// Packets rejected, by [`REJECT_REASONS`] index.
    pub rejected: [AtomicU64; 5],
    /// State changes (re-renders of `/s`).
    pub state_changes: AtomicU64,
}

/// Result of feeding one accepted packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `/s` body changed.
    pub changed: bool,
    /// The announced show id (hex), if any.
    pub show_hex: Option<String>,
}

/// Which clock [`RelayState::now`] read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSource {
    /// The beacon clock, estimated from its packets.
    Beacon,
    /// The system clock (no beacon packet heard yet).
    System,
}

impl TimeSource {
    /// Value of the `X-Clock-Source` header.
    pub fn label(self) -> &'static str {
        match self {
            TimeSource::Beacon => "beacon",
            TimeSource::System => "system",
        }
    }
}

/// Shared relay state.
#[derive(Debug)]
pub struct RelayState {
    epoch: Instant, // origin of every `local_us`
    current: RwLock<Arc<Rendered>>,
    clock: Mutex<ClockEstimator>,
    last_valid_us: AtomicU64, // local µs + 1 of the last valid packet; 0 = never
    counters: RelayCounters,
    changes: tokio::sync::watch::Sender<u64>, // bumped on every `/s` change (WebTransport push)
}

impl Default for RelayState {
    fn default() -> Self {
        Self::new()
    }
}

/// Lowercase hex of a show id, `None` for [`NO_SHOW`].
pub fn show_hex(id: &[u8; 16]) -> Option<String> {
    (*id != NO_SHOW).then(|| id.iter().map(|b| format!("{b:02x}")).collect())
}

/// Metric label of a rejection.
pub fn rejection_label(r: &Rejection) -> &'static str {
    match r {
        Rejection::BadTag => "bad_tag",
        Rejection::Replay { .. } => "replay",
        Rejection::Stale { .. } => "stale",
        Rejection::Garbled(_) => "garbled",
        Rejection::Version(_) => "version",
    }
}

impl RelayState {
    /// Nothing heard yet: `/s` says stopped.
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            current: RwLock::new(Arc::new(render::render(&SnapshotInput::default()))),
            clock: Mutex::new(ClockEstimator::new()),
            last_valid_us: AtomicU64::new(0),
            counters: RelayCounters::default(),
            changes: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Our monotonic clock, µs since this state was created (the `local_us` of every input).
    pub fn local_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// The time phones sync to, µs: the beacon timebase once a packet was heard, else the
    /// system clock (Unix µs), and which of the two it is.
    pub fn now(&self) -> (u64, TimeSource) {
        match self.beacon_now(self.local_us()) {
            Some(t) => (t, TimeSource::Beacon),
            None => {
                let sys = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(0));
                (sys, TimeSource::System)
            }
        }
    }

    /// True if a valid packet arrived within [`HEALTHY_WITHIN_US`] (now).
    pub fn healthy_now(&self) -> bool {
        self.is_healthy(self.local_us())
    }

    /// Counters.
    pub fn counters(&self) -> &RelayCounters {
        &self.counters
    }

    /// The current `/s` answer (an `Arc` clone; no formatting).
    pub fn snapshot(&self) -> Arc<Rendered> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Feeds one packet accepted by the receiver, received at our `local_us`; `zones` are the
    /// announced show's zone names (from the catalog), which name the live layer's zones.
    pub fn handle_packet(
        &self,
        packet: &Packet,
        local_us: u64,
        zones: Option<&[String]>,
    ) -> Accepted {
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        self.last_valid_us
            .store(local_us.saturating_add(1), Ordering::Relaxed);
        if let Ok(mut c) = self.clock.lock() {
            c.handle_sample(packet.boot, packet.clock_us, local_us);
        }
        let input = SnapshotInput {
            state: packet.state.clone(),
            next: packet.next.clone(),
            show_hex: show_hex(&packet.show),
            live: match (&packet.live, zones) {
                (Some(layer), Some(zones)) => Some(render::LiveInput::from_layer(layer, zones)),
                _ => None,
            },
        };
        let show_hex = input.show_hex.clone();
        let changed = self.snapshot().input != input;
        if changed {
            let rendered = Arc::new(render::render(&input));
            tracing::info!(state = input.state.name(), cue = ?input.state, "relay: state change");
            match self.current.write() {
                Ok(mut g) => *g = rendered,
                Err(poisoned) => *poisoned.into_inner() = rendered,
            }
            self.counters.state_changes.fetch_add(1, Ordering::Relaxed);
            self.changes.send_modify(|n| *n = n.wrapping_add(1));
        }
        Accepted { changed, show_hex }
    }

    /// Notified after every `/s` change (then read [`RelayState::snapshot`]).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Counts one rejected datagram.
    pub fn count_rejection(&self, rejection: &Rejection) {
        let label = rejection_label(rejection);
        if let Some(i) = REJECT_REASONS.iter().position(|r| *r == label) {
            self.counters.rejected[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Beacon-timebase µs at our `local_us` (`None` before the first packet).
    pub fn beacon_now(&self, local_us: u64) -> Option<u64> {
        self.clock.lock().ok()?.beacon_now(local_us)
    }

    /// True if a valid packet arrived within [`HEALTHY_WITHIN_US`] before `local_us`.
    pub fn is_healthy(&self, local_us: u64) -> bool {
        match self.last_valid_us.load(Ordering::Relaxed) {
            0 => false,
            t => local_us.saturating_sub(t - 1) <= HEALTHY_WITHIN_US,
        }
    }
}
