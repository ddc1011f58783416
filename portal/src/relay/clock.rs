//! Sans-IO estimate of the beacon clock from packet arrivals.
//!
//! Each accepted packet gives a sample `offset = clock_us − local_us` where `local_us` is our
//! monotonic clock at receipt. Network/queueing delay only ever makes a packet arrive *later*,
//! i.e. makes the offset *smaller*, so the best estimate over a short window is the sample with
//! the least delay: the **maximum** offset. Samples older than the window expire (so drift
//! between the two clocks is tracked), and a beacon restart (new `boot`) or a jump of more than
//! [`STEP_US`] resets the filter.

use std::collections::VecDeque;

/// How long a sample counts, µs.
pub const WINDOW_US: u64 = 4_000_000;
/// Offset change treated as a clock step (beacon restarted or re-anchored), µs.
pub const STEP_US: i64 = 1_000_000;
/// Most samples kept (bounds memory if packets arrive very fast).
pub const MAX_SAMPLES: usize = 256;

/// Max-offset-over-window clock filter.
#[derive(Clone, Debug, Default)]
pub struct ClockEstimator {
    boot: Option<u64>,
    samples: VecDeque<(u64, i64)>, // (local_us, offset)
}

impl ClockEstimator {
    /// An empty estimator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one accepted packet: beacon `boot` id, its `clock_us`, and our `local_us` at receipt.
    pub fn handle_sample(&mut self, boot: u64, clock_us: u64, local_us: u64) {
        let offset = i128::from(clock_us) - i128::from(local_us);
        let offset = i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX });
        if self.boot != Some(boot) {
            self.samples.clear();
            self.boot = Some(boot);
        }
        if let Some(best) = self.offset_at(local_us)
            && (offset.saturating_sub(best)).abs() > STEP_US
        {
            self.samples.clear();
        }
        self.expire(local_us);
        // Samples dominated by the new one (older and not larger) can never be the max again.
        while self.samples.back().is_some_and(|&(_, o)| o <= offset) {
            self.samples.pop_back();
        }
        self.samples.push_back((local_us, offset));
        if self.samples.len() > MAX_SAMPLES {
            self.samples.pop_front();
        }
    }

    fn expire(&mut self, local_us: u64) {
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| local_us.saturating_sub(t) > WINDOW_US)
            && self.samples.len() > 1
        {
            self.samples.pop_front();
        }
    }

    /// The current best offset (beacon − local), µs, or `None` before any sample.
    /// Samples older than the window are ignored as long as a newer one exists.
    pub fn offset_at(&self, local_us: u64) -> Option<i64> {
        // Deque is decreasing in offset from front to back (monotone queue): the first
        // non-expired sample is the maximum.
        self.samples
            .iter()
            .find(|&&(t, _)| local_us.saturating_sub(t) <= WINDOW_US)
            .or(self.samples.back())
            .map(|&(_, o)| o)
    }

    /// Beacon-timebase µs at our `local_us`, or `None` before any sample.
    pub fn beacon_now(&self, local_us: u64) -> Option<u64> {
        let o = self.offset_at(local_us)?;
        let t = i128::from(local_us) + i128::from(o);
        u64::try_from(t.max(0)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_minimum_delay_sample() {
        let mut c = ClockEstimator::new();
        // True offset 1_000_000_000; delays 300, 50, 900 µs.
        c.handle_sample(1, 1_000_000_000 + 10_000, 10_300);
        c.handle_sample(1, 1_000_000_000 + 20_000, 20_050);
        c.handle_sample(1, 1_000_000_000 + 30_000, 30_900);
        assert_eq!(c.offset_at(31_000), Some(1_000_000_000 - 50));
    }

    #[test]
    fn old_samples_expire() {
        let mut c = ClockEstimator::new();
        c.handle_sample(1, 1_000_100, 100); // offset 1_000_000
        c.handle_sample(1, 5_999_000, 5_000_000); // offset 999_000 (a later, slower path)
        assert_eq!(c.offset_at(5_000_001), Some(999_000));
    }

    #[test]
    fn new_boot_resets() {
        let mut c = ClockEstimator::new();
        c.handle_sample(1, 9_000_000, 100);
        c.handle_sample(2, 1_000_000, 200);
        assert_eq!(c.offset_at(200), Some(999_800));
    }

    /// Two relays hearing the same packets with different queueing jitter agree within 1 ms
    /// (the target), as long as each saw one fast packet in the window.
    #[test]
    fn two_relays_agree() {
        let truth: i64 = 1_700_000_000_000_000;
        let (mut a, mut b) = (ClockEstimator::new(), ClockEstimator::new());
        let mut x: u64 = 12345;
        for i in 0..40u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (da, db) = if i == 17 {
                (150, 400)
            } else {
                (500 + x % 4_000, 900 + (x >> 20) % 20_000)
            };
            let sent = 1_000_000 + i * 100_000;
            let clock = (sent as i64 + truth) as u64;
            a.handle_sample(9, clock, sent + da);
            // Relay B's monotonic clock has another origin.
            b.handle_sample(9, clock, sent + 777_777 + db);
        }
        let at = 1_000_000 + 40 * 100_000;
        let ta = a.beacon_now(at).unwrap();
        let tb = b.beacon_now(at + 777_777).unwrap();
        assert!(ta.abs_diff(tb) < 1_000, "{ta} vs {tb}");
    }

    proptest! {
        #[test]
        fn estimate_is_never_later_than_truth(delays in proptest::collection::vec(0u64..5_000, 1..50)) {
            let truth: i64 = 1_700_000_000_000_000;
            let mut c = ClockEstimator::new();
            let mut local = 1_000u64;
            for d in &delays {
                local += 100_000;
                let clock = (local as i64 + truth) as u64;
                c.handle_sample(7, clock, local + d);
            }
            let est = c.offset_at(local + 5_000).unwrap();
            let min_delay = *delays.iter().min().unwrap() as i64;
            prop_assert!(est <= truth);
            prop_assert!(est >= truth - 5_000);
            let _ = min_delay;
        }
    }
}
