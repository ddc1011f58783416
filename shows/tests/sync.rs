//! `sync = "relaxed"`: a show that lets every phone keep a looser clock (it loosens the page's
//! `/t` schedule, never the evaluation). Compiled only when relaxed, so other shows keep their
//! ids; anything but `tight` or `relaxed` is a located problem; a compiled show with another
//! value is refused.

use shows::{CompiledShow, ShowError, SyncMode, compile_str};

fn show(sync: &str) -> String {
    format!(
        "title = \"t\"\n{sync}zones = [\"hall\"]\n[[cue]]\nname = \"c\"\n\
         [[cue.segment]]\nkind = \"solid\"\ncolour = \"#102030\"\ndur = 1000\n"
    )
}

#[test]
fn compiled_only_when_relaxed_so_other_shows_keep_their_ids() {
    let without = compile_str(&show(""), "t.toml").unwrap();
    assert!(!without.to_json().contains("sync"));
    let tight = compile_str(&show("sync = \"tight\"\n"), "t.toml").unwrap();
    assert_eq!(tight, without);
    assert_eq!(tight.id_hex(), without.id_hex());
    let relaxed = compile_str(&show("sync = \"relaxed\"\n"), "t.toml").unwrap();
    assert_eq!(relaxed.sync, Some(SyncMode::Relaxed));
    assert!(relaxed.to_json().contains("\"sync\":\"relaxed\""));
    assert_ne!(relaxed.id_hex(), without.id_hex());
    // Same colours at every time: the setting is for the clock only.
    for t in [0, 500, 999, 5000] {
        assert_eq!(
            shows::eval::colour_at(&relaxed, 0, 0, t),
            shows::eval::colour_at(&without, 0, 0, t)
        );
    }
}

#[test]
fn anything_else_is_a_located_problem() {
    // A wrong word: the compiler names the choices; a wrong type: the TOML reader says what it
    // expected, at the value.
    for (bad, says) in [
        (
            "\"loose\"",
            "sync must be \"tight\" or \"relaxed\", not \"loose\"",
        ),
        ("\"Relaxed\"", "sync must be \"tight\" or \"relaxed\""),
        ("\"\"", "sync must be \"tight\" or \"relaxed\""),
        ("16", "expected a string"),
        ("true", "expected a string"),
    ] {
        let src = show(&format!("sync = {bad}\n"));
        match compile_str(&src, "t.toml") {
            Err(ShowError::Invalid(problems)) => {
                let text = problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n");
                assert!(
                    text.contains("t.toml:2:"),
                    "{bad}: located on line 2: {text}"
                );
                assert!(text.contains(says), "{bad}: {text}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn a_compiled_show_with_another_mode_is_refused() {
    let good = compile_str(&show("sync = \"relaxed\"\n"), "t.toml").unwrap();
    let json = good.to_json();
    assert_eq!(CompiledShow::from_json(&json).unwrap(), good);
    for bad in ["\"tight\"", "\"loose\"", "16", "null"] {
        let json = json.replace("\"sync\":\"relaxed\"", &format!("\"sync\":{bad}"));
        let parsed = CompiledShow::from_json(&json);
        // `null` reads as absent (tight), the canonical form of which has no key at all.
        if bad == "null" {
            assert_eq!(parsed.unwrap().sync, None);
        } else {
            assert!(parsed.is_err(), "{bad}");
        }
    }
}
