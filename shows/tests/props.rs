//! Property tests: the evaluator never panics and honours the end rules for any time; the
//! parser, compiler and compiled-JSON reader never panic on arbitrary input.

use proptest::prelude::*;
use shows::{CompiledShow, CueEnd, compile_file, compile_str};

fn load(path: &str) -> CompiledShow {
    compile_file(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// The two shows compiled once (compiling runs the WCAG check, which is not free).
fn shows_once() -> &'static [CompiledShow; 2] {
    static SHOWS: std::sync::OnceLock<[CompiledShow; 2]> = std::sync::OnceLock::new();
    SHOWS.get_or_init(|| {
        [
            load("examples/intermission.toml"),
            load("vectors/edges.toml"),
        ]
    })
}

fn source(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

proptest! {
    #[test]
    fn evaluator_total_and_end_rules_hold(zone in 0usize..8, cue in 0usize..8, t in any::<u64>()) {
        for show in shows_once() {
            let c = shows::eval::colour_at(show, zone, cue, t);
            if zone >= show.zones.len() || cue >= show.cues.len() {
                prop_assert_eq!(c, shows::Rgb::BLACK);
                continue;
            }
            let dur = show.cue_duration_ms(cue);
            match show.cue_end(cue) {
                CueEnd::Loop => prop_assert_eq!(c, shows::eval::colour_at(show, zone, cue, t % dur)),
                CueEnd::Hold if t >= dur => prop_assert_eq!(c, shows::eval::colour_at(show, zone, cue, dur)),
                CueEnd::End if t >= dur => prop_assert_eq!(c, shows::Rgb::BLACK),
                _ => {}
            }
        }
    }

    #[test]
    fn parser_never_panics_on_arbitrary_text(text in ".{0,400}") {
        let _ = compile_str(&text, "any.toml");
    }

    #[test]
    fn compiled_reader_never_panics(text in ".{0,400}") {
        let _ = CompiledShow::from_json(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Deleting or replacing a slice of a valid show never panics; any error is located inside it.
    #[test]
    fn mutated_shows_never_panic(which in 0usize..2, start in 0usize..2000, len in 0usize..40, insert in "[a-z0-9\"#=\\[\\] \n.-]{0,8}") {
        let base = source(["examples/minimal.toml", "vectors/edges.toml"][which]);
        let mut start = start.min(base.len());
        while !base.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(base.len());
        while !base.is_char_boundary(end) { end -= 1; }
        let text = format!("{}{}{}", &base[..start], insert, &base[end..]);
        match compile_str(&text, "m.toml") {
            Ok(show) => {
                let back = CompiledShow::from_json(&show.to_json()).unwrap();
                prop_assert_eq!(back, show);
            }
            Err(e) => {
                let lines = text.lines().count().max(1) + 1;
                for p in e.problems() {
                    prop_assert!(p.line >= 1 && p.line <= lines, "{}", p);
                    prop_assert!(p.to_string().starts_with("m.toml:"));
                }
            }
        }
    }

    /// Compiled JSON with one number changed is either rejected or evaluates without panic.
    #[test]
    fn mutated_compiled_json_never_panics(pos in 0usize..3000, digit in 0u8..10, t in any::<u64>()) {
        let json = shows_once()[1].to_json();
        let mut bytes = json.into_bytes();
        let i = pos % bytes.len();
        if bytes[i].is_ascii_digit() {
            bytes[i] = b'0' + digit;
        }
        if let Ok(show) = CompiledShow::from_json(&String::from_utf8(bytes).unwrap()) {
            for cue in 0..show.cues.len() {
                for zone in 0..show.zones.len() {
                    let _ = shows::eval::colour_at(&show, zone, cue, t);
                }
            }
        }
    }
}

proptest! {
    /// Even a hand-built (unchecked) compiled show never makes the evaluator panic.
    #[test]
    fn evaluator_never_panics_on_unchecked_shows(
        p in any::<u64>(), w in any::<u64>(), off in any::<u64>(), pos in any::<i64>(),
        d in any::<u64>(), start in any::<u64>(), dur in any::<u64>(), t in any::<u64>(), end in 0u8..3,
    ) {
        use shows::{Cue, Rgb, Segment, Shape};
        let segs = vec![
            Segment::Fade { t: 0, d, a: Rgb::new(1, 2, 3), b: Rgb::new(250, 0, 9) },
            Segment::Wave { t: start, d, a: Rgb::BLACK, b: Rgb::new(255, 255, 255), p, w, shape: Shape::Tri, off, pos: vec![pos, -1] },
        ];
        let end = [CueEnd::Hold, CueEnd::Loop, CueEnd::End][end as usize];
        let show = CompiledShow {
            format: 1,
            title: "x".into(),
            bpm: None,
            sync: None,
            zones: vec!["a".into(), "b".into()],
            cues: vec![Cue { name: "c".into(), end, dur, at: None, torch: false, segs }],
        };
        for zone in 0..3 {
            let _ = shows::eval::colour_at(&show, zone, 0, t);
        }
    }
}
