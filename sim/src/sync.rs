//! The page's clock sync (`page/src/sync.js`), ported operation by operation to Rust, sans-IO.
//!
//! A sample is `(t1, t, t4)`: the phone's local clock in ms (`performance.now()`) when the `/t`
//! request left, the server's stamp in beacon µs, and the local ms when the answer arrived.
//! Since neither one-way delay is negative, the true offset θ (server − local, ms) lies in
//! `[t − t4, t − t1]`. The estimator intersects those intervals (drift-corrected), which uses the
//! floor of each direction independently; drift is the slope of the widest band fitting all
//! intervals (golden-section search), once the samples span [`MIN_DRIFT_SPAN_MS`]; samples from
//! before a clock step are forgotten. Same constants, same order of float operations as the JS,
//! so `sim/vectors/sync.json` (written by [`crate::vectors`]) holds answers both must give.
//! The request schedule (join burst, re-sync bursts) is here too.

use rand::Rng;

/// Samples kept (the oldest are dropped).
pub const MAX_SAMPLES: usize = 512;
/// Samples older than this (local ms) are dropped.
pub const WINDOW_MS: f64 = 30.0 * 60.0 * 1000.0;
/// The drift fit needs at least this span of local time between its first and last point.
pub const MIN_DRIFT_SPAN_MS: f64 = 10.0 * 60.0 * 1000.0;
/// Largest drift believed, ppm.
pub const MAX_DRIFT_PPM: f64 = 100.0;
/// Answers slower than this are ignored, ms.
pub const MAX_RTT_MS: f64 = 3000.0;
/// Width (ms) of the offset band a drift estimate may give up to stay closer to zero drift.
pub const DRIFT_TOLERANCE_MS: f64 = 0.5;
/// Disagreement tolerated before older samples are taken to be from before a clock step, ms.
const STEP_SLACK_MS: f64 = 2.0;
/// Same, growing with the age of the sample, ppm.
const STEP_SLACK_PPM: f64 = 20.0;
/// Most samples in the join burst.
pub const JOIN_BURST: u32 = 32;
/// Fewest samples in the join burst.
pub const JOIN_BURST_MIN: u32 = 8;
/// A burst may end once its two best bounds in each direction agree within this, ms, ...
pub const BURST_SETTLE_MS: f64 = 0.5;
/// ... and its own intervals intersect within ± this, ms.
pub const SETTLE_BOUND_MS: f64 = 2.0;
/// Steady state: one sample this often, ms, ±25 %.
pub const STEADY_INTERVAL_MS: f64 = 40000.0;
/// The steady state needs an error bound under this, ms.
pub const STEADY_BOUND_MS: f64 = 2.0;

/// One `/t` exchange (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Local ms at send.
    pub t1: f64,
    /// Local ms at receipt.
    pub t4: f64,
    /// Server stamp, ms.
    pub t_ms: f64,
    /// Round trip, ms.
    pub rtt: f64,
    /// Local midpoint, ms.
    pub mid: f64,
    /// Midpoint offset estimate, ms.
    pub offset: f64,
    /// Burst number it belongs to (0 = join burst).
    pub burst: u32,
}

/// Turns one `/t` exchange into a sample, or `None` when it is unusable (`makeSample`).
pub fn make_sample(t1: f64, t_us: f64, t4: f64, burst: u32) -> Option<Sample> {
    if !t1.is_finite() || !t4.is_finite() || !t_us.is_finite() {
        return None;
    }
    let rtt = t4 - t1;
    if !(0.0..=MAX_RTT_MS).contains(&rtt) {
        return None;
    }
    let t_ms = t_us / 1000.0;
    Some(Sample {
        t1,
        t4,
        t_ms,
        rtt,
        mid: (t1 + t4) / 2.0,
        offset: t_ms - (t1 + t4) / 2.0,
        burst,
    })
}

/// A snapshot of the estimate: what the page renders with.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Model {
    /// Offset at `ref_local`, ms.
    pub base_offset: f64,
    /// Drift, ppm.
    pub drift_ppm: f64,
    /// Reference local time, ms.
    pub ref_local: f64,
    /// Error bound, ms.
    pub error_bound_ms: f64,
    /// Lowest round trip in the window, ms.
    pub min_rtt_ms: f64,
}

impl Model {
    /// Server minus local, ms, at local `local_ms` (same formula as [`ClockSync::offset_at`]).
    pub fn offset_at(&self, local_ms: f64) -> f64 {
        self.base_offset + (self.drift_ppm * 1e-6) * (local_ms - self.ref_local)
    }

    /// Beacon µs at local `local_ms`.
    pub fn beacon_us(&self, local_ms: f64) -> f64 {
        (local_ms + self.offset_at(local_ms)) * 1000.0
    }
}

/// The clock-sync estimator (`ClockSync` in sync.js).
#[derive(Debug, Clone)]
pub struct ClockSync {
    /// Samples in the window, oldest first.
    pub samples: Vec<Sample>,
    /// Drift, ppm.
    pub drift_ppm: f64,
    /// Span of the window, ms.
    pub drift_span_ms: f64,
    /// Reference point of the line: offset = base + drift · (local − ref).
    pub ref_local: f64,
    /// Offset at `ref_local`, ms (NaN until synced).
    pub base_offset: f64,
    /// Half-width of the intersected interval, ms.
    pub error_bound_ms: f64,
}

impl Default for ClockSync {
    fn default() -> Self {
        ClockSync {
            samples: Vec::new(),
            drift_ppm: 0.0,
            drift_span_ms: 0.0,
            ref_local: 0.0,
            base_offset: f64::NAN,
            error_bound_ms: f64::INFINITY,
        }
    }
}

impl ClockSync {
    /// True once a sample was accepted.
    pub fn synced(&self) -> bool {
        self.base_offset.is_finite()
    }

    /// True once the drift estimate has converged: the window spans [`MIN_DRIFT_SPAN_MS`]
    /// (`converged`).
    pub fn converged(&self) -> bool {
        self.drift_span_ms >= MIN_DRIFT_SPAN_MS
    }

    /// Adds a sample and re-estimates; false for `None` (`handleSample`).
    pub fn handle_sample(&mut self, sample: Option<Sample>) -> bool {
        let Some(sample) = sample else {
            return false;
        };
        self.samples.push(sample);
        let newest = sample.t4;
        self.samples
            .retain(|s| newest - s.t4 <= WINDOW_MS && s.t4 <= newest + 1.0);
        if self.samples.len() > MAX_SAMPLES {
            let extra = self.samples.len() - MAX_SAMPLES;
            self.samples.drain(..extra);
        }
        self.estimate();
        true
    }

    /// The current estimate, once synced.
    pub fn model(&self) -> Option<Model> {
        self.synced().then(|| Model {
            base_offset: self.base_offset,
            drift_ppm: self.drift_ppm,
            ref_local: self.ref_local,
            error_bound_ms: self.error_bound_ms,
            min_rtt_ms: self
                .samples
                .iter()
                .map(|s| s.rtt)
                .fold(f64::INFINITY, f64::min),
        })
    }

    /// Server time minus local time, ms, at local `local_ms` (`offsetAt`).
    pub fn offset_at(&self, local_ms: f64) -> f64 {
        self.base_offset + (self.drift_ppm * 1e-6) * (local_ms - self.ref_local)
    }

    /// Beacon time in µs at local `local_ms` (`beaconUs`).
    pub fn beacon_us(&self, local_ms: f64) -> f64 {
        (local_ms + self.offset_at(local_ms)) * 1000.0
    }

    fn estimate(&mut self) {
        self.drop_before_step();
        let Some(newest) = self.samples.last().copied() else {
            return;
        };
        self.ref_local = newest.mid;
        self.drift_span_ms = newest.mid - self.samples[0].mid;
        if self.drift_span_ms >= MIN_DRIFT_SPAN_MS {
            self.drift_ppm = fit_drift_ppm(&self.samples, self.ref_local);
        }
        let (lo, hi) = intersect(
            &self.samples,
            self.drift_ppm * 1e-6,
            self.ref_local,
            newest.offset,
        );
        self.base_offset = newest.offset + (lo + hi) / 2.0;
        self.error_bound_ms = ((hi - lo) / 2.0).max(0.0);
    }

    /// Forgets samples older than the newest one that disagrees with the newer ones.
    fn drop_before_step(&mut self) {
        let Some(last) = self.samples.last() else {
            return;
        };
        let reference = last.mid;
        let rate = self.drift_ppm * 1e-6;
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        for i in (0..self.samples.len()).rev() {
            let x = self.samples[i];
            let slack = STEP_SLACK_MS + STEP_SLACK_PPM * 1e-6 * (reference - x.mid);
            let corr = rate * (reference - x.mid);
            let xlo = x.t_ms - x.t4 + corr - slack;
            let xhi = x.t_ms - x.t1 + corr + slack;
            if lo.max(xlo) > hi.min(xhi) {
                self.samples.drain(..=i);
                self.drift_ppm = 0.0;
                return;
            }
            lo = lo.max(xlo + slack);
            hi = hi.min(xhi - slack);
            if lo > hi {
                lo = (lo + hi) / 2.0;
                hi = lo;
            }
        }
    }
}

/// Intersection `(lo, hi)` of the samples' offset intervals moved to `reference` with drift
/// `rate` (ms/ms), relative to `o0` (`intersect`).
pub fn intersect(samples: &[Sample], rate: f64, reference: f64, o0: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
    for x in samples {
        let corr = rate * (reference - x.mid);
        lo = lo.max(x.t_ms - x.t4 - o0 + corr);
        hi = hi.min(x.t_ms - x.t1 - o0 + corr);
    }
    (lo, hi)
}

/// Drift in ppm: slope of the widest band between all bounds, preferring small slopes
/// (`fitDriftPpm`).
pub fn fit_drift_ppm(samples: &[Sample], reference: f64) -> f64 {
    if samples.len() < 2 {
        return 0.0;
    }
    let o0 = samples[samples.len() - 1].offset;
    let width = |ppm: f64| {
        let (lo, hi) = intersect(samples, ppm * 1e-6, reference, o0);
        hi - lo
    };
    let (mut a, mut b) = (-MAX_DRIFT_PPM, MAX_DRIFT_PPM);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let mut fc = width(c);
    let mut fd = width(d);
    let mut i = 0;
    while i < 80 && b - a > 1e-4 {
        if fc >= fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = width(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = width(d);
        }
        i += 1;
    }
    let best = (a + b) / 2.0;
    // The longer the window, the better the slope is pinned: the tolerance shrinks with it.
    let span = samples[samples.len() - 1].mid - samples[0].mid;
    let tolerance = DRIFT_TOLERANCE_MS * 1f64.min(MIN_DRIFT_SPAN_MS / span.max(1.0));
    let goal = width(best) - tolerance;
    if width(0.0) >= goal {
        return 0.0;
    }
    let (mut lo, mut hi) = (0.0, best);
    for _ in 0..50 {
        let mid = (lo + hi) / 2.0;
        if width(mid) >= goal {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Most samples in re-sync burst `n` (1 = the first after the join burst) (`resyncBurst`).
pub fn resync_burst(n: u32) -> u32 {
    if n <= 4 { 12 } else { 8 }
}

/// Fewest samples in burst `n` (0 = the join burst) (`burstMin`).
pub fn burst_min(n: u32) -> u32 {
    match n {
        0 => JOIN_BURST_MIN,
        1..=4 => 4,
        _ => 2,
    }
}

/// Whether burst `burst` has at least `min` samples, its intervals intersect within
/// ±[`SETTLE_BOUND_MS`], and its two best lower bounds (t − t4) and two best upper bounds
/// (t − t1) each agree within [`BURST_SETTLE_MS`] (`burstSettled`). The bound makes it a no-op
/// on jittery paths; the agreement says the floors are found.
pub fn burst_settled(samples: &[Sample], burst: u32, min: u32) -> bool {
    let mut n = 0;
    let (mut lo1, mut lo2) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut hi1, mut hi2) = (f64::INFINITY, f64::INFINITY);
    for x in samples.iter().filter(|x| x.burst == burst) {
        n += 1;
        let lo = x.t_ms - x.t4;
        let hi = x.t_ms - x.t1;
        if lo > lo1 {
            lo2 = lo1;
            lo1 = lo;
        } else if lo > lo2 {
            lo2 = lo;
        }
        if hi < hi1 {
            hi2 = hi1;
            hi1 = hi;
        } else if hi < hi2 {
            hi2 = hi;
        }
    }
    n >= min
        && hi1 - lo1 <= 2.0 * SETTLE_BOUND_MS
        && lo1 - lo2 <= BURST_SETTLE_MS
        && hi2 - hi1 <= BURST_SETTLE_MS
}

/// Delay between two requests of one burst, ms (`burstGapMs`).
pub fn burst_gap_ms(rng: &mut impl Rng) -> f64 {
    30.0 + 40.0 * rng.random::<f64>()
}

/// Delay until re-sync burst `n`, ms: 5, 10, 20, 40 s, then every 60 s, ±25 % (`resyncDelayMs`).
pub fn resync_delay_ms(n: u32, rng: &mut impl Rng) -> f64 {
    let exp = n.saturating_sub(1).min(4) as i32;
    let base = (5000.0 * 2f64.powi(exp)).min(60000.0);
    base * (0.75 + 0.5 * rng.random::<f64>())
}

/// Delay until the next single sample in the steady state, ms (`steadyDelayMs`).
pub fn steady_delay_ms(rng: &mut impl Rng) -> f64 {
    STEADY_INTERVAL_MS * (0.75 + 0.5 * rng.random::<f64>())
}

/// The page's `/t` request schedule (`Schedule` in sync.js): a burst sends samples
/// [`burst_gap_ms`] apart until it has its most samples or, past its fewest, has settled
/// ([`burst_settled`]); re-sync bursts after [`resync_delay_ms`]; once the drift estimate has
/// converged with an error bound under [`STEADY_BOUND_MS`], one sample every
/// [`steady_delay_ms`] (1.5 a minute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    burst: u32,
    sent: u32,
    min: u32,
    max: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            burst: 0,
            sent: 0,
            min: JOIN_BURST_MIN,
            max: JOIN_BURST,
        }
    }
}

impl Schedule {
    /// Burst the next request belongs to (0 = join burst).
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Whether the next request is a steady-state single sample (the schedule returned
    /// [`steady_delay_ms`] last), not part of a burst.
    pub fn is_steady(&self) -> bool {
        self.max == 1
    }

    /// A request of the current burst was sent; `sync` holds the answers so far. Returns the
    /// delay until the next request, ms.
    pub fn handle_sent(&mut self, sync: &ClockSync, rng: &mut impl Rng) -> f64 {
        self.sent += 1;
        if self.sent < self.max && !burst_settled(&sync.samples, self.burst, self.min) {
            return burst_gap_ms(rng);
        }
        self.burst += 1;
        self.sent = 0;
        if sync.converged() && sync.error_bound_ms < STEADY_BOUND_MS {
            self.min = 1;
            self.max = 1;
            return steady_delay_ms(rng);
        }
        self.min = burst_min(self.burst);
        self.max = resync_burst(self.burst);
        resync_delay_ms(self.burst, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn make_sample_rejects_garbage() {
        assert!(make_sample(f64::NAN, 0.0, 1.0, 0).is_none());
        assert!(make_sample(5.0, 0.0, 4.0, 0).is_none());
        assert!(make_sample(0.0, 0.0, 3000.5, 0).is_none());
        let s = make_sample(10.0, 1_000_000.0, 30.0, 2).unwrap();
        assert_eq!((s.rtt, s.mid, s.offset, s.burst), (20.0, 20.0, 980.0, 2));
    }

    #[test]
    fn one_sample_is_its_midpoint() {
        let mut c = ClockSync::default();
        assert!(!c.synced());
        assert!(!c.handle_sample(None));
        assert!(c.handle_sample(make_sample(100.0, 5_000_150_000.0, 300.0, 0)));
        assert!(c.synced());
        assert_eq!(c.offset_at(200.0), 5_000_150.0 - 200.0);
        assert_eq!(c.error_bound_ms, 100.0);
    }

    #[test]
    fn per_direction_floors_beat_the_min_rtt_sample() {
        // True offset 1000 ms. Sample A: fast up (1 ms), slow down (50); B: the reverse.
        let mut c = ClockSync::default();
        c.handle_sample(make_sample(0.0, (1000.0 + 1.0) * 1000.0, 51.0, 0));
        c.handle_sample(make_sample(100.0, (1000.0 + 150.0) * 1000.0, 151.0, 0));
        // Intersection [1000 - 1, 1000 + 1] around the truth, though each midpoint is ±24.5 ms off.
        assert!(
            (c.offset_at(200.0) - 1000.0).abs() < 1e-9,
            "{}",
            c.offset_at(200.0)
        );
        assert!((c.error_bound_ms - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_clock_step_forgets_older_samples() {
        let mut c = ClockSync::default();
        for i in 0..10 {
            let t1 = i as f64 * 100.0;
            c.handle_sample(make_sample(t1, (t1 + 5.0 + 500.0) * 1000.0, t1 + 10.0, 0));
        }
        // The server timebase jumps by +1 s.
        c.handle_sample(make_sample(2000.0, (2005.0 + 1500.0) * 1000.0, 2010.0, 1));
        assert_eq!(c.samples.len(), 1);
        assert!((c.offset_at(2005.0) - 1500.0).abs() < 1e-9);
    }

    #[test]
    fn resync_schedule_matches_the_page() {
        struct Fixed(f64);
        impl rand::RngCore for Fixed {
            fn next_u32(&mut self) -> u32 {
                (self.0 * 4294967296.0) as u32
            }
            fn next_u64(&mut self) -> u64 {
                ((self.0 * 4294967296.0) as u64) << 32
            }
            fn fill_bytes(&mut self, _: &mut [u8]) {}
        }
        let mut mid = Fixed(0.5);
        let delays: Vec<f64> = (1..=7).map(|n| resync_delay_ms(n, &mut mid)).collect();
        assert_eq!(
            delays,
            [5000.0, 10000.0, 20000.0, 40000.0, 60000.0, 60000.0, 60000.0]
        );
        assert_eq!(
            (resync_burst(1), resync_burst(4), resync_burst(5)),
            (12, 12, 8)
        );
        assert_eq!(burst_gap_ms(&mut mid), 50.0);
    }

    #[test]
    fn schedule_is_join_burst_then_resync_bursts_then_singles() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut s = Schedule::default();
        let mut sync = ClockSync::default();
        // No answers: every burst runs to its maximum.
        let gaps: Vec<f64> = (0..32 + 12)
            .map(|_| s.handle_sent(&sync, &mut rng))
            .collect();
        assert!(gaps[..31].iter().all(|g| (30.0..70.0).contains(g)));
        assert!((3750.0..6250.0).contains(&gaps[31]), "{}", gaps[31]);
        assert!(gaps[32..43].iter().all(|g| (30.0..70.0).contains(g)));
        assert!((7500.0..12500.0).contains(&gaps[43]));
        assert_eq!(s.burst(), 2);
        // Converged with a tight bound: after this burst, one sample every ~40 s.
        sync.drift_span_ms = MIN_DRIFT_SPAN_MS;
        sync.error_bound_ms = 0.3;
        for _ in 0..12 {
            s.handle_sent(&sync, &mut rng);
        }
        let d = s.handle_sent(&sync, &mut rng);
        assert!((30000.0..=50000.0).contains(&d), "{d}");
        assert_eq!(s.burst(), 4);
        // A wide bound (a jittery path): bursts again.
        sync.error_bound_ms = 40.0;
        let d = s.handle_sent(&sync, &mut rng);
        assert!((45000.0..=75000.0).contains(&d), "{d}");
    }

    #[test]
    fn a_burst_settles_when_both_floors_are_found() {
        let at = |t1: f64, up: f64, down: f64, burst| {
            make_sample(t1, (1e6 + t1 + up) * 1000.0, t1 + up + down, burst).unwrap()
        };
        let xs = [
            at(0.0, 1.0, 1.0, 3),
            at(50.0, 1.3, 5.0, 3),
            at(100.0, 6.0, 1.2, 3),
            at(150.0, 9.0, 9.0, 4),
        ];
        assert!(burst_settled(&xs, 3, 3));
        assert!(!burst_settled(&xs, 3, 4));
        assert!(!burst_settled(&xs[..2], 3, 2));
        assert!(!burst_settled(&xs, 4, 1));
        // A quiet path: the join burst ends after its minimum.
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let (mut s, mut sync) = (Schedule::default(), ClockSync::default());
        let mut t = 0.0;
        let mut n = 0;
        while s.burst() == 0 {
            sync.handle_sample(Some(at(t, 0.1, 0.1, 0)));
            n += 1;
            t += s.handle_sent(&sync, &mut rng);
        }
        assert_eq!(n, JOIN_BURST_MIN);
    }

    proptest! {
        #[test]
        fn truth_stays_inside_the_bound_without_drift(
            offset in -1e12f64..1e12,
            legs in proptest::collection::vec((0.0f64..1000.0, 0.0f64..1000.0), 1..60),
        ) {
            let mut c = ClockSync::default();
            for (i, (up, down)) in legs.iter().enumerate() {
                let t1 = 1000.0 + i as f64 * 200.0;
                let t_us = ((t1 + up + offset) * 1000.0).round();
                c.handle_sample(make_sample(t1, t_us, t1 + up + down, 0));
            }
            let local = 1000.0 + legs.len() as f64 * 200.0;
            let err = (c.offset_at(local) - offset).abs();
            // µs rounding of the server stamp adds at most 0.5 µs.
            prop_assert!(err <= c.error_bound_ms + 0.01, "{} > {}", err, c.error_bound_ms);
        }

        #[test]
        fn never_panics_on_arbitrary_samples(
            raw in proptest::collection::vec((any::<f64>(), any::<f64>(), any::<f64>()), 0..50),
        ) {
            let mut c = ClockSync::default();
            for (t1, t, t4) in raw {
                c.handle_sample(make_sample(t1, t, t4, 0));
            }
            let _ = c.offset_at(0.0);
        }
    }
}
