//! WCAG 2.3.1 "Three Flashes or Below Threshold" checker, computed from the evaluated colours of
//! every zone of every cue at 1 ms steps (the evaluator's resolution, so nothing is missed).
//!
//! Definitions (WCAG 2.2; the formulas are also in `shows/FORMAT.md`, section 4):
//! - relative luminance L = 0.2126 R + 0.7152 G + 0.0722 B on linearised sRGB;
//! - a *general change* is a swing of L by at least 0.1 where the darker end is below 0.80;
//! - a *red change* is a swing of the red value max(0, (R − G − B) × 320) (counted only while the
//!   colour is saturated red, R / (R + G + B) ≥ 0.8; linearised channels) by more than 20. The
//!   value is faded in over R / (R + G + B) from 0.75 to 0.8 ([`SATURATION_RAMP_FROM`]) instead
//!   of jumping there: a smooth fade that crosses 0.8 (integer steps make R / (R + G + B) wobble
//!   across it) would otherwise count as a burst of red flashes that nobody sees;
//! - swings are the legs of a zig-zag over the samples with the threshold as hysteresis, timed at
//!   the moment the new extreme is first reached;
//! - a flash is a pair of opposing changes, so a one-second window [t, t + 1000 ms) holding n
//!   changes of one kind holds ⌊n / 2⌋ flashes; more than three (n ≥ 8) fails.
//!
//! Each cue is sampled at every millisecond where flashes can happen (see [`sample_times`]) over
//! one pass plus its end rule (the held last frame, the wrap of a loop into its first second, or
//! the drop to black of an ended cue). [`check`] visits only the samples where the colour
//! changes (found by bisection inside monotone stretches), so its cost follows the number of
//! colour changes rather than the cue length; [`check_reference`] evaluates every sample and
//! the tests prove the two equal. A caller's deadline bounds the time ([`check_within`]).

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
    /// The camera torch switching on and off (a cue with `torch`): every switch is a general
    /// change.
    Torch,
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
            FlashKind::Torch => "torch",
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

/// WCAG's saturated red: R / (R + G + B) at or above this (linearised channels).
pub const SATURATED_RED: f64 = 0.8;
/// Below [`SATURATED_RED`], the red value fades in linearly from this ratio on.
pub const SATURATION_RAMP_FROM: f64 = 0.75;

/// WCAG red value: max(0, (R − G − B) × 320) on linear channels while R / (R + G + B) ≥ 0.8,
/// 0 below 0.75, and in between that value scaled by how far the ratio is from 0.75 to 0.8.
///
/// The ramp keeps the value continuous in the colour. WCAG's step makes one colour step
/// across 0.8 a jump of tens (e.g. 31 → 0 inside a fade from black to #830c3d), and the integer
/// steps of a fade wobble across 0.8 many times: without the ramp such a fade counts as 4+ red
/// flashes. At and above 0.8 the value is WCAG's; below it, never smaller than WCAG's 0.
pub fn red_value(c: Rgb) -> f64 {
    let (r, g, b) = (linear(c.r), linear(c.g), linear(c.b));
    let sum = r + g + b;
    if sum <= 0.0 {
        return 0.0;
    }
    let weight =
        ((r / sum - SATURATION_RAMP_FROM) / (SATURATED_RED - SATURATION_RAMP_FROM)).clamp(0.0, 1.0);
    ((r - g - b) * 320.0).max(0.0) * weight
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

/// Reference form of [`check`]: evaluates every time of [`sample_times`] and keeps two `f64`
/// per sample, so time and memory grow with the cue length (a 24-hour pulse is 86.4 million
/// samples). Kept only to prove [`check`] equivalent to it on small shows.
#[doc(hidden)]
pub fn check_reference(show: &CompiledShow) -> Vec<Violation> {
    let mut out = Vec::new();
    for (cue, c) in show.cues.iter().enumerate() {
        let times = sample_times(c);
        for zone in 0..show.zones.len() {
            let colours: Vec<(u64, Rgb)> = times
                .iter()
                .map(|&t| (t, crate::eval::colour_at(show, zone, cue, t)))
                .collect();
            out.extend(violations_of(cue, zone, &colours));
            if c.torch {
                out.extend(torch_violations(c, cue, zone, &colours));
            }
        }
    }
    out
}

/// The violations of one zone of one cue given its sampled colours (time, colour), in time
/// order. Runs of equal consecutive colours may be given as their first sample only: a zig-zag
/// leg starts and ends where a value is *first* reached, so repeating a value changes nothing.
fn violations_of(cue: usize, zone: usize, colours: &[(u64, Rgb)]) -> Vec<Violation> {
    let mut lum = Vec::with_capacity(colours.len());
    let mut red = Vec::with_capacity(colours.len());
    let mut times = Vec::with_capacity(colours.len());
    let mut last: Option<(Rgb, f64, f64)> = None;
    for &(t, c) in colours {
        let (l, r) = match last {
            Some((lc, l, r)) if lc == c => (l, r),
            _ => (relative_luminance(c), red_value(c)),
        };
        last = Some((c, l, r));
        lum.push(l);
        red.push(r);
        times.push(t);
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

/// The torch's flashes in one zone of a torch cue, from the zone's sampled colours (the torch
/// can only switch where the colour changes): the torch series as white and black through the
/// general rule.
fn torch_violations(c: &Cue, cue: usize, zone: usize, colours: &[(u64, Rgb)]) -> Vec<Violation> {
    let series: Vec<(u64, Rgb)> = colours
        .iter()
        .map(|&(t, rgb)| {
            let on = crate::eval::torch_of(Some(c), rgb);
            (
                t,
                if on {
                    Rgb::new(255, 255, 255)
                } else {
                    Rgb::BLACK
                },
            )
        })
        .collect();
    violations_of(cue, zone, &series)
        .into_iter()
        .filter(|v| v.kind == FlashKind::General)
        .map(|v| Violation {
            kind: FlashKind::Torch,
            ..v
        })
        .collect()
}

/// The check ran past its deadline (see [`check_within`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the flash check did not finish within its time budget")]
pub struct OverBudget;

/// Checks every zone of every cue.
///
/// Visits the same sample times as [`sample_times`] (so it is exactly as strict as sampling
/// them one by one), but only where the colour changes: inside a stretch where every channel
/// moves monotonically (a solid, a fade, the rising or falling half of a wave's lit window) a
/// colour equal at both ends is equal throughout, so the next change is found by galloping and
/// bisection. Time and memory grow with the number of colour changes, not with the cue length.
pub fn check(show: &CompiledShow) -> Vec<Violation> {
    check_within(show, None).unwrap_or_default()
}

/// [`check`] that gives up with [`OverBudget`] once `deadline` has passed (polled often, so it
/// returns promptly).
pub fn check_within(
    show: &CompiledShow,
    deadline: Option<std::time::Instant>,
) -> Result<Vec<Violation>, OverBudget> {
    let mut clock = Budget { deadline, steps: 0 };
    let mut out = Vec::new();
    for (cue, c) in show.cues.iter().enumerate() {
        let runs = sample_runs(c);
        for zone in 0..show.zones.len() {
            let colours = changes(c, zone, &runs, &mut clock)?;
            out.extend(violations_of(cue, zone, &colours));
            if c.torch {
                out.extend(torch_violations(c, cue, zone, &colours));
            }
        }
    }
    Ok(out)
}

/// Deadline polling: the clock is read once every 4096 colour evaluations.
struct Budget {
    deadline: Option<std::time::Instant>,
    steps: u32,
}

impl Budget {
    fn tick(&mut self) -> Result<(), OverBudget> {
        self.steps = self.steps.wrapping_add(1);
        if self.steps.is_multiple_of(4096)
            && let Some(d) = self.deadline
            && std::time::Instant::now() >= d
        {
            return Err(OverBudget);
        }
        Ok(())
    }
}

/// [`sample_times`] as sorted, disjoint, non-adjacent runs `[start, end)` of whole
/// milliseconds, without listing them one by one.
pub fn sample_runs(cue: &Cue) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for seg in &cue.segs {
        let (s, d) = (seg.start_ms(), seg.duration_ms());
        let e = s + d;
        match seg {
            Segment::Solid { .. } => runs.extend([(s, s + 1), (e - 1, e)]),
            Segment::Fade { .. } if d <= 4000 => runs.push((s, e)),
            Segment::Fade { .. } => {
                runs.extend((0..2000).map(|i| (s + i * d / 2000, s + i * d / 2000 + 1)));
                runs.push((e - 1, e));
            }
            Segment::Wave { p, .. } => {
                let keep_head = 2 * p + 2000;
                let keep_tail = p + 2000;
                if d <= keep_head + keep_tail + 1000 {
                    runs.push((s, e));
                } else {
                    runs.extend([(s, s + keep_head), (e - keep_tail, e)]);
                }
            }
        }
    }
    runs.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(runs.len());
    for (a, b) in runs {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    match cue.end {
        CueEnd::Loop => {
            let wrap: Vec<(u64, u64)> = merged
                .iter()
                .filter(|&&(a, _)| a <= WINDOW_MS as u64)
                .map(|&(a, b)| (a + cue.dur, b.min(WINDOW_MS as u64 + 1) + cue.dur))
                .collect();
            merged.extend(wrap);
        }
        CueEnd::Hold | CueEnd::End => merged.push((cue.dur, cue.dur + 1)),
    }
    merged
}

/// End (exclusive) of the stretch starting at `t` on which every channel of the zone's colour
/// is monotonic, capped at `limit`. Past the end of one pass every sample stands alone.
fn monotone_until(cue: &Cue, zone: usize, t: u64, limit: u64) -> u64 {
    if t >= cue.dur {
        return t + 1;
    }
    let i = cue
        .segs
        .partition_point(|s| s.start_ms() <= t)
        .saturating_sub(1);
    let seg = &cue.segs[i];
    let seg_end = seg.start_ms() + seg.duration_ms();
    let end = match seg {
        Segment::Solid { .. } | Segment::Fade { .. } => seg_end,
        Segment::Wave { p, w, off, pos, .. } => match pos.get(zone) {
            Some(&position) if position >= 0 => {
                let u = i128::from(t - seg.start_ms());
                let x = u - i128::from(position) * i128::from(*off);
                let phase = x.rem_euclid(i128::from(*p));
                let w = i128::from(*w);
                // Rising to the middle of the lit window, falling to its end, flat after.
                let next = [w / 2, w / 2 + 1, w, i128::from(*p)]
                    .into_iter()
                    .find(|&b| b > phase)
                    .unwrap_or(i128::from(*p));
                let step = u64::try_from(next - phase).unwrap_or(1);
                t.saturating_add(step).min(seg_end)
            }
            _ => seg_end,
        },
    };
    end.min(limit).max(t + 1)
}

/// The samples of `runs` at which the zone's colour differs from the previous sample (and the
/// very first sample), in time order.
fn changes(
    cue: &Cue,
    zone: usize,
    runs: &[(u64, u64)],
    clock: &mut Budget,
) -> Result<Vec<(u64, Rgb)>, OverBudget> {
    let colour = |t: u64| crate::eval::cue_colour(cue, zone, t);
    let mut out: Vec<(u64, Rgb)> = Vec::new();
    for &(start, end) in runs {
        let mut t = start;
        while t < end {
            clock.tick()?;
            let c = colour(t);
            if out.last().is_none_or(|&(_, last)| last != c) {
                out.push((t, c));
            }
            // Same colour on [t, stop) at least; find the first change in the monotone stretch.
            let stretch = monotone_until(cue, zone, t, end);
            let (mut same, mut step) = (t, 1u64);
            // Gallop: the colour at `same` equals `c`; probe ever further.
            let mut differs = stretch;
            while same + step < stretch {
                clock.tick()?;
                if colour(same + step) == c {
                    same += step;
                    step *= 2;
                } else {
                    differs = same + step;
                    break;
                }
            }
            // Bisect between the last equal probe and the first differing one (or the stretch end).
            let (mut lo, mut hi) = (same, differs);
            while hi - lo > 1 {
                clock.tick()?;
                let mid = lo + (hi - lo) / 2;
                if colour(mid) == c {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            t = hi;
        }
    }
    Ok(out)
}
