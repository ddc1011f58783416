//! WCAG 2.3.1 "Three Flashes or Below Threshold" checker, computed from the evaluated colours of
//! every zone of every cue at 1 ms steps (the evaluator's resolution, so nothing is missed).
//!
//! Definitions (WCAG 2.2; the formulas are also in `shows/FORMAT.md`, section 4):
//! - relative luminance L = 0.2126 R + 0.7152 G + 0.0722 B on linearised sRGB;
//! - a *general change* is a swing of L by at least 0.1 where the darker end is below 0.80;
//! - a *red change* is a swing of the red value max(0, (R − G − B) × 320) (counted only while the
//!   colour is saturated red, R / (R + G + B) ≥ 0.8; linearised channels) by more than 20;
//! - swings are the legs of a zig-zag over the samples with the threshold as hysteresis, timed at
//!   the moment the new extreme is first reached;
//! - a flash is a pair of opposing changes, so a one-second window [t, t + 1000 ms) holding n
//!   changes of one kind holds ⌊n / 2⌋ flashes; more than three (n ≥ 8) fails.
//!
//! Each cue is sampled at every millisecond where flashes can happen (see [`sample_times`]) over
//! one pass plus its end rule (the held last frame, the wrap of a loop into its first second, or
//! the drop to black of an ended cue).

use crate::model::{CompiledShow, Cue, CueEnd, Rgb, Segment};

/// Most flashes of one kind allowed in any one-second window.
pub const MAX_FLASHES_PER_SECOND: usize = 3;
/// Length of the sliding window, ms.
pub const WINDOW_MS: usize = 1000;
/// Minimum swing of relative luminance for a general change.
pub const GENERAL_THRESHOLD: f64 = 0.1;
/// The darker end of a general change must be below this luminance.
pub const DARK_LIMIT: f64 = 0.8;
/// A red change is a swing of the red value larger than this.
pub const RED_THRESHOLD: f64 = 20.0;

/// Which WCAG flash rule was broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashKind {
    /// General flashes (luminance).
    General,
    /// Red flashes (saturated red).
    Red,
}

/// A one-second window of one zone of one cue with too many flashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Cue index.
    pub cue: usize,
    /// Zone index.
    pub zone: usize,
    /// Start of the first failing window, ms from cue start (may pass the cue length for the
    /// loop wrap or the end of the cue).
    pub time_ms: u64,
    /// Kind of flash.
    pub kind: FlashKind,
    /// Flashes counted in that window.
    pub flashes: usize,
}

impl Violation {
    /// One-line description (without cue, zone and time, which the caller locates).
    pub fn message(&self) -> String {
        let kind = match self.kind {
            FlashKind::General => "general",
            FlashKind::Red => "red",
        };
        format!(
            "{} {kind} flashes within one second (WCAG 2.3.1 allows at most {MAX_FLASHES_PER_SECOND})",
            self.flashes
        )
    }
}

/// sRGB channel (0..=255) to linear light (0..=1).
fn linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// WCAG relative luminance of a colour (0..=1).
pub fn relative_luminance(c: Rgb) -> f64 {
    0.2126 * linear(c.r) + 0.7152 * linear(c.g) + 0.0722 * linear(c.b)
}

/// WCAG red value: max(0, (R − G − B) × 320) on linear channels while R / (R + G + B) ≥ 0.8,
/// else 0.
pub fn red_value(c: Rgb) -> f64 {
    let (r, g, b) = (linear(c.r), linear(c.g), linear(c.b));
    let sum = r + g + b;
    if sum <= 0.0 || r / sum < 0.8 {
        return 0.0;
    }
    ((r - g - b) * 320.0).max(0.0)
}

/// Zig-zag legs of `s` with hysteresis `thr` (`strict`: swing must exceed `thr`, else reach it).
/// Returns (from, to) sample indices; `to` is where the new extreme is first reached.
pub fn legs(s: &[f64], thr: f64, strict: bool) -> Vec<(usize, usize)> {
    let meets = |d: f64| if strict { d > thr } else { d >= thr - 1e-12 };
    let mut out = Vec::new();
    if s.is_empty() {
        return out;
    }
    let (mut lo, mut hi) = (0usize, 0usize);
    let (mut dir, mut pivot, mut ext) = (0i8, 0usize, 0usize);
    for (i, &v) in s.iter().enumerate().skip(1) {
        match dir {
            0 => {
                if v < s[lo] {
                    lo = i;
                }
                if v > s[hi] {
                    hi = i;
                }
                if i == hi && meets(v - s[lo]) {
                    (dir, pivot, ext) = (1, lo, i);
                } else if i == lo && meets(s[hi] - v) {
                    (dir, pivot, ext) = (-1, hi, i);
                }
            }
            1 => {
                if v > s[ext] {
                    ext = i;
                } else if meets(s[ext] - v) {
                    out.push((pivot, ext));
                    (dir, pivot, ext) = (-1, ext, i);
                }
            }
            _ => {
                if v < s[ext] {
                    ext = i;
                } else if meets(v - s[ext]) {
                    out.push((pivot, ext));
                    (dir, pivot, ext) = (1, ext, i);
                }
            }
        }
    }
    if dir != 0 {
        out.push((pivot, ext));
    }
    out
}

/// First window with more than [`MAX_FLASHES_PER_SECOND`] flashes, given the change times
/// (sorted, ms): (window start, flashes in it).
pub fn first_failing_window(change_times: &[usize]) -> Option<(usize, usize)> {
    let limit = 2 * (MAX_FLASHES_PER_SECOND + 1);
    let mut i = 0;
    let mut worst: Option<(usize, usize)> = None;
    for j in 0..change_times.len() {
        while change_times[j] - change_times[i] >= WINDOW_MS {
            i += 1;
        }
        let n = j - i + 1;
        if n >= limit {
            match worst {
                None => worst = Some((change_times[i], n / 2)),
                Some((start, f)) if change_times[i] < start + WINDOW_MS && n / 2 > f => {
                    worst = Some((start, n / 2));
                }
                _ => {}
            }
        }
    }
    worst
}

/// Times (ms from cue start) at which a cue is sampled, sorted. Every millisecond wherever
/// flashes can happen, sparsely where they cannot:
/// - solid: first and last millisecond;
/// - fade: every ms up to 4 s long, else 2000 evenly spaced samples;
/// - wave: every ms, except that a wave longer than 3 periods + 4 s keeps only its first
///   2 periods + 2 s and last period + 2 s (any window inside it repeats one seen in the kept
///   part, because the wave is periodic);
/// - after one pass: a loop repeats the sampled first second, hold and end add one sample.
pub fn sample_times(cue: &Cue) -> Vec<u64> {
    let mut ts: Vec<u64> = Vec::new();
    for seg in &cue.segs {
        let (s, d) = (seg.start_ms(), seg.duration_ms());
        let e = s + d;
        match seg {
            Segment::Solid { .. } => ts.extend([s, e - 1]),
            Segment::Fade { .. } if d <= 4000 => ts.extend(s..e),
            Segment::Fade { .. } => ts.extend((0..2000).map(|i| s + i * d / 2000).chain([e - 1])),
            Segment::Wave { p, .. } => {
                let keep_head = 2 * p + 2000;
                let keep_tail = p + 2000;
                if d <= keep_head + keep_tail + 1000 {
                    ts.extend(s..e);
                } else {
                    ts.extend(s..s + keep_head);
                    ts.extend(e - keep_tail..e);
                }
            }
        }
    }
    ts.sort_unstable();
    ts.dedup();
    match cue.end {
        CueEnd::Loop => {
            let wrap: Vec<u64> = ts
                .iter()
                .take_while(|&&t| t <= WINDOW_MS as u64)
                .map(|t| t + cue.dur)
                .collect();
            ts.extend(wrap);
        }
        CueEnd::Hold | CueEnd::End => ts.push(cue.dur),
    }
    ts
}

/// Checks one zone of one cue; at most one violation per kind (the first failing window).
pub fn check_zone(show: &CompiledShow, cue: usize, zone: usize) -> Vec<Violation> {
    let Some(c) = show.cues.get(cue) else {
        return Vec::new();
    };
    check_zone_at(show, cue, zone, &sample_times(c))
}

fn check_zone_at(show: &CompiledShow, cue: usize, zone: usize, times: &[u64]) -> Vec<Violation> {
    let mut lum = Vec::with_capacity(times.len());
    let mut red = Vec::with_capacity(times.len());
    let mut last: Option<(Rgb, f64, f64)> = None;
    for &t in times {
        let c = show.colour_at(zone, cue, t);
        let (l, r) = match last {
            Some((lc, l, r)) if lc == c => (l, r),
            _ => (relative_luminance(c), red_value(c)),
        };
        last = Some((c, l, r));
        lum.push(l);
        red.push(r);
    }
    let general: Vec<usize> = legs(&lum, GENERAL_THRESHOLD, false)
        .into_iter()
        .filter(|&(a, b)| lum[a].min(lum[b]) < DARK_LIMIT)
        .map(|(_, b)| times[b] as usize)
        .collect();
    let reds: Vec<usize> = legs(&red, RED_THRESHOLD, true)
        .into_iter()
        .map(|(_, b)| times[b] as usize)
        .collect();
    let mut out = Vec::new();
    for (kind, change_times) in [(FlashKind::General, general), (FlashKind::Red, reds)] {
        if let Some((start, flashes)) = first_failing_window(&change_times) {
            out.push(Violation {
                cue,
                zone,
                time_ms: start as u64,
                kind,
                flashes,
            });
        }
    }
    out
}

/// Checks every zone of every cue.
pub fn check(show: &CompiledShow) -> Vec<Violation> {
    let mut out = Vec::new();
    for (cue, c) in show.cues.iter().enumerate() {
        let times = sample_times(c);
        for zone in 0..show.zones.len() {
            out.extend(check_zone_at(show, cue, zone, &times));
        }
    }
    out
}
