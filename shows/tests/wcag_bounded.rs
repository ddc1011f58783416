//! The flash check is bounded: a day-long show is checked by colour changes, not by
//! millisecond samples, and gives exactly the reference (every-millisecond) answer.

use std::process::Command;

use proptest::prelude::*;
use shows::model::MAX_DURATION_MS;
use shows::wcag;
use shows::{CompiledShow, Cue, CueEnd, Rgb, Segment, Shape, compile_str};

/// A show of `zones` zones with one 24-hour segment (`kind` and its keys).
fn day_show(zones: usize, segment: &str) -> String {
    let zones: Vec<String> = (0..zones).map(|i| format!("\"z{i}\"")).collect();
    format!(
        "title = \"day\"\nzones = [{}]\n[[cue]]\nname = \"day\"\nend = \"loop\"\n\
         [[cue.segment]]\n{segment}\ndur = \"1440min\"\n",
        zones.join(", ")
    )
}

const DAY_PULSE: &str = "kind = \"pulse\"\ncolour = \"white\"\nperiod = \"1440min\"";
const DAY_CHASE: &str = "kind = \"chase\"\ncolour = \"#ff0000\"\nperiod = \"720min\"";

#[test]
fn day_long_pulse_and_chase_on_64_zones_compile() {
    for seg in [DAY_PULSE, DAY_CHASE] {
        let show = compile_str(&day_show(64, seg), "day.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(show.cues[0].dur, MAX_DURATION_MS);
        assert!(wcag::check(&show).is_empty());
    }
}

#[test]
fn day_long_show_is_checked_under_a_one_gib_address_space_limit() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("day.toml");
    std::fs::write(&file, day_show(64, DAY_PULSE)).unwrap();
    // `ulimit -v` caps the address space of the child only (in KiB).
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" check \"$1\"")
        .arg(env!("CARGO_BIN_EXE_shows"))
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(": ok"), "{stdout}");
}

#[test]
fn a_fast_strobe_at_the_end_of_a_day_is_still_found() {
    let src = day_show(2, DAY_PULSE).replace("end = \"loop\"\n", "")
        + "[[cue.segment]]\nkind = \"strobe\"\ncolour = \"white\"\nperiod = 200\ndur = 3000\n";
    let src = src.replace("dur = \"1440min\"", "dur = \"1430min\"");
    let e = compile_str(&src, "d.toml").unwrap_err();
    let p = e.problems();
    assert_eq!(p.len(), 2, "{e}");
    assert_eq!(p[0].time_ms, Some(1430 * 60_000));
    assert_eq!(p[0].segment, Some(2));
}

#[test]
fn a_passed_deadline_refuses_the_show_with_a_clear_error() {
    let src = day_show(64, DAY_CHASE);
    let past = std::time::Instant::now();
    let e = shows::compile_str_within(&src, "day.toml", Some(past)).unwrap_err();
    assert!(matches!(e, shows::ShowError::OverBudget { .. }), "{e}");
    assert!(e.to_string().contains("time budget"), "{e}");
}

#[test]
fn oversized_sources_and_too_many_cues_are_refused() {
    let big = format!(
        "# {}\n{}",
        "x".repeat(shows::compile::MAX_SOURCE_BYTES),
        day_show(1, DAY_PULSE)
    );
    let e = compile_str(&big, "big.toml").unwrap_err();
    assert!(e.to_string().contains("at most 1048576"), "{e}");
    let mut many = "title = \"m\"\nzones = [\"a\"]\n".to_string();
    for i in 0..=shows::compile::MAX_CUES {
        many += &format!(
            "[[cue]]\nname = \"c{i}\"\n[[cue.segment]]\nkind = \"solid\"\ncolour = \"white\"\ndur = 10\n"
        );
    }
    let e = compile_str(&many, "many.toml").unwrap_err();
    assert!(e.to_string().contains("at most 1000 cues"), "{e}");
}

fn colour() -> impl Strategy<Value = Rgb> {
    // A few levels per channel make flashes (and non-flashes) likely.
    let ch = prop_oneof![Just(0u8), Just(40), Just(90), Just(200), Just(255)];
    (ch.clone(), ch.clone(), ch).prop_map(|(r, g, b)| Rgb::new(r, g, b))
}

/// Segment kinds with their (unplaced) parameters: duration first.
fn segment(zones: usize) -> impl Strategy<Value = Segment> {
    let solid = (1u64..3000, colour()).prop_map(|(d, c)| Segment::Solid { t: 0, d, c });
    let fade =
        (1u64..6000, colour(), colour()).prop_map(|(d, a, b)| Segment::Fade { t: 0, d, a, b });
    let wave = (
        1u64..9000,
        colour(),
        colour(),
        1u64..700,
        0u64..=1000,
        any::<bool>(),
        0u64..300,
        proptest::collection::vec(-1i64..zones as i64, zones),
    )
        .prop_map(|(d, a, b, p, wf, tri, off, pos)| Segment::Wave {
            t: 0,
            d,
            a,
            b,
            p,
            w: (p * wf / 1000).clamp(1, p),
            shape: if tri { Shape::Tri } else { Shape::Square },
            off,
            pos,
        });
    prop_oneof![solid, fade, wave]
}

fn show() -> impl Strategy<Value = CompiledShow> {
    (1usize..4).prop_flat_map(|zones| {
        let cue = (
            proptest::collection::vec(segment(zones), 1..4),
            prop_oneof![Just(CueEnd::Hold), Just(CueEnd::Loop), Just(CueEnd::End)],
        )
            .prop_map(|(mut segs, end)| {
                let mut t = 0;
                for s in &mut segs {
                    match s {
                        Segment::Solid { t: st, d, .. }
                        | Segment::Fade { t: st, d, .. }
                        | Segment::Wave { t: st, d, .. } => {
                            *st = t;
                            t += *d;
                        }
                    }
                }
                Cue {
                    name: "c".into(),
                    end,
                    dur: t,
                    at: None,
                    torch: false,
                    segs,
                }
            });
        proptest::collection::vec(cue, 1..3).prop_map(move |cues| CompiledShow {
            format: 1,
            title: "p".into(),
            bpm: None,
            sync: None,
            zones: (0..zones).map(|z| format!("z{z}")).collect(),
            cues,
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn bounded_check_equals_the_millisecond_reference(show in show()) {
        prop_assert_eq!(wcag::check(&show), wcag::check_reference(&show));
    }
}
