//! The venue timebase: µs since the Unix epoch as seen by the beacon. The wall clock is read
//! once at start; from then on time advances with the monotonic clock, so a wall-clock step
//! never moves a scheduled cue. This is the only place the daemon reads time.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A monotonic clock anchored to the wall clock at start.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    anchor_us: u64,
    anchor: Instant,
}

impl Clock {
    /// Anchors the clock now.
    pub fn start() -> Clock {
        let anchor = Instant::now();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock {
            anchor_us: wall.as_micros() as u64,
            anchor,
        }
    }

    /// Now, µs in the beacon timebase.
    pub fn now_us(&self) -> u64 {
        self.anchor_us + self.anchor.elapsed().as_micros() as u64
    }

    /// The monotonic instant of a timebase time (the anchor for times before it).
    pub fn instant_at(&self, t_us: u64) -> Instant {
        self.anchor + Duration::from_micros(t_us.saturating_sub(self.anchor_us))
    }
}
