//! The page's clock sync (`page/src/sync.js`), ported operation by operation to Rust, sans-IO.
//!
//! A sample is `(t1, t, t4)`: the phone's local clock in ms (`performance.now()`) when the `/t`
//! request left, the server's stamp in beacon µs, and the local ms when the answer arrived.
//! Since neither one-way delay is negative, the true offset θ (server − local, ms) lies in
//! `[t − t4, t − t1]`. The estimator intersects those intervals (drift-corrected), which uses the
//! floor of each direction independently; drift and its uncertainty come from the slope between
//! the floors of an older and a newer part of the window, combined with a prior, and the
//! max-margin slope kept within it ([`fit_drift`]); the likely error of the level comes from
//! the spacing of the best bounds ([`best_bounds`]); samples from before a clock step are
//! forgotten. Same constants, same order of float operations as the JS, so
//! `sim/vectors/sync.json` (written by [`crate::vectors`]) holds answers both must give.
//! The request schedule (join burst, then samples when the predicted error needs them) is here
//! too.

use rand::Rng;

/// Samples kept (the oldest are dropped).
pub const MAX_SAMPLES: usize = 512;
/// Samples older than this (local ms) are dropped.
pub const WINDOW_MS: f64 = 30.0 * 60.0 * 1000.0;
/// The window spans this much local time when the drift estimate counts as converged.
pub const MIN_DRIFT_SPAN_MS: f64 = 10.0 * 60.0 * 1000.0;
/// The drift is fitted once the window spans this much local time (before: 0 ± the prior).
pub const MIN_FIT_SPAN_MS: f64 = 20.0 * 1000.0;
/// Largest drift searched for, ppm.
pub const MAX_DRIFT_PPM: f64 = 100.0;
/// Drift believed before any measurement: 0 ± this, ppm.
pub const DRIFT_PRIOR_PPM: f64 = 50.0;
/// The drift uncertainty never drops below this, ppm.
pub const MIN_DRIFT_UNC_PPM: f64 = 0.5;
/// Best bounds per direction whose spacing estimates the excess of the best one.
pub const SPACING_BOUNDS: usize = 4;
/// Least excess assumed for a best bound, ms (clock resolution, server stamp rounding).
pub const MIN_EXCESS_MS: f64 = 0.1;
/// A floor's likely excess, in units of its expected excess, when it dates a drift measurement.
pub const DRIFT_EXCESS_K: f64 = 1.0;
/// Parts of the window tried for the drift: the split point as a fraction of its span.
const DRIFT_SPLITS: [f64; 3] = [0.25, 0.5, 0.75];
/// Answers slower than this are ignored, ms.
pub const MAX_RTT_MS: f64 = 3000.0;
/// Disagreement tolerated before older samples are taken to be from before a clock step, ms.
const STEP_SLACK_MS: f64 = 2.0;
/// Same, growing with the age of the sample, ppm (at least; the drift uncertainty when larger).
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
/// The likely error (ms) the schedule keeps the clock within.
pub const BUDGET_MS: f64 = 2.0;
/// A burst may end once the level's likely error is under this, ms.
pub const BURST_GOAL_MS: f64 = 1.0;
/// Shortest delay before a re-sync burst that the drift calls for, ms.
pub const MIN_RESYNC_MS: f64 = 5000.0;

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
    /// Uncertainty of the drift, ± ppm.
    pub drift_unc_ppm: f64,
    /// Reference local time, ms.
    pub ref_local: f64,
    /// Error bound, ms.
    pub error_bound_ms: f64,
    /// Likely error of the level at `ref_local`, ms.
    pub level_err_ms: f64,
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
    /// Uncertainty of `drift_ppm`, ± ppm.
    pub drift_unc_ppm: f64,
    /// Span of the window, ms.
    pub drift_span_ms: f64,
    /// Reference point of the line: offset = base + drift · (local − ref).
    pub ref_local: f64,
    /// Offset at `ref_local`, ms (NaN until synced).
    pub base_offset: f64,
    /// Half-width of the intersected interval (half the gap when the intervals do not
    /// overlap), ms: a hard bound on the error of the level.
    pub error_bound_ms: f64,
    /// Likely error of the level at `ref_local`, ms, never above `error_bound_ms` (nor below
    /// [`MIN_EXCESS_MS`]).
    pub level_err_ms: f64,
}

impl Default for ClockSync {
    fn default() -> Self {
        ClockSync {
            samples: Vec::new(),
            drift_ppm: 0.0,
            drift_unc_ppm: DRIFT_PRIOR_PPM,
            drift_span_ms: 0.0,
            ref_local: 0.0,
            base_offset: f64::NAN,
            error_bound_ms: f64::INFINITY,
            level_err_ms: f64::INFINITY,
        }
    }
}

impl ClockSync {
    /// True once a sample was accepted.
    pub fn synced(&self) -> bool {
        self.base_offset.is_finite()
    }

    /// True once the window spans [`MIN_DRIFT_SPAN_MS`] (`converged`).
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
            drift_unc_ppm: self.drift_unc_ppm,
            ref_local: self.ref_local,
            error_bound_ms: self.error_bound_ms,
            level_err_ms: self.level_err_ms,
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

    /// Likely error (ms) of [`ClockSync::offset_at`] at `local_ms`: the level's plus the drift
    /// uncertainty over the time since the newest sample (`predictedErrorMs`).
    pub fn predicted_error_ms(&self, local_ms: f64) -> f64 {
        if !self.synced() {
            return f64::INFINITY;
        }
        self.level_err_ms + (self.drift_unc_ppm * 1e-6) * (local_ms - self.ref_local).abs()
    }

    fn estimate(&mut self) {
        self.drop_before_step();
        let Some(newest) = self.samples.last().copied() else {
            return;
        };
        self.ref_local = newest.mid;
        self.drift_span_ms = newest.mid - self.samples[0].mid;
        if self.drift_span_ms >= MIN_FIT_SPAN_MS {
            let (ppm, unc) = fit_drift(&self.samples, self.ref_local);
            self.drift_ppm = ppm;
            self.drift_unc_ppm = unc;
        } else {
            self.drift_ppm = 0.0;
            self.drift_unc_ppm = DRIFT_PRIOR_PPM;
        }
        let b = best_bounds(
            &self.samples,
            self.drift_ppm * 1e-6,
            self.drift_unc_ppm * 1e-6,
            self.ref_local,
            newest.offset,
        );
        self.base_offset = newest.offset + (b.lo + b.hi) / 2.0;
        self.error_bound_ms = (b.hi - b.lo).abs() / 2.0;
        self.level_err_ms = MIN_EXCESS_MS.max(self.error_bound_ms.min(b.likely_ms));
    }

    /// Forgets samples older than the newest one that disagrees with the newer ones.
    fn drop_before_step(&mut self) {
        let Some(last) = self.samples.last() else {
            return;
        };
        let reference = last.mid;
        let rate = self.drift_ppm * 1e-6;
        let slack_ppm = STEP_SLACK_PPM.max(self.drift_unc_ppm);
        let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
        for i in (0..self.samples.len()).rev() {
            let x = self.samples[i];
            let slack = STEP_SLACK_MS + slack_ppm * 1e-6 * (reference - x.mid);
            let corr = rate * (reference - x.mid);
            let xlo = x.t_ms - x.t4 + corr - slack;
            let xhi = x.t_ms - x.t1 + corr + slack;
            if lo.max(xlo) > hi.min(xhi) {
                self.samples.drain(..=i);
                self.drift_ppm = 0.0;
                self.drift_unc_ppm = DRIFT_PRIOR_PPM;
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

/// One bound kept by [`insert_best`]: its value (smaller is better) and a tag (an age or a
/// local time).
#[derive(Debug, Clone, Copy)]
struct Ranked {
    v: f64,
    tag: f64,
}

/// Keeps `xs` as the `k` smallest values in ascending order (ties: the earlier one first).
fn insert_best(xs: &mut Vec<Ranked>, item: Ranked, k: usize) {
    if xs.len() == k && item.v >= xs[k - 1].v {
        return;
    }
    let mut i = xs.len();
    while i > 0 && xs[i - 1].v > item.v {
        i -= 1;
    }
    xs.insert(i, item);
    if xs.len() > k {
        xs.pop();
    }
}

/// Mean spacing of ranked bounds, or `single` when there is only one.
fn spacing(xs: &[Ranked], single: f64) -> f64 {
    if xs.len() < 2 {
        single
    } else {
        (xs[xs.len() - 1].v - xs[0].v) / (xs.len() - 1) as f64
    }
}

/// What [`best_bounds`] finds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BestBounds {
    /// Best (highest) lower bound, ms relative to `o0`.
    pub lo: f64,
    /// Best (lowest) upper bound, ms relative to `o0`.
    pub hi: f64,
    /// Likely error of the middle, ms.
    pub likely_ms: f64,
}

/// The [`SPACING_BOUNDS`] best lower and upper bounds of the samples' intervals, moved to
/// `reference` with drift `rate`, relative to `o0` (`bestBounds`): their intersection and the
/// likely error of its middle (mean spacing of the best bounds per direction, averaged, plus
/// the drift uncertainty `unc` (ms/ms) times the mean age of the two that set it).
pub fn best_bounds(samples: &[Sample], rate: f64, unc: f64, reference: f64, o0: f64) -> BestBounds {
    let k = SPACING_BOUNDS;
    let mut los: Vec<Ranked> = Vec::with_capacity(k + 1);
    let mut his: Vec<Ranked> = Vec::with_capacity(k + 1);
    for x in samples {
        let age = (reference - x.mid).abs();
        let corr = rate * (reference - x.mid);
        let xlo = x.t_ms - x.t4 - o0 + corr;
        let xhi = x.t_ms - x.t1 - o0 + corr;
        insert_best(&mut los, Ranked { v: -xlo, tag: age }, k);
        insert_best(&mut his, Ranked { v: xhi, tag: age }, k);
    }
    if los.is_empty() {
        return BestBounds {
            lo: f64::NEG_INFINITY,
            hi: f64::INFINITY,
            likely_ms: f64::INFINITY,
        };
    }
    let lo = -los[0].v;
    let hi = his[0].v;
    let single = 0f64.max((hi - lo) / 2.0);
    let excess = (spacing(&los, single) + spacing(&his, single)) / 2.0;
    let age_term = unc * ((los[0].tag + his[0].tag) / 2.0);
    BestBounds {
        lo,
        hi,
        likely_ms: MIN_EXCESS_MS.max(excess + age_term),
    }
}

/// The floors of one part of the window (`partFloors`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartFloors {
    /// Best lower bound, ms relative to `o0`.
    pub lo: f64,
    /// Local time (mid) of its sample, ms.
    pub lo_mid: f64,
    /// Its expected excess over the path floor, ms.
    pub lo_excess: f64,
    /// Best upper bound, ms relative to `o0`.
    pub hi: f64,
    /// Local time (mid) of its sample, ms.
    pub hi_mid: f64,
    /// Its expected excess over the path floor, ms.
    pub hi_excess: f64,
}

/// The floors of the samples with `from` ≤ mid < `to`, bounds moved to `reference` with drift
/// `rate`, relative to `o0` (`partFloors`); `None` when the part is empty.
pub fn part_floors(
    samples: &[Sample],
    from: f64,
    to: f64,
    rate: f64,
    reference: f64,
    o0: f64,
) -> Option<PartFloors> {
    let k = SPACING_BOUNDS;
    let mut los: Vec<Ranked> = Vec::with_capacity(k + 1);
    let mut his: Vec<Ranked> = Vec::with_capacity(k + 1);
    for x in samples {
        if x.mid < from || x.mid >= to {
            continue;
        }
        let corr = rate * (reference - x.mid);
        insert_best(
            &mut los,
            Ranked {
                v: -(x.t_ms - x.t4 - o0 + corr),
                tag: x.mid,
            },
            k,
        );
        insert_best(
            &mut his,
            Ranked {
                v: x.t_ms - x.t1 - o0 + corr,
                tag: x.mid,
            },
            k,
        );
    }
    if los.is_empty() {
        return None;
    }
    let half = 0f64.max((his[0].v + los[0].v) / 2.0);
    Some(PartFloors {
        lo: -los[0].v,
        lo_mid: los[0].tag,
        lo_excess: MIN_EXCESS_MS.max(spacing(&los, half)),
        hi: his[0].v,
        hi_mid: his[0].tag,
        hi_excess: MIN_EXCESS_MS.max(spacing(&his, half)),
    })
}

/// Drift and its uncertainty, `(ppm, ± ppm)` (`fitDrift`): the slope between the floors of an
/// older and a newer part of the window per direction (split at a quarter, half or three
/// quarters of the span, whichever pins it best; two passes), uncertain by
/// [`DRIFT_EXCESS_K`] × the floors' expected excess over the time between them, the two
/// directions averaged (their disagreement counts too), combined with the prior
/// 0 ± [`DRIFT_PRIOR_PPM`] by inverse-variance weights; the drift returned is the max-margin
/// slope ([`max_margin_drift_ppm`]) kept within ± that uncertainty.
pub fn fit_drift(samples: &[Sample], reference: f64) -> (f64, f64) {
    let prior = (0.0, DRIFT_PRIOR_PPM);
    if samples.len() < 2 {
        return prior;
    }
    let o0 = samples[samples.len() - 1].offset;
    let first = samples[0].mid;
    let span = samples[samples.len() - 1].mid - first;
    if span.is_nan() || span <= 0.0 {
        return prior;
    }
    let mut best: Option<(f64, f64)> = None;
    for f in DRIFT_SPLITS {
        let mut rate = 0.0;
        let mut m = None;
        for _pass in 0..2 {
            let split = first + f * span;
            let (Some(a), Some(b)) = (
                part_floors(samples, f64::NEG_INFINITY, split, rate, reference, o0),
                part_floors(samples, split, f64::INFINITY, rate, reference, o0),
            ) else {
                break;
            };
            let dt_hi = b.hi_mid - a.hi_mid;
            let dt_lo = b.lo_mid - a.lo_mid;
            if dt_hi.is_nan() || dt_hi <= 0.0 || dt_lo.is_nan() || dt_lo <= 0.0 {
                break;
            }
            let up = rate + ((b.hi - a.hi) / dt_hi);
            let down = rate + ((b.lo - a.lo) / dt_lo);
            let u_up = (DRIFT_EXCESS_K * (a.hi_excess + b.hi_excess)) / dt_hi;
            let u_down = (DRIFT_EXCESS_K * (a.lo_excess + b.lo_excess)) / dt_lo;
            let est = (up + down) / 2.0;
            let unc = ((u_up + u_down) / 2.0).max((up - down).abs() / 2.0);
            m = Some((est * 1e6, unc * 1e6));
            rate = est;
        }
        if let Some(m) = m
            && best.is_none_or(|b| m.1 < b.1)
        {
            best = Some(m);
        }
    }
    let Some((ppm, unc)) = best else {
        return prior;
    };
    let w_data = 1.0 / (unc * unc);
    let w_prior = 1.0 / (DRIFT_PRIOR_PPM * DRIFT_PRIOR_PPM);
    let unc = MIN_DRIFT_UNC_PPM.max(1.0 / (w_data + w_prior).sqrt());
    let centre = (ppm * w_data) / (w_data + w_prior);
    // The max-margin slope uses every sample, but leans to 0 when few pin it: kept within the
    // floors' measurement.
    let mm = max_margin_drift_ppm(samples, reference);
    let ppm = (centre - unc).max((centre + unc).min(mm));
    (ppm.clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM), unc)
}

/// Width (ms) of the offset band a drift estimate may give up to stay closer to zero drift.
pub const DRIFT_TOLERANCE_MS: f64 = 0.5;

/// Drift in ppm: slope of the widest band between all bounds, preferring small slopes
/// (`maxMarginDriftPpm`).
pub fn max_margin_drift_ppm(samples: &[Sample], reference: f64) -> f64 {
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

/// Drift in ppm ([`fit_drift`] without its uncertainty) (`fitDriftPpm`).
pub fn fit_drift_ppm(samples: &[Sample], reference: f64) -> f64 {
    fit_drift(samples, reference).0
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
/// (t − t1) each agree within [`BURST_SETTLE_MS`] (`burstSettled`).
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

/// Delay until re-sync burst `n` after bursts that could not pin the level, ms: 5, 10, 20,
/// 40 s, then every 60 s, ±25 % (`resyncDelayMs`).
pub fn resync_delay_ms(n: u32, rng: &mut impl Rng) -> f64 {
    let exp = n.saturating_sub(1).min(4) as i32;
    let base = (5000.0 * 2f64.powi(exp)).min(60000.0);
    base * (0.75 + 0.5 * rng.random::<f64>())
}

/// Delay until the next single sample in the steady state, ms (`steadyDelayMs`).
pub fn steady_delay_ms(rng: &mut impl Rng) -> f64 {
    STEADY_INTERVAL_MS * (0.75 + 0.5 * rng.random::<f64>())
}

/// Delay until the likely error reaches `budget_ms` without sampling, from the newest sample,
/// between [`MIN_RESYNC_MS`] and [`STEADY_INTERVAL_MS`], ±25 % (`budgetDelayMs`).
pub fn budget_delay_ms(sync: &ClockSync, budget_ms: f64, rng: &mut impl Rng) -> f64 {
    let ms = (budget_ms - sync.level_err_ms) / 1e-9f64.max(sync.drift_unc_ppm * 1e-6);
    STEADY_INTERVAL_MS.min(MIN_RESYNC_MS.max(ms)) * (0.75 + 0.5 * rng.random::<f64>())
}

/// Largest budget a cue can ask for, ms: a quarter of a 60 Hz frame (and the venue test's p95
/// bound of 5 ms stays in reach).
pub const MAX_BUDGET_MS: f64 = 4.0;
/// A cue's budget is its fastest change (ms) divided by this, within
/// [`BUDGET_MS`]..[`MAX_BUDGET_MS`].
pub const BUDGET_DIVISOR: f64 = 100.0;

/// The budget of a show that says `sync = "relaxed"` (shows/FORMAT.md §1), ms: one 60 Hz frame.
/// On any path it holds a steady interval ahead, so after the join burst a phone only takes the
/// steady single samples (about one a minute, riding the long-poll connection).
pub const RELAXED_BUDGET_MS: f64 = 16.0;

/// The likely clock error (ms) the `/t` schedule keeps while cue `cue` of a compiled show (as
/// JSON) plays, is held or armed (`budgetFor`): [`RELAXED_BUDGET_MS`] for a relaxed show (the
/// designer traded clock accuracy for airtime), else what the cue needs ([`cue_budget_ms`]),
/// else, no cue known (a GO may come any moment), the tightest, [`BUDGET_MS`].
pub fn budget_for(show: &serde_json::Value, cue: Option<usize>) -> f64 {
    if show["sync"] == "relaxed" {
        return RELAXED_BUDGET_MS;
    }
    cue.map_or(BUDGET_MS, |c| cue_budget_ms(show, c))
}

/// The likely clock error (ms) cue `c` of a compiled show (shows/FORMAT.md §2, as JSON) can live
/// with (`cueBudgetMs`): its fastest change divided by [`BUDGET_DIVISOR`], between
/// [`BUDGET_MS`] and [`MAX_BUDGET_MS`]. The fastest change: a cut (0) where a segment starts on
/// another colour than the one before it ended (across the loop for a looping cue) or in a
/// square wave; the rise (w/2) of a triangle wave; the length of a fade. Segments that do not
/// change colour do not count. No such cue: the most.
pub fn cue_budget_ms(show: &serde_json::Value, c: usize) -> f64 {
    use serde_json::Value;
    let Some(segs) = show["cues"][c]["segs"].as_array().filter(|s| !s.is_empty()) else {
        return MAX_BUDGET_MS;
    };
    let looping = show["cues"][c]["end"] == "loop";
    let first = |g: &Value| {
        if g["k"] == "solid" {
            g["c"].clone()
        } else {
            g["a"].clone()
        }
    };
    let last = |g: &Value| match g["k"].as_str() {
        Some("solid") => g["c"].clone(),
        Some("fade") => g["b"].clone(),
        _ => g["a"].clone(),
    };
    let num = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mut fastest = f64::INFINITY;
    for (i, g) in segs.iter().enumerate() {
        let prev = if i > 0 {
            Some(&segs[i - 1])
        } else if looping && segs.len() > 1 {
            segs.last()
        } else {
            None
        };
        if prev.is_some_and(|p| last(p) != first(g)) {
            fastest = 0.0;
        }
        if g["k"] == "fade" && g["a"] != g["b"] {
            fastest = fastest.min(num(&g["d"]));
        }
        if g["k"] == "wave" && g["a"] != g["b"] {
            let rise = if g["shape"] == "square" {
                0.0
            } else {
                (num(&g["w"]) / 2.0).floor()
            };
            fastest = fastest.min(rise);
        }
    }
    MAX_BUDGET_MS.min(BUDGET_MS.max(fastest / BUDGET_DIVISOR))
}

/// The page's `/t` request schedule (`Schedule` in sync.js): a burst sends samples
/// [`burst_gap_ms`] apart until it has its most samples or, past its fewest, the level is
/// pinned; then one sample every [`steady_delay_ms`] while the error predicted a steady
/// interval ahead stays within the budget; else a burst when the prediction reaches the
/// budget ([`budget_delay_ms`]), or re-sync bursts backing off ([`resync_delay_ms`]) when a
/// burst could not pin the level.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    burst: u32,
    sent: u32,
    min: u32,
    max: u32,
    /// The likely error allowed, ms ([`BUDGET_MS`], or what the current cue needs).
    pub budget_ms: f64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            burst: 0,
            sent: 0,
            min: JOIN_BURST_MIN,
            max: JOIN_BURST,
            budget_ms: BUDGET_MS,
        }
    }
}

impl Schedule {
    /// A fresh schedule keeping the likely error within `budget_ms`.
    pub fn with_budget(budget_ms: f64) -> Self {
        Schedule {
            budget_ms,
            ..Schedule::default()
        }
    }

    /// Burst the next request belongs to (0 = join burst).
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Whether the next request is a steady-state single sample, not part of a burst.
    pub fn is_steady(&self) -> bool {
        self.max == 1
    }

    /// Starts a burst of at most `max` samples now (`handleWake`: the page came back).
    pub fn handle_wake(&mut self, max: u32) {
        self.burst += 1;
        self.sent = 0;
        self.min = burst_min(self.burst);
        self.max = self.min.max(max);
    }

    /// A request of the current burst was sent; `sync` holds the answers so far. Returns the
    /// delay until the next request, ms.
    pub fn handle_sent(&mut self, sync: &ClockSync, rng: &mut impl Rng) -> f64 {
        self.sent += 1;
        // The join burst ends only once settled (its own floors found). Every burst aims at
        // BURST_GOAL_MS whatever the budget: a looser budget samples less often, never worse.
        let pinned = self.sent >= self.min
            && sync.synced()
            && ((self.burst > 0 && sync.level_err_ms <= BURST_GOAL_MS)
                || burst_settled(&sync.samples, self.burst, self.min));
        if self.sent < self.max && !pinned {
            return burst_gap_ms(rng);
        }
        self.burst += 1;
        self.sent = 0;
        let budget = self.budget_ms;
        if sync.predicted_error_ms(sync.ref_local + STEADY_INTERVAL_MS) <= budget {
            self.min = 1;
            self.max = 1;
            return steady_delay_ms(rng);
        }
        self.min = burst_min(self.burst);
        self.max = resync_burst(self.burst);
        if sync.synced() && sync.level_err_ms <= budget {
            // Never more often than the re-sync bursts of a fixed schedule (5 s, 10 s, … 60 s).
            return budget_delay_ms(sync, budget, rng).max(resync_delay_ms(self.burst, rng));
        }
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
        // (Each interval is widened by the drift prior over its age: 50 ppm × 100 ms = 5 µs.)
        assert!(
            (c.offset_at(200.0) - 1000.0).abs() < 0.01,
            "{}",
            c.offset_at(200.0)
        );
        assert!((c.error_bound_ms - 1.0).abs() < 0.01);
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
    fn cue_budget_follows_the_fastest_change() {
        let show = serde_json::json!({"cues": [
            {"end": "end", "segs": [{"k": "fade", "d": 8000, "a": [0, 0, 0], "b": [9, 9, 9]}]},
            {"end": "end", "segs": [{"k": "wave", "d": 9000, "a": [0, 0, 0], "b": [9, 9, 9],
                "p": 1000, "w": 500, "shape": "tri"}]},
            {"end": "loop", "segs": [{"k": "solid", "d": 100, "c": [1, 1, 1]},
                {"k": "solid", "d": 100, "c": [2, 2, 2]}]},
            {"end": "end", "segs": [{"k": "solid", "d": 100, "c": [1, 1, 1]}]},
        ]});
        assert_eq!(cue_budget_ms(&show, 0), MAX_BUDGET_MS, "a slow fade");
        assert_eq!(cue_budget_ms(&show, 1), 2.5, "a pulse rising in 250 ms");
        assert_eq!(cue_budget_ms(&show, 2), BUDGET_MS, "cuts");
        assert_eq!(cue_budget_ms(&show, 3), MAX_BUDGET_MS, "nothing changes");
        assert_eq!(cue_budget_ms(&show, 9), MAX_BUDGET_MS, "no such cue");
    }

    #[test]
    fn schedule_samples_when_the_predicted_error_needs_it() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut s = Schedule::default();
        let mut sync = ClockSync::default();
        // No answers: the join burst runs to its maximum, then bursts back off from 5 s.
        let gaps: Vec<f64> = (0..32 + 12)
            .map(|_| s.handle_sent(&sync, &mut rng))
            .collect();
        assert!(gaps[..31].iter().all(|g| (30.0..70.0).contains(g)));
        assert!((3750.0..6250.0).contains(&gaps[31]), "{}", gaps[31]);
        assert!(gaps[32..43].iter().all(|g| (30.0..70.0).contains(g)));
        assert!((7500.0..12500.0).contains(&gaps[43]));
        assert_eq!(s.burst(), 2);
        // A pinned level and a well-known drift: one sample every ~40 s.
        sync.base_offset = 0.0;
        sync.level_err_ms = 0.3;
        sync.drift_unc_ppm = 2.0;
        // Burst 2 still sends its fewest (4), then it is pinned.
        for _ in 0..3 {
            assert!(s.handle_sent(&sync, &mut rng) < 70.0);
        }
        let d = s.handle_sent(&sync, &mut rng);
        assert!(s.is_steady());
        assert!((30000.0..=50000.0).contains(&d), "{d}");
        // The level is pinned but the drift is not: a burst when the prediction reaches the
        // budget, (2 − 0.5) ms / 50 ppm = 30 s ± 25 %, but never sooner than the fixed
        // schedule's burst 4 (40 s ± 25 %).
        sync.level_err_ms = 0.5;
        sync.drift_unc_ppm = 50.0;
        let d = s.handle_sent(&sync, &mut rng);
        assert!(!s.is_steady());
        assert!((30000.0..=50000.0).contains(&d), "{d}");
        // A looser budget (a slow cue) makes that the steady state.
        s.budget_ms = 8.0;
        for _ in 0..12 {
            s.handle_sent(&sync, &mut rng);
        }
        assert!(s.is_steady());
        // A level that bursts cannot pin: the fixed schedule's re-sync bursts (by now every
        // 60 s ± 25 %).
        s.budget_ms = BUDGET_MS;
        sync.level_err_ms = 40.0;
        let d = s.handle_sent(&sync, &mut rng);
        assert!(!s.is_steady());
        assert!((45000.0..=75000.0).contains(&d), "{d}");
        // Coming back after being away: a burst starts at once.
        s.handle_wake(12);
        assert!(!s.is_steady());
        let d = s.handle_sent(&sync, &mut rng);
        assert!((30.0..70.0).contains(&d), "{d}");
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
