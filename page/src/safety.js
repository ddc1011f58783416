// Runtime photosensitivity guard (WCAG 2.3.1), pure and sans-IO: every colour goes through
// `FlashLimiter.handleFrame(nowMs, rgb)` before it reaches the screen, whatever the show says.
//
// It counts changes exactly like the compile-time checker (shows/src/wcag.rs, FORMAT.md §4):
// the legs of a zig-zag over the displayed series with the threshold as hysteresis (relative
// luminance ≥ 0.1; WCAG red value > 20, ramped in below saturation as in wcag.rs), timed when
// the new extreme is reached; a window of
// one second holding n changes of one kind holds ⌊n/2⌋ flashes. A frame that would start a new
// leg when the last second already holds `maxChanges` (7: three flashes and a half) is not
// shown: the previous colour stays until the budget allows. The checker's "darker end below
// 0.80" exemption is not applied: stricter, never looser. Shows that pass `shows check` render
// unchanged.
//
// With `reducedMotion` every colour first goes through a low-pass filter (time constant
// REDUCED_MOTION_TAU_MS), so flashes become slow swells, and at most one change per second.

/** sRGB channel 0..255 → linear light 0..1. */
const LINEAR = Array.from({ length: 256 }, (_, i) => {
  const c = i / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

/** WCAG relative luminance of `[r, g, b]`. */
export function luminance([r, g, b]) {
  return 0.2126 * LINEAR[r] + 0.7152 * LINEAR[g] + 0.0722 * LINEAR[b];
}

/** WCAG's saturated red: R/(R+G+B) at or above this (linear channels). */
export const SATURATED_RED = 0.8;
/** Below SATURATED_RED the red value fades in linearly from this ratio on (wcag.rs). */
export const SATURATION_RAMP_FROM = 0.75;

/**
 * WCAG red value: max(0, (R − G − B) × 320) on linear channels while R/(R+G+B) ≥ 0.8, 0 below
 * 0.75, scaled in between (shows/src/wcag.rs `red_value`): continuous in the colour, so a fade
 * whose integer steps wobble across 0.8 is no burst of red flashes. Never below WCAG's value.
 */
export function redValue([r, g, b]) {
  const R = LINEAR[r], G = LINEAR[g], B = LINEAR[b];
  const sum = R + G + B;
  if (sum <= 0) return 0;
  const w = Math.min(1, Math.max(0, (R / sum - SATURATION_RAMP_FROM) / (SATURATED_RED - SATURATION_RAMP_FROM)));
  return Math.max(0, (R - G - B) * 320) * w;
}

export const GENERAL_THRESHOLD = 0.1;
export const RED_THRESHOLD = 20;
/** Changes of one kind allowed in any one-second window: 7 = three flashes (and a half). */
export const MAX_CHANGES = 7;
export const WINDOW_MS = 1000;
export const REDUCED_MOTION_TAU_MS = 400;

/**
 * Online zig-zag (the streaming form of wcag.rs `legs`): tells whether a value would complete
 * a change, and records the times of changes.
 */
export class ZigZag {
  constructor(threshold, strict) {
    this.thr = threshold;
    this.strict = strict;
    this.dir = 0; // 0 = no leg yet, 1 = rising, -1 = falling
    this.lo = NaN; this.hi = NaN; this.ext = NaN;
    /** Times (ms) of the changes, oldest first; the last one moves while its leg extends. */
    this.times = [];
  }

  meets(d) {
    return this.strict ? d > this.thr : d >= this.thr - 1e-12;
  }

  /** Whether showing value `v` now would start a new leg (a new change). */
  wouldChange(v) {
    if (Number.isNaN(this.lo)) return false;
    if (this.dir === 0) return this.meets(v - this.lo) || this.meets(this.hi - v);
    if (this.dir === 1) return v <= this.ext && this.meets(this.ext - v);
    return v >= this.ext && this.meets(v - this.ext);
  }

  /** Records that `v` was shown at `now`. */
  push(now, v) {
    if (Number.isNaN(this.lo)) { this.lo = this.hi = v; return; }
    if (this.dir === 0) {
      this.lo = Math.min(this.lo, v);
      this.hi = Math.max(this.hi, v);
      if (v === this.hi && this.meets(v - this.lo)) this.start(1, now, v);
      else if (v === this.lo && this.meets(this.hi - v)) this.start(-1, now, v);
      return;
    }
    if (this.dir === 1) {
      if (v > this.ext) { this.ext = v; this.times[this.times.length - 1] = now; }
      else if (this.meets(this.ext - v)) this.start(-1, now, v);
    } else if (v < this.ext) { this.ext = v; this.times[this.times.length - 1] = now; }
    else if (this.meets(v - this.ext)) this.start(1, now, v);
  }

  start(dir, now, v) {
    this.dir = dir;
    this.ext = v;
    this.times.push(now);
  }

  /** Changes timed within the second ending at `now` (drops older ones). */
  recent(now) {
    while (this.times.length && this.times[0] <= now - WINDOW_MS) this.times.shift();
    return this.times.length;
  }
}

/** The limiter between the evaluator and the screen. */
export class FlashLimiter {
  /** @param {{reducedMotion?: boolean}} [options] */
  constructor({ reducedMotion = false } = {}) {
    this.reducedMotion = reducedMotion;
    this.maxChanges = reducedMotion ? 1 : MAX_CHANGES;
    this.general = new ZigZag(GENERAL_THRESHOLD, false);
    this.red = new ZigZag(RED_THRESHOLD, true);
    /** @type {number[] | null} */
    this.shown = null;
    /** @type {number[] | null} low-pass state (floats) for reduced motion */
    this.smooth = null;
    this.lastMs = NaN;
    /** Frames held back so far (for diagnostics). */
    this.suppressed = 0;
  }

  /** Colour to put on screen at local time `nowMs` (ms, monotonic) for the wanted `rgb`. */
  handleFrame(nowMs, rgb) {
    let want = rgb;
    if (this.reducedMotion) want = this.lowPass(nowMs, rgb);
    this.lastMs = nowMs;
    if (this.shown && want[0] === this.shown[0] && want[1] === this.shown[1] && want[2] === this.shown[2]) {
      return this.shown;
    }
    const l = luminance(want);
    const r = redValue(want);
    const blocked =
      (this.general.wouldChange(l) && this.general.recent(nowMs) + 1 > this.maxChanges) ||
      (this.red.wouldChange(r) && this.red.recent(nowMs) + 1 > this.maxChanges);
    if (blocked && this.shown) {
      this.suppressed++;
      return this.shown;
    }
    this.general.push(nowMs, l);
    this.red.push(nowMs, r);
    this.shown = want;
    return want;
  }

  lowPass(nowMs, rgb) {
    if (!this.smooth || !Number.isFinite(this.lastMs)) {
      this.smooth = rgb.slice();
    } else {
      const dt = Math.max(0, nowMs - this.lastMs);
      const k = 1 - Math.exp(-dt / REDUCED_MOTION_TAU_MS);
      for (let i = 0; i < 3; i++) this.smooth[i] += (rgb[i] - this.smooth[i]) * k;
    }
    return this.smooth.map((x) => Math.round(x));
  }
}
