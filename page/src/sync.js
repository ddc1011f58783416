// Clock sync to the relay's beacon timebase (NTP on-wire / Cristian), pure and sans-IO.
//
// A sample is {t1, t, t4}: t1 and t4 are the local monotonic clock (performance.now(), ms) when
// the /t request left and when its answer arrived; t is the server's stamp (beacon µs).
// Each sample bounds the true offset θ (server − local, ms): since neither one-way delay is
// negative, θ ∈ [t − t4, t − t1]. Its midpoint is the classic t − (t1 + t4)/2, its half-width rtt/2.
//
// Estimate:
//  1. older samples that disagree with the newer ones (a clock step, a relay restart) are dropped;
//  2. drift (local clock rate error): the slope of the widest band that fits between all lower and
//     upper bounds (max-margin line), once the window spans enough time to measure it;
//  3. level: the middle of the drift-corrected intersection of all the window's intervals. Using
//     the floor of each direction independently beats keeping the single min-RTT sample under
//     asymmetric jitter.
// A constant asymmetry of the two path floors is invisible to any two-way method (half of it
// ends up in the offset): on a LAN it is tiny.

/** Samples kept (the oldest are dropped). */
export const MAX_SAMPLES = 512;
/** Samples older than this (local ms) are dropped. */
export const WINDOW_MS = 30 * 60 * 1000;
/** The drift fit needs at least this span of local time between its first and last point. */
export const MIN_DRIFT_SPAN_MS = 10 * 60 * 1000;
/** Largest drift believed (parts per million); phone oscillators are within tens of ppm. */
export const MAX_DRIFT_PPM = 100;
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
    this.driftSpanMs = 0;
    /** Reference point of the fitted line: offset = base + drift * (local − ref). */
    this.refLocal = 0;
    this.baseOffset = NaN;
    /** Half-width of the intersected interval (ms): the error bound of the level. */
    this.errorBoundMs = Infinity;
  }

  /** True once at least one sample was accepted. */
  get synced() {
    return Number.isFinite(this.baseOffset);
  }

  /** True once the drift estimate has converged: the window spans MIN_DRIFT_SPAN_MS (the drift
   *  fit runs over it). A step drops old samples and clears it. */
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

  /** Recomputes drift and level from the kept samples. */
  estimate() {
    this.dropBeforeStep();
    const s = this.samples;
    if (s.length === 0) return;
    const newest = s[s.length - 1];
    this.refLocal = newest.mid;
    this.driftSpanMs = newest.mid - s[0].mid;
    if (this.driftSpanMs >= MIN_DRIFT_SPAN_MS) this.driftPpm = fitDriftPpm(s, this.refLocal);
    const { lo, hi } = intersect(s, this.driftPpm * 1e-6, this.refLocal, newest.offset);
    this.baseOffset = newest.offset + (lo + hi) / 2;
    this.errorBoundMs = Math.max(0, (hi - lo) / 2);
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
    let lo = -Infinity;
    let hi = Infinity;
    for (let i = s.length - 1; i >= 0; i--) {
      const x = s[i];
      const slack = STEP_SLACK_MS + STEP_SLACK_PPM * 1e-6 * (ref - x.mid);
      const corr = rate * (ref - x.mid);
      const xlo = x.tMs - x.t4 + corr - slack;
      const xhi = x.tMs - x.t1 + corr + slack;
      if (Math.max(lo, xlo) > Math.min(hi, xhi)) {
        this.samples = s.slice(i + 1);
        this.driftPpm = 0;
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
 * Drift in ppm: the slope of the widest band that fits between every sample's lower and upper
 * offset bound (the max-margin line of the linear programme lo_i ≤ a + b·x_i ≤ hi_i); the width
 * is a concave function of the slope, so a golden-section search finds the best one. The slope
 * is pinned by the least-delayed samples in each direction at both ends of the window (a min-RTT
 * filter, per direction). When few samples pin it, a wide range of slopes fits almost as well:
 * then the smallest slope that loses at most DRIFT_TOLERANCE_MS of width (less over longer
 * windows) is taken, so that noise is not mistaken for drift.
 */
export function fitDriftPpm(samples, ref) {
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

// ---- the request schedule ------------------------------------------------------------------
// A burst sends samples `burstGapMs` apart until it has its most samples or, once it has its
// fewest, as soon as it has settled: its own intervals intersect within ±SETTLE_BOUND_MS (a hard
// bound on its error) and its two best bounds in each direction agree within BURST_SETTLE_MS
// (it has found both path floors; one more sample would most likely gain less). On a quiet
// network a burst settles after its minimum; on a jittery one (whose round trips alone exceed
// the bound) it runs to its maximum, exactly as before.
// Bursts come 5 s, 10 s, 20 s, 40 s after the join burst, then every 60 s. Once the drift
// estimate has converged and the error bound is under STEADY_BOUND_MS, one sample every ~40 s
// (1.5 a minute) keeps the window fresh: the window's old tight samples, carried forward by the
// drift estimate, hold the level. On a path too jittery for that bound (the bound is half the
// best round trip, floors included) the bursts go on: sparse samples would not pin the drift.
// A steady sample rides the long-poll connection when there is one (app.js): it is sent right
// after the next /s answer, before re-parking, so it costs no TCP connection of its own.

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
/** The steady state needs an error bound under this, ms. */
export const STEADY_BOUND_MS = 2;

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
 * Delay (ms) until re-sync burst number `n` (1 = the first after the join burst): 5 s, 10 s, 20 s,
 * 40 s, then every 60 s, with ±25 % jitter so that a hall of phones joined at the same moment
 * spreads out. Early bursts come fast because one burst alone can be unlucky.
 */
export function resyncDelayMs(n, rand) {
  const base = Math.min(60000, 5000 * 2 ** Math.max(0, Math.min(n - 1, 4)));
  return base * (0.75 + 0.5 * rand());
}

/** Delay (ms) until the next single sample in the steady state: STEADY_INTERVAL_MS ±25 %. */
export function steadyDelayMs(rand) {
  return STEADY_INTERVAL_MS * (0.75 + 0.5 * rand());
}

/** When to send the next /t request. Call `handleSent` right after each request leaves. */
export class Schedule {
  constructor() {
    /** Burst the next request belongs to (0 = the join burst). */
    this.burst = 0;
    this.sent = 0;
    this.min = JOIN_BURST_MIN;
    this.max = JOIN_BURST;
  }

  /** The next request is a steady-state single sample (not part of a join or re-sync burst):
   *  the page may send it on the long-poll connection instead (poll.js `rideDelayMs`). */
  get steady() {
    return this.max === 1;
  }

  /** A request of the current burst was sent; `sync` holds the answers so far. Returns the
   *  delay until the next request, ms. */
  handleSent(sync, rand) {
    this.sent++;
    if (this.sent < this.max && !burstSettled(sync.samples, this.burst, this.min)) return burstGapMs(rand);
    this.burst++;
    this.sent = 0;
    if (sync.converged && sync.errorBoundMs < STEADY_BOUND_MS) {
      this.min = 1;
      this.max = 1;
      return steadyDelayMs(rand);
    }
    this.min = burstMin(this.burst);
    this.max = resyncBurst(this.burst);
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
