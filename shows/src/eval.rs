//! The reference evaluator: integer-only rules that the page's JavaScript evaluator mirrors
//! bit for bit (see `FORMAT.md`, "Evaluation").

use crate::model::{CompiledShow, Cue, CueEnd, Rgb, Segment, Shape};

/// Reference evaluator: the colour of `zone` at `t_ms` ms after `cue` started.
/// Unknown zone or cue indices give black. See `FORMAT.md` for the exact rules.
pub fn colour_at(show: &CompiledShow, zone: usize, cue: usize, t_ms: u64) -> Rgb {
    match show.cues.get(cue) {
        Some(c) if zone < show.zones.len() => cue_colour(c, zone, t_ms),
        _ => Rgb::BLACK,
    }
}

/// The torch is on while the zone's colour has a channel at least this bright.
pub const TORCH_LEVEL: u8 = 128;

/// Whether the camera torch of a phone in `zone` is on `t_ms` after cue `cue` started: the cue
/// has `torch` and the zone's colour ([`colour_at`]) has a channel of at least
/// [`TORCH_LEVEL`]. Unknown cue or zone: off.
pub fn torch_at(show: &CompiledShow, zone: usize, cue: usize, t_ms: u64) -> bool {
    torch_of(show.cues.get(cue), colour_at(show, zone, cue, t_ms))
}

/// The torch rule for a colour of a cue (see [`torch_at`]).
pub fn torch_of(cue: Option<&crate::model::Cue>, c: Rgb) -> bool {
    cue.is_some_and(|c| c.torch) && c.r.max(c.g).max(c.b) >= TORCH_LEVEL
}

/// Full level of a wave (level 0 = base colour, `LEVEL_MAX` = lit colour).
pub const LEVEL_MAX: i128 = 1000;

/// `a + trunc((b - a) * num / den)` per channel; `0 <= num <= den`, `den >= 1`.
/// (Computed in i128 so that no input can overflow; valid shows stay far below 2^53.)
pub fn lerp(a: Rgb, b: Rgb, num: i128, den: i128) -> Rgb {
    let den = den.max(1);
    let ch = |x: u8, y: u8| -> u8 {
        let (x, y) = (i128::from(x), i128::from(y));
        // Rust's `/` truncates toward zero, like JS `Math.trunc(a / b)`.
        (x + (y - x) * num / den).clamp(0, 255) as u8
    };
    Rgb::new(ch(a.r, b.r), ch(a.g, b.g), ch(a.b, b.b))
}

/// Level (0..=`LEVEL_MAX`) of a wave at `phase` (0..p) with lit window `w`.
pub fn wave_level(phase: i128, w: i128, shape: Shape) -> i128 {
    if phase >= w {
        return 0;
    }
    match shape {
        Shape::Square => LEVEL_MAX,
        Shape::Tri => {
            let d = 2 * phase;
            if d <= w {
                d * LEVEL_MAX / w
            } else {
                (2 * w - d) * LEVEL_MAX / w
            }
        }
    }
}

/// Colour of one segment at local time `u` (0..=d) for `zone`.
pub fn segment_colour(seg: &Segment, zone: usize, u: u64) -> Rgb {
    match seg {
        Segment::Solid { c, .. } => *c,
        Segment::Fade { d, a, b, .. } => lerp(*a, *b, i128::from(u.min(*d)), i128::from(*d)),
        Segment::Wave {
            a,
            b,
            p,
            w,
            shape,
            off,
            pos,
            ..
        } => {
            let position = pos.get(zone).copied().unwrap_or(-1);
            if position < 0 || *p == 0 {
                return *a;
            }
            let p = i128::from(*p);
            let x = i128::from(u) - i128::from(position) * i128::from(*off);
            let phase = x.rem_euclid(p);
            lerp(*a, *b, wave_level(phase, i128::from(*w), *shape), LEVEL_MAX)
        }
    }
}

/// Colour of `zone` at `t_ms` into `cue`, applying the cue's end rule.
pub fn cue_colour(cue: &Cue, zone: usize, t_ms: u64) -> Rgb {
    if cue.dur == 0 || cue.segs.is_empty() {
        return Rgb::BLACK;
    }
    let t = if t_ms < cue.dur {
        t_ms
    } else {
        match cue.end {
            CueEnd::Loop => t_ms % cue.dur,
            CueEnd::End => return Rgb::BLACK,
            CueEnd::Hold => {
                let last = &cue.segs[cue.segs.len() - 1];
                return segment_colour(last, zone, last.duration_ms());
            }
        }
    };
    // Last segment whose start <= t (segments are sorted by start).
    let i = cue
        .segs
        .partition_point(|s| s.start_ms() <= t)
        .saturating_sub(1);
    let seg = &cue.segs[i];
    segment_colour(seg, zone, t.saturating_sub(seg.start_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show() -> CompiledShow {
        crate::compile_str(
            r##"
title = "t"
zones = ["a", "b", "c"]
[[cue]]
name = "hold"
[[cue.segment]]
kind = "fade"
from = "#000000"
to = "#ff8040"
dur = 1000
[[cue]]
name = "loop"
end = "loop"
[[cue.segment]]
kind = "solid"
colour = "#010203"
dur = 100
[[cue.segment]]
kind = "chase"
colour = "#ffffff"
period = 300
soft = false
zones = ["c", "a"]
dur = 900
[[cue]]
name = "end"
end = "end"
[[cue.segment]]
kind = "solid"
colour = "#101010"
dur = 10
"##,
            "t.toml",
        )
        .unwrap()
    }

    #[test]
    fn lerp_truncates_toward_zero() {
        let (a, b) = (Rgb::new(0, 255, 10), Rgb::new(255, 0, 10));
        assert_eq!(lerp(a, b, 1, 3), Rgb::new(85, 170, 10));
        assert_eq!(lerp(a, b, 1, 1000), Rgb::new(0, 255, 10)); // 0.255 -> 0, 254.745 -> 255 - 0
        assert_eq!(lerp(a, b, 3, 3), b);
    }

    #[test]
    fn tri_and_square_levels() {
        assert_eq!(wave_level(0, 100, Shape::Tri), 0);
        assert_eq!(wave_level(25, 100, Shape::Tri), 500);
        assert_eq!(wave_level(50, 100, Shape::Tri), 1000);
        assert_eq!(wave_level(75, 100, Shape::Tri), 500);
        assert_eq!(wave_level(99, 100, Shape::Tri), 20);
        assert_eq!(wave_level(100, 100, Shape::Tri), 0);
        assert_eq!(wave_level(1, 3, Shape::Tri), 666);
        assert_eq!(wave_level(0, 1, Shape::Square), 1000);
        assert_eq!(wave_level(1, 1, Shape::Square), 0);
    }

    #[test]
    fn fade_and_hold_reach_the_end_colour() {
        let s = show();
        assert_eq!(colour_at(&s, 0, 0, 0), Rgb::BLACK);
        assert_eq!(colour_at(&s, 0, 0, 500), Rgb::new(127, 64, 32));
        assert_eq!(colour_at(&s, 0, 0, 999), Rgb::new(254, 127, 63));
        assert_eq!(colour_at(&s, 0, 0, 1000), Rgb::new(255, 128, 64));
        assert_eq!(colour_at(&s, 2, 0, u64::MAX), Rgb::new(255, 128, 64));
    }

    #[test]
    fn chase_sweeps_in_listed_order_and_loops() {
        let s = show();
        let white = Rgb::new(255, 255, 255);
        // Chase starts at 100 ms; c is position 0, a position 1 (offset 150), b not in it.
        assert_eq!(colour_at(&s, 2, 1, 100), white);
        assert_eq!(colour_at(&s, 0, 1, 100), Rgb::BLACK); // phase = -150 mod 300 = 150 >= w 150
        assert_eq!(colour_at(&s, 0, 1, 250), white);
        assert_eq!(colour_at(&s, 1, 1, 250), Rgb::BLACK);
        // Loop: 1000 ms wraps to 0 (the solid).
        assert_eq!(colour_at(&s, 0, 1, 1000), Rgb::new(1, 2, 3));
        assert_eq!(colour_at(&s, 2, 1, 1100), white);
    }

    #[test]
    fn ended_cue_is_black_and_bad_indices_are_black() {
        let s = show();
        assert_eq!(colour_at(&s, 0, 2, 9), Rgb::new(16, 16, 16));
        assert_eq!(colour_at(&s, 0, 2, 10), Rgb::BLACK);
        assert_eq!(colour_at(&s, 3, 0, 0), Rgb::BLACK);
        assert_eq!(colour_at(&s, 0, 3, 0), Rgb::BLACK);
    }
}
