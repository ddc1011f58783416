//! WCAG 2.3.1 threshold tests: shows just under and just over three flashes per second.

use shows::wcag::{self, FlashKind};
use shows::{ProblemKind, compile_str};

/// A looping cue: 2 s of `base`, then `secs` s of a strobe `colour`/`base` with `period` ms.
fn strobe_show(colour: &str, base: &str, period: u64, on: Option<u64>) -> String {
    let on = on.map(|on| format!("on = {on}\n")).unwrap_or_default();
    format!(
        "title = \"flash test\"\nzones = [\"left\", \"right\"]\n\
         [[cue]]\nname = \"calm\"\n[[cue.segment]]\nkind = \"solid\"\ncolour = \"#204060\"\ndur = 3000\n\
         [[cue]]\nname = \"flash\"\nend = \"loop\"\n\
         [[cue.segment]]\nkind = \"solid\"\ncolour = \"{base}\"\ndur = 2000\n\
         [[cue.segment]]\nkind = \"strobe\"\ncolour = \"{colour}\"\nbase = \"{base}\"\nperiod = {period}\n{on}dur = 3000\n"
    )
}

fn flash_problems(src: &str) -> Vec<shows::Problem> {
    match compile_str(src, "f.toml") {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().to_vec(),
    }
}

#[test]
fn three_flashes_per_second_pass() {
    // 334 ms period: at most 3 full flashes fit in any second.
    assert!(flash_problems(&strobe_show("white", "black", 334, None)).is_empty());
    // 333 ms: 7 changes can fit in one window = 3 flashes and a half: still three flashes.
    assert!(flash_problems(&strobe_show("white", "black", 333, None)).is_empty());
}

#[test]
fn four_flashes_per_second_fail_with_cue_zone_and_time() {
    let p = flash_problems(&strobe_show("white", "black", 250, None));
    assert_eq!(p.len(), 2, "{p:?}"); // one per zone
    for (problem, zone) in p.iter().zip(["left", "right"]) {
        assert_eq!(problem.kind, ProblemKind::Flash);
        assert_eq!(problem.cue.as_deref(), Some("flash"));
        assert_eq!(problem.zone.as_deref(), Some(zone));
        assert_eq!(problem.segment, Some(2));
        assert_eq!(problem.time_ms, Some(2000));
        let line = problem.to_string();
        assert!(
            line.starts_with("f.toml:17:8: cue 'flash' segment 2 zone"),
            "{line}"
        );
        assert!(
            line.contains("at 2.000 s: 4 general flashes within one second"),
            "{line}"
        );
    }
}

#[test]
fn small_luminance_changes_are_not_flashes() {
    // #000000 vs #595959 is a luminance change just under 0.1; #5a5a5a is just over.
    assert!(wcag::relative_luminance(shows::Rgb::new(0x59, 0x59, 0x59)) < 0.1);
    assert!(wcag::relative_luminance(shows::Rgb::new(0x5a, 0x5a, 0x5a)) >= 0.1);
    assert!(flash_problems(&strobe_show("#595959", "#000000", 100, None)).is_empty());
    assert!(!flash_problems(&strobe_show("#5a5a5a", "#000000", 100, None)).is_empty());
}

#[test]
fn bright_flicker_above_the_dark_limit_is_not_a_general_flash() {
    // Both states above L = 0.8: the darker state is not below 0.80.
    assert!(flash_problems(&strobe_show("#ffffff", "#eeeeee", 100, None)).is_empty());
}

#[test]
fn red_flashes_are_counted_separately() {
    // Saturated red against a green of equal luminance: no general flash, only red ones.
    let show = strobe_show("#ff0000", "#009400", 250, None);
    let p = flash_problems(&show);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].message.contains("4 red flashes"), "{p:?}");
    assert!(flash_problems(&strobe_show("#ff0000", "#009400", 334, None)).is_empty());
    // The same timing with an unsaturated red is fine.
    assert!(flash_problems(&strobe_show("#ff9090", "#c0c0c0", 250, None)).is_empty());
}

#[test]
fn loop_wrap_flashes_are_caught() {
    // Each pass alone holds 3 flashes, but the wrap adds a fourth inside one second.
    let src = "title = \"wrap\"\nzones = [\"z\"]\n[[cue]]\nname = \"w\"\nend = \"loop\"\n\
               [[cue.segment]]\nkind = \"strobe\"\ncolour = \"white\"\nperiod = 250\ndur = 750\n";
    let p = flash_problems(src);
    assert_eq!(p.len(), 1, "{p:?}");
    let v = wcag::check(&compile_str(&src.replace("period = 250", "period = 400"), "w").unwrap());
    assert!(v.is_empty());
}

#[test]
fn zigzag_counts_opposing_changes() {
    let s = [0.0, 0.0, 1.0, 1.0, 0.0, 0.05, 0.0, 1.0];
    let legs = wcag::legs(&s, 0.1, false);
    assert_eq!(legs, vec![(0, 2), (2, 4), (4, 7)]); // the 0.05 wiggle is not a change
    assert_eq!(
        wcag::first_failing_window(&[0, 100, 200, 300, 400, 500, 600]),
        None
    );
    assert_eq!(
        wcag::first_failing_window(&[0, 100, 200, 300, 400, 500, 600, 999]),
        Some((0, 4))
    );
    assert_eq!(
        wcag::first_failing_window(&[0, 100, 200, 300, 400, 500, 600, 1000]),
        None
    );
    // Checker used directly on a compiled show edited to strobe at 4 per second.
    let mut show = compile_str(&strobe_show("white", "black", 400, None), "x").unwrap();
    assert!(wcag::check(&show).is_empty());
    if let shows::Segment::Wave { p, w, .. } = &mut show.cues[1].segs[1] {
        (*p, *w) = (250, 125);
    }
    let v = wcag::check(&show);
    assert_eq!(v.len(), 2);
    assert!(
        v.iter()
            .all(|v| v.kind == FlashKind::General && v.cue == 1 && v.flashes == 4)
    );
}

#[test]
fn examples_pass() {
    for f in ["examples/intermission.toml", "examples/minimal.toml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
        shows::compile_file(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn long_cues_are_checked_without_sampling_every_millisecond() {
    let zones: Vec<String> = (0..64).map(|i| format!("\"z{i}\"")).collect();
    let show = |seg: &str| {
        format!(
            "title = \"long\"\nzones = [{}]\n[[cue]]\nname = \"day\"\nend = \"loop\"\n\
             [[cue.segment]]\nkind = \"fade\"\nfrom = \"black\"\nto = \"white\"\ndur = \"10h\"\n{seg}",
            zones.join(", ")
        )
        .replace("\"10h\"", "36000000")
    };
    let slow = show(
        "[[cue.segment]]\nkind = \"chase\"\ncolour = \"white\"\nperiod = \"2s\"\ndur = 50000000\n",
    );
    let compiled = compile_str(&slow, "long.toml").unwrap_or_else(|e| panic!("{e}"));
    let times = wcag::sample_times(&compiled.cues[0]);
    assert!(times.len() < 20_000, "{}", times.len());
    let fast = show(
        "[[cue.segment]]\nkind = \"strobe\"\ncolour = \"white\"\nperiod = 200\ndur = 50000000\n",
    );
    let p = flash_problems(&fast);
    assert_eq!(p.len(), 64);
    assert_eq!(p[0].time_ms, Some(36_000_000));
    assert_eq!(p[0].segment, Some(2));
}

/// A plain fade whose integer steps wobble across WCAG's saturated-red ratio (0.8) is no red
/// flash: the red value is ramped in below saturation, so it is continuous in the colour.
#[test]
fn a_fade_across_the_saturated_red_boundary_is_no_flash() {
    let src = "title = \"fade\"\nzones = [\"hall\"]\n[[cue]]\nname = \"up\"\nend = \"end\"\n\
               [[cue.segment]]\nkind = \"fade\"\nfrom = \"#000000\"\nto = \"#830c3d\"\ndur = 126\n\
               [[cue.segment]]\nkind = \"solid\"\ncolour = \"#830c3d\"\ndur = 2000\n";
    assert!(flash_problems(src).is_empty(), "{:?}", flash_problems(src));
    // A red strobe still counts exactly as before.
    assert!(!flash_problems(&strobe_show("#ff0000", "black", 200, None)).is_empty());
    assert!(!flash_problems(&strobe_show("#96001e", "black", 200, None)).is_empty());
}

/// The red value is WCAG's at and above saturation, 0 below 0.75, and never jumps by more than
/// the red threshold between two colours one step apart in each channel.
#[test]
fn the_red_value_is_continuous_and_never_below_wcag() {
    use shows::Rgb;
    let rgb = |r, g, b| Rgb { r, g, b };
    assert!((wcag::red_value(rgb(255, 0, 0)) - 320.0).abs() < 1e-9);
    assert_eq!(
        wcag::red_value(rgb(255, 150, 150)),
        0.0,
        "far from saturated"
    );
    let mut worst: f64 = 0.0;
    for r in (0..=255u8).step_by(3) {
        for g in (0..=80u8).step_by(2) {
            for b in (0..=80u8).step_by(2) {
                let v = wcag::red_value(rgb(r, g, b));
                let (lr, lg, lb) = (lin(r), lin(g), lin(b));
                let wcag_value = if lr / (lr + lg + lb) >= 0.8 {
                    ((lr - lg - lb) * 320.0).max(0.0)
                } else {
                    0.0
                };
                assert!(v >= wcag_value - 1e-9 || lr + lg + lb <= 0.0);
                for (dr, dg, db) in [(1, 0, 0), (0, 1, 0), (0, 0, 1)] {
                    let next = rgb(r.saturating_add(dr), g + dg, b + db);
                    worst = worst.max((wcag::red_value(next) - v).abs());
                }
            }
        }
    }
    assert!(worst < wcag::RED_THRESHOLD, "a one-step jump of {worst}");
}

fn lin(s: u8) -> f64 {
    let c = f64::from(s) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}
