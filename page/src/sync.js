// Clock sync to the relay's beacon timebase (NTP on-wire / Cristian), pure and sans-IO.
//
// A sample is {t1, t, t4}: t1 and t4 are the local monotonic clock (performance.now(), ms) when
// the /t request left and when its answer arrived; t is the server's stamp (beacon µs).
// Each sample bounds the true offset θ (server − local, ms): since neither one-way delay is
// negative, θ ∈ [t − t4, t − t1]. Its midpoint is the classic t − (t1 + t4)/2, its half-width rtt/2.
//
// Estimate:
//  1. older samples that disagree with the newer ones (a clock step, a relay restart) are dropped;
//  2. drift (local clock rate error) with its own uncertainty, from the window's first 20 s on:
//     the slope between the floors of an older and a newer part of the window measures it and
//     its uncertainty (combined with the prior 0 ± DRIFT_PRIOR_PPM); the slope of the widest
//     band fitting between all bounds (max-margin line), kept within that measurement, is used;
//  3. level: the middle of the drift-corrected intersection of all the window's intervals. Using
//     the floor of each direction independently beats keeping the single min-RTT sample under
//     asymmetric jitter;
//  4. error: the hard bound (half the intersection) is honest but on a jittery path it never
//     drops below half the path's floors. The likely error (`levelErrMs`) comes from how well the
//     best bounds are pinned: the spacing of the best few bounds in each direction (the expected
//     excess of the best one over the path floor, order statistics) plus the drift uncertainty
//     times the age of the two samples that define the level; the prediction at a later time
//     adds drift uncertainty × time (a page that was away for minutes knows less).
// A constant asymmetry of the two path floors is invisible to any two-way method (half of it
// ends up in the offset): on a LAN it is tiny.

/** Samples kept (the oldest are dropped). */
export const MAX_SAMPLES = 512;
/** Samples older than this (local ms) are dropped. */
export const WINDOW_MS = 30 * 60 * 1000;
/** The window spans this much local time when the drift estimate counts as converged. */
export const MIN_DRIFT_SPAN_MS = 10 * 60 * 1000;
/** The drift is fitted once the window spans this much local time (before: 0 ± the prior). */
export const MIN_FIT_SPAN_MS = 20 * 1000;
/** Largest drift searched for (parts per million). */
export const MAX_DRIFT_PPM = 100;
/** Drift believed before any measurement: 0 ± this (phone oscillators are within tens of ppm). */
export const DRIFT_PRIOR_PPM = 50;
/** The drift uncertainty never drops below this, ppm. */
export const MIN_DRIFT_UNC_PPM = 0.5;
/** Best bounds per direction whose spacing estimates the excess of the best one. */
export const SPACING_BOUNDS = 4;
/** Least excess assumed for a best bound, ms (clock resolution, server stamp rounding). */
export const MIN_EXCESS_MS = 0.1;
/** Answers slower than this are ignored (they say almost nothing and may be stale). */
export const MAX_RTT_MS = 3000;

/**
 * Turns one /t exchange into a sample, or null when it is unusable.
 * @param {number} t1 local ms at send
 * @param {number} tUs server stamp, beacon µs
 * @param {number} t4 local ms at receipt
 * @param {number} [burst] which burst it belongs to
 */
export function makeSample(t1, tUs, t4, burst = 0) {
  if (!Number.isFinite(t1) || !Number.isFinite(t4) || !Number.isFinite(tUs)) return null;
  const rtt = t4 - t1;
  if (rtt < 0 || rtt > MAX_RTT_MS) return null;
  const tMs = tUs / 1000;
  return { t1, t4, tMs, rtt, mid: (t1 + t4) / 2, offset: tMs - (t1 + t4) / 2, burst };
}

/** The clock-sync estimator. Feed samples with `handleSample`, read with `offsetAt`. */
export class ClockSync {
  constructor() {
    /** @type {ReturnType<typeof makeSample>[]} */
    this.samples = [];
    this.driftPpm = 0;
    /** Uncertainty of `driftPpm` (± ppm). */
    this.driftUncPpm = DRIFT_PRIOR_PPM;
    this.driftSpanMs = 0;
    /** Reference point of the fitted line: offset = base + drift * (local − ref). */
    this.refLocal = 0;
    this.baseOffset = NaN;
    /** Half-width of the intersected interval (or half the gap when the intervals do not
     *  overlap), ms: a hard bound on the error of the level. */
    this.errorBoundMs = Infinity;
    /** Likely error of the level at `refLocal` (ms), never above `errorBoundMs`. */
    this.levelErrMs = Infinity;
  }

  /** True once at least one sample was accepted. */
  get synced() {
    return Number.isFinite(this.baseOffset);
  }

  /** True once the window spans MIN_DRIFT_SPAN_MS. A step drops old samples and clears it. */
  get converged() {
    return this.driftSpanMs >= MIN_DRIFT_SPAN_MS;
  }

  /** Adds a sample (from `makeSample`) and re-estimates. Returns whether it was accepted. */
  handleSample(sample) {
    if (!sample) return false;
    this.samples.push(sample);
    const newest = sample.t4;
    this.samples = this.samples
      .filter((s) => newest - s.t4 <= WINDOW_MS && s.t4 <= newest + 1)
      .slice(-MAX_SAMPLES);
    this.estimate();
    return true;
  }

  /** Server (beacon) time minus local time, in ms, at local time `localMs`. */
  offsetAt(localMs) {
    return this.baseOffset + (this.driftPpm * 1e-6) * (localMs - this.refLocal);
  }

  /** Beacon time in µs at local time `localMs` (performance.now()). */
  beaconUs(localMs) {
    return (localMs + this.offsetAt(localMs)) * 1000;
  }

  /** Likely error (ms) of `offsetAt(localMs)`: the level's, plus the drift uncertainty over the
   *  time since the newest sample (a page that was away for minutes knows less). */
  predictedErrorMs(localMs) {
    if (!this.synced) return Infinity;
    return this.levelErrMs + (this.driftUncPpm * 1e-6) * Math.abs(localMs - this.refLocal);
  }

  /** Recomputes drift and level from the kept samples. */
  estimate() {
    this.dropBeforeStep();
    const s = this.samples;
    if (s.length === 0) return;
    const newest = s[s.length - 1];
    this.refLocal = newest.mid;
    this.driftSpanMs = newest.mid - s[0].mid;
    if (this.driftSpanMs >= MIN_FIT_SPAN_MS) {
      const fit = fitDrift(s, this.refLocal);
      this.driftPpm = fit.ppm;
      this.driftUncPpm = fit.uncPpm;
    } else {
      this.driftPpm = 0;
      this.driftUncPpm = DRIFT_PRIOR_PPM;
    }
    const b = bestBounds(s, this.driftPpm * 1e-6, this.driftUncPpm * 1e-6, this.refLocal, newest.offset);
    this.baseOffset = newest.offset + (b.lo + b.hi) / 2;
    // Intervals that do not overlap (clock resolution, a step within the slack) still bound
    // the error by half their gap.
    this.errorBoundMs = Math.abs(b.hi - b.lo) / 2;
    this.levelErrMs = Math.max(MIN_EXCESS_MS, Math.min(this.errorBoundMs, b.likelyMs));
  }

  /**
   * Forgets samples older than the newest one that disagrees with the newer ones (their
   * intervals do not overlap even allowing for drift): the server timebase or the local clock
   * stepped (relay restart, device sleep).
   */
  dropBeforeStep() {
    const s = this.samples;
    const ref = s[s.length - 1].mid;
    const rate = this.driftPpm * 1e-6;
    const slackPpm = Math.max(STEP_SLACK_PPM, this.driftUncPpm);
    let lo = -Infinity;
    let hi = Infinity;
    for (let i = s.length - 1; i >= 0; i--) {
      const x = s[i];
      const slack = STEP_SLACK_MS + slackPpm * 1e-6 * (ref - x.mid);
      const corr = rate * (ref - x.mid);
      const xlo = x.tMs - x.t4 + corr - slack;
      const xhi = x.tMs - x.t1 + corr + slack;
      if (Math.max(lo, xlo) > Math.min(hi, xhi)) {
        this.samples = s.slice(i + 1);
        this.driftPpm = 0;
        this.driftUncPpm = DRIFT_PRIOR_PPM;
        return;
      }
      lo = Math.max(lo, xlo + slack);
      hi = Math.min(hi, xhi - slack);
      if (lo > hi) { lo = (lo + hi) / 2; hi = lo; }
    }
  }
}

/** Disagreement tolerated before older samples are taken to be from before a clock step. */
const STEP_SLACK_MS = 2;
const STEP_SLACK_PPM = 20;

/**
 * Intersection of the samples' offset intervals, each moved to local time `ref` with the drift
 * `rate` (ms/ms), relative to `o0`. Returns {lo, hi}; when they do not overlap (hi < lo) the
 * middle of the overlap deficit is still the best guess.
 */
export function intersect(samples, rate, ref, o0) {
  let lo = -Infinity;
  let hi = Infinity;
  for (const x of samples) {
    const corr = rate * (ref - x.mid);
    lo = Math.max(lo, x.tMs - x.t4 - o0 + corr);
    hi = Math.min(hi, x.tMs - x.t1 - o0 + corr);
  }
  return { lo, hi };
}

/**
 * The SPACING_BOUNDS best lower and upper bounds of the samples' intervals, moved to `ref` with
 * drift `rate`, relative to `o0`. Returns the intersection {lo, hi} and `likelyMs`: the mean
 * spacing of the best bounds in each direction (the expected excess of the best one over its
 * path floor, from order statistics; half the interval when a direction has a single bound),
 * averaged over both directions, plus the drift uncertainty `unc` (ms/ms) times the mean age of
 * the two samples that set lo and hi, at least MIN_EXCESS_MS.
 */
export function bestBounds(samples, rate, unc, ref, o0) {
  const k = SPACING_BOUNDS;
  const los = [];
  const his = [];
  for (const x of samples) {
    const age = Math.abs(ref - x.mid);
    const corr = rate * (ref - x.mid);
    const xlo = x.tMs - x.t4 - o0 + corr;
    const xhi = x.tMs - x.t1 - o0 + corr;
    insertBest(los, { v: -xlo, age }, k);
    insertBest(his, { v: xhi, age }, k);
  }
  const lo = -los[0].v;
  const hi = his[0].v;
  const spacing = (xs) => (xs.length < 2 ? Math.max(0, (hi - lo) / 2) : (xs[xs.length - 1].v - xs[0].v) / (xs.length - 1));
  const excess = (spacing(los) + spacing(his)) / 2;
  const ageTerm = unc * ((los[0].age + his[0].age) / 2);
  return { lo, hi, likelyMs: Math.max(MIN_EXCESS_MS, excess + ageTerm) };
}

/** Keeps `xs` as the `k` smallest `{v}` in ascending order (ties: the earlier one first). */
function insertBest(xs, item, k) {
  if (xs.length === k && item.v >= xs[k - 1].v) return;
  let i = xs.length;
  while (i > 0 && xs[i - 1].v > item.v) i--;
  xs.splice(i, 0, item);
  if (xs.length > k) xs.pop();
}

/**
 * The floors of one part of the window (samples with `from` ≤ mid < `to`), their bounds moved to
 * `ref` with drift `rate`, relative to `o0`: per direction the best bound, the local time of its
 * sample and the expected excess of that bound over the path floor (mean spacing of the part's
 * SPACING_BOUNDS best bounds; half the best interval when the part has one sample). Null when
 * the part is empty.
 */
export function partFloors(samples, from, to, rate, ref, o0) {
  const k = SPACING_BOUNDS;
  const los = [];
  const his = [];
  for (const x of samples) {
    if (x.mid < from || x.mid >= to) continue;
    const corr = rate * (ref - x.mid);
    insertBest(los, { v: -(x.tMs - x.t4 - o0 + corr), age: x.mid }, k);
    insertBest(his, { v: x.tMs - x.t1 - o0 + corr, age: x.mid }, k);
  }
  if (los.length === 0) return null;
  const spacing = (xs, half) => (xs.length < 2 ? half : (xs[xs.length - 1].v - xs[0].v) / (xs.length - 1));
  const half = Math.max(0, (his[0].v + los[0].v) / 2);
  return {
    lo: -los[0].v, loMid: los[0].age, loExcess: Math.max(MIN_EXCESS_MS, spacing(los, half)),
    hi: his[0].v, hiMid: his[0].age, hiExcess: Math.max(MIN_EXCESS_MS, spacing(his, half)),
  };
}

/** Parts of the window tried for the drift: the split point as a fraction of its span. */
const DRIFT_SPLITS = [0.25, 0.5, 0.75];

/**
 * Drift in ppm with its uncertainty, {ppm, uncPpm}. The window is split in an older and a
 * newer part (at a quarter, half or three quarters of its span: whichever pins the drift best);
 * in each direction the slope between the two parts' floors (their best bounds: a min-RTT
 * filter per direction and part) is a drift measurement, uncertain by the excess of the two
 * floors (DRIFT_EXCESS_K × their expected excess) over the time between them; the two
 * directions are averaged, their disagreement counts as uncertainty too. Done twice: the
 * second pass corrects the bounds with the first estimate. The measurement is then combined
 * with the prior 0 ± DRIFT_PRIOR_PPM (inverse-variance weights), so that a short or sparse
 * window says little and the uncertainty shrinks as the window grows. The drift returned is
 * the max-margin slope (`maxMarginDriftPpm`, which uses every sample) kept within ± the
 * uncertainty of that measurement.
 */
export function fitDrift(samples, ref) {
  const prior = { ppm: 0, uncPpm: DRIFT_PRIOR_PPM };
  if (samples.length < 2) return prior;
  const o0 = samples[samples.length - 1].offset;
  const first = samples[0].mid;
  const span = samples[samples.length - 1].mid - first;
  if (!(span > 0)) return prior;
  let best = null;
  for (const f of DRIFT_SPLITS) {
    let rate = 0;
    let m = null;
    for (let pass = 0; pass < 2; pass++) {
      const split = first + f * span;
      const a = partFloors(samples, -Infinity, split, rate, ref, o0);
      const b = partFloors(samples, split, Infinity, rate, ref, o0);
      if (!a || !b) break;
      const dtHi = b.hiMid - a.hiMid;
      const dtLo = b.loMid - a.loMid;
      if (!(dtHi > 0) || !(dtLo > 0)) break;
      // Bounds were moved to `ref` with `rate`: what is left is the rest of the drift.
      const up = rate + ((b.hi - a.hi) / dtHi);
      const down = rate + ((b.lo - a.lo) / dtLo);
      const uUp = (DRIFT_EXCESS_K * (a.hiExcess + b.hiExcess)) / dtHi;
      const uDown = (DRIFT_EXCESS_K * (a.loExcess + b.loExcess)) / dtLo;
      const est = (up + down) / 2;
      const unc = Math.max((uUp + uDown) / 2, Math.abs(up - down) / 2);
      m = { ppm: est * 1e6, uncPpm: unc * 1e6 };
      rate = est;
    }
    if (m && (!best || m.uncPpm < best.uncPpm)) best = m;
  }
  if (!best) return prior;
  // The uncertainty: the measurement's, combined with the prior (inverse-variance weights).
  const wData = 1 / (best.uncPpm * best.uncPpm);
  const wPrior = 1 / (DRIFT_PRIOR_PPM * DRIFT_PRIOR_PPM);
  const uncPpm = Math.max(MIN_DRIFT_UNC_PPM, 1 / Math.sqrt(wData + wPrior));
  const centre = (best.ppm * wData) / (wData + wPrior);
  // The max-margin slope uses every sample, but leans to 0 when few pin it: kept within the
  // floors' measurement.
  const mm = maxMarginDriftPpm(samples, ref);
  const ppm = Math.max(centre - uncPpm, Math.min(centre + uncPpm, mm));
  return { ppm: Math.max(-MAX_DRIFT_PPM, Math.min(MAX_DRIFT_PPM, ppm)), uncPpm };
}

/**
 * Drift in ppm: the slope of the widest band that fits between every sample's lower and upper
 * offset bound (the max-margin line of the linear programme lo_i ≤ a + b·x_i ≤ hi_i); the width
 * is a concave function of the slope, so a golden-section search finds the best one. The slope
 * is pinned by the least-delayed samples in each direction at both ends of the window. When few
 * samples pin it, a wide range of slopes fits almost as well: then the smallest slope that loses
 * at most DRIFT_TOLERANCE_MS of width (less over longer windows) is taken, so that noise is not
 * mistaken for drift.
 */
export function maxMarginDriftPpm(samples, ref) {
  if (samples.length < 2) return 0;
  const o0 = samples[samples.length - 1].offset;
  const width = (ppm) => {
    const { lo, hi } = intersect(samples, ppm * 1e-6, ref, o0);
    return hi - lo;
  };
  let a = -MAX_DRIFT_PPM;
  let b = MAX_DRIFT_PPM;
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = width(c);
  let fd = width(d);
  for (let i = 0; i < 80 && b - a > 1e-4; i++) {
    if (fc >= fd) { b = d; d = c; fd = fc; c = b - g * (b - a); fc = width(c); }
    else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = width(d); }
  }
  const best = (a + b) / 2;
  // The longer the window, the better the slope is pinned: the tolerance shrinks with it.
  const span = samples[samples.length - 1].mid - samples[0].mid;
  const tolerance = DRIFT_TOLERANCE_MS * Math.min(1, MIN_DRIFT_SPAN_MS / Math.max(span, 1));
  const goal = width(best) - tolerance;
  if (width(0) >= goal) return 0;
  // width rises monotonically from 0 to `best`: find where it reaches `goal`.
  let lo = 0;
  let hi = best;
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    if (width(mid) >= goal) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Width (ms) of the offset band a drift estimate may give up to stay closer to zero drift. */
export const DRIFT_TOLERANCE_MS = 0.5;

/** A floor's likely excess, in units of its expected excess, when it dates a drift measurement. */
export const DRIFT_EXCESS_K = 1;

/** Drift in ppm (`fitDrift` without its uncertainty). */
export function fitDriftPpm(samples, ref) {
  return fitDrift(samples, ref).ppm;
}

// ---- the request schedule ------------------------------------------------------------------
// Samples are taken when the error needs them, not on a fixed clock. The page renders with the
// error it has; the schedule keeps the likely error (`predictedErrorMs`) under BUDGET_MS:
//  - a burst sends samples `burstGapMs` apart until it has its most samples or, past its
//    fewest, the level is pinned (`levelErrMs` ≤ BURST_GOAL_MS, or the burst has settled:
//    `burstSettled`);
//  - then, if the prediction one STEADY_INTERVAL_MS ahead is within the budget, the steady
//    state: one sample every ~STEADY_INTERVAL_MS keeps the window fresh (the window's old tight
//    samples, carried forward by the drift estimate, hold the level). It rides the long-poll
//    connection when there is one (app.js): sent right after the next /s answer, before
//    re-parking, it costs no TCP connection of its own;
//  - else, if the level is pinned but the drift is not yet known well enough, the next burst
//    comes when the prediction reaches the budget (at least MIN_RESYNC_MS, at most a steady
//    interval later): the drift uncertainty shrinks as the window grows, so the bursts thin out
//    by themselves;
//  - else (the burst could not pin the level: loss, a bad patch) re-sync bursts back off: 5 s,
//    10 s, 20 s, 40 s, then every 60 s.
// A jittery path costs more samples in its first minutes (its drift is unknown and each burst
// finds the floors only roughly) and then settles into the steady state like a quiet one.

/** Most samples in the join burst. */
export const JOIN_BURST = 32;
/** Fewest samples in the join burst. */
export const JOIN_BURST_MIN = 8;
/** A burst may end once its two best bounds in each direction agree within this, ms, */
export const BURST_SETTLE_MS = 0.5;
/** ... and its own intervals intersect within ± this, ms. */
export const SETTLE_BOUND_MS = 2;
/** Steady state: one sample this often, ms, ±25 %. */
export const STEADY_INTERVAL_MS = 40000;
/** The likely error (ms) the schedule keeps the clock within. */
export const BUDGET_MS = 2;
/** A burst may end once the level's likely error is under this, ms. */
export const BURST_GOAL_MS = 1;
/** Shortest delay before a re-sync burst that the drift calls for, ms. */
export const MIN_RESYNC_MS = 5000;

/** Most samples in re-sync burst number `n` (1 = the first after the join burst): more at first. */
export function resyncBurst(n) {
  return n <= 4 ? 12 : 8;
}

/** Fewest samples in burst number `n` (0 = the join burst). */
export function burstMin(n) {
  if (n === 0) return JOIN_BURST_MIN;
  return n <= 4 ? 4 : 2;
}

/**
 * Whether burst `burst` has at least `min` samples in `samples`, its intervals intersect within
 * ±SETTLE_BOUND_MS, and its two best lower bounds (t − t4) and two best upper bounds (t − t1)
 * each agree within BURST_SETTLE_MS.
 */
export function burstSettled(samples, burst, min) {
  let n = 0;
  let lo1 = -Infinity;
  let lo2 = -Infinity;
  let hi1 = Infinity;
  let hi2 = Infinity;
  for (const x of samples) {
    if (x.burst !== burst) continue;
    n++;
    const lo = x.tMs - x.t4;
    const hi = x.tMs - x.t1;
    if (lo > lo1) { lo2 = lo1; lo1 = lo; } else if (lo > lo2) lo2 = lo;
    if (hi < hi1) { hi2 = hi1; hi1 = hi; } else if (hi < hi2) hi2 = hi;
  }
  return n >= min && hi1 - lo1 <= 2 * SETTLE_BOUND_MS && lo1 - lo2 <= BURST_SETTLE_MS && hi2 - hi1 <= BURST_SETTLE_MS;
}

/**
 * Delay (ms) between two requests of one burst: short and jittered so that samples do not
 * line up with periodic queueing. `rand` returns [0, 1).
 */
export function burstGapMs(rand) {
  return 30 + 40 * rand();
}

/**
 * Delay (ms) until re-sync burst number `n` after bursts that could not pin the level: 5 s,
 * 10 s, 20 s, 40 s, then every 60 s, with ±25 % jitter so that a hall of phones joined at the
 * same moment spreads out.
 */
export function resyncDelayMs(n, rand) {
  const base = Math.min(60000, 5000 * 2 ** Math.max(0, Math.min(n - 1, 4)));
  return base * (0.75 + 0.5 * rand());
}

/** Delay (ms) until the next single sample in the steady state: STEADY_INTERVAL_MS ±25 %. */
export function steadyDelayMs(rand) {
  return STEADY_INTERVAL_MS * (0.75 + 0.5 * rand());
}

/**
 * Delay (ms) until the likely error reaches `budgetMs` when nothing is sampled, from the
 * newest sample on, between MIN_RESYNC_MS and STEADY_INTERVAL_MS, ±25 %.
 */
export function budgetDelayMs(sync, budgetMs, rand) {
  const ms = (budgetMs - sync.levelErrMs) / Math.max(1e-9, sync.driftUncPpm * 1e-6);
  return Math.min(STEADY_INTERVAL_MS, Math.max(MIN_RESYNC_MS, ms)) * (0.75 + 0.5 * rand());
}

/** Largest budget a cue can ask for, ms: a quarter of a 60 Hz frame (and the venue test's
 *  p95 bound of 5 ms stays in reach). */
export const MAX_BUDGET_MS = 4;
/** A cue's budget is its fastest change (ms) divided by this, within BUDGET_MS..MAX_BUDGET_MS. */
export const BUDGET_DIVISOR = 100;

/** The budget of a show that says `sync = "relaxed"` (shows/FORMAT.md §1), ms: one 60 Hz
 *  frame. On any path it holds a steady interval ahead, so after the join burst a phone only
 *  takes the steady single samples (about one a minute, riding the long-poll connection). */
export const RELAXED_BUDGET_MS = 16;

/**
 * The likely clock error (ms) the /t schedule keeps while cue `c` (-1: none known) of a compiled
 * show plays, is held or armed: RELAXED_BUDGET_MS for a relaxed show (the designer traded clock
 * accuracy for airtime), else what the cue needs (`cueBudgetMs`), else, no cue known (a GO may
 * come any moment), the tightest, BUDGET_MS.
 */
export function budgetFor(show, c) {
  if (show && show.sync === 'relaxed') return RELAXED_BUDGET_MS;
  return c >= 0 ? cueBudgetMs(show, c) : BUDGET_MS;
}

/**
 * The likely clock error (ms) cue `c` of a compiled show (shows/FORMAT.md §2) can live with: its
 * fastest change divided by BUDGET_DIVISOR, between BUDGET_MS (a hard cut, a strobe, a 3 Hz
 * chase) and MAX_BUDGET_MS (a slow wash: 4 ms is 0.05 % of an 8 s fade). The fastest change:
 * a cut (0) where a segment starts on another colour than the one before it ended (across the
 * loop for a looping cue) or in a square wave; the rise (w/2) of a triangle wave; the length of
 * a fade. Segments that do not change colour do not count. No cue (idle, blackout): the most.
 */
export function cueBudgetMs(show, c) {
  const cue = show && Array.isArray(show.cues) ? show.cues[c] : null;
  if (!cue || !Array.isArray(cue.segs) || cue.segs.length === 0) return MAX_BUDGET_MS;
  const same = (x, y) => x[0] === y[0] && x[1] === y[1] && x[2] === y[2];
  const first = (g) => (g.k === 'solid' ? g.c : g.a);
  const last = (g) => (g.k === 'solid' ? g.c : g.k === 'fade' ? g.b : g.a);
  let fastest = Infinity;
  cue.segs.forEach((g, i) => {
    const prev = i > 0 ? cue.segs[i - 1] : cue.end === 'loop' && cue.segs.length > 1 ? cue.segs[cue.segs.length - 1] : null;
    if (prev && !same(last(prev), first(g))) fastest = 0;
    if (g.k === 'fade' && !same(g.a, g.b)) fastest = Math.min(fastest, g.d);
    if (g.k === 'wave' && !same(g.a, g.b)) fastest = Math.min(fastest, g.shape === 'square' ? 0 : Math.floor(g.w / 2));
  });
  return Math.min(MAX_BUDGET_MS, Math.max(BUDGET_MS, fastest / BUDGET_DIVISOR));
}

/** When to send the next /t request. Call `handleSent` right after each request leaves. */
export class Schedule {
  constructor() {
    /** Burst the next request belongs to (0 = the join burst). */
    this.burst = 0;
    this.sent = 0;
    this.min = JOIN_BURST_MIN;
    this.max = JOIN_BURST;
    /** The likely error allowed (ms): BUDGET_MS, or what the current cue needs. */
    this.budgetMs = BUDGET_MS;
  }

  /** The next request is a steady-state single sample (not part of a join or re-sync burst):
   *  the page may send it on the long-poll connection instead (poll.js `rideDelayMs`). */
  get steady() {
    return this.max === 1;
  }

  /** Starts a burst of at most `max` samples now (the page came back after being away):
   *  the caller sends the first request at once. */
  handleWake(max) {
    this.burst++;
    this.sent = 0;
    this.min = burstMin(this.burst);
    this.max = Math.max(this.min, max);
  }

  /** A request of the current burst was sent; `sync` holds the answers so far. Returns the
   *  delay until the next request, ms. */
  handleSent(sync, rand) {
    this.sent++;
    // The join burst ends only once settled (its own floors found, as it always did): the
    // first seconds set the level every later sample is compared with. Every burst aims at
    // BURST_GOAL_MS whatever the budget: a looser budget samples less often, never worse.
    const pinned = this.sent >= this.min && sync.synced &&
      ((this.burst > 0 && sync.levelErrMs <= BURST_GOAL_MS) || burstSettled(sync.samples, this.burst, this.min));
    if (this.sent < this.max && !pinned) return burstGapMs(rand);
    this.burst++;
    this.sent = 0;
    const budget = this.budgetMs;
    if (sync.predictedErrorMs(sync.refLocal + STEADY_INTERVAL_MS) <= budget) {
      this.min = 1;
      this.max = 1;
      return steadyDelayMs(rand);
    }
    this.min = burstMin(this.burst);
    this.max = resyncBurst(this.burst);
    if (sync.synced && sync.levelErrMs <= budget) {
      // Never more often than the re-sync bursts of a fixed schedule (5 s, 10 s, … 60 s).
      return Math.max(budgetDelayMs(sync, budget, rand), resyncDelayMs(this.burst, rand));
    }
    return resyncDelayMs(this.burst, rand);
  }
}

/** Deterministic PRNG (mulberry32) for tests and for seeding jitter. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function rand() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
