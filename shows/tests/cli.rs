//! Drives the `shows` binary: exit codes (0 ok, 1 invalid, 2 usage/IO), located messages,
//! compile output, preview PNG and eval.

mod common;

use std::path::Path;
use std::process::Command;

use common::{dir, shows, text};

#[test]
fn check_accepts_the_examples() {
    let out = shows(&[
        "check",
        "examples/intermission.toml",
        "examples/minimal.toml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("examples/intermission.toml: ok"),
        "{stdout}"
    );
    assert!(stdout.contains("examples/minimal.toml: ok"), "{stdout}");
}

#[test]
fn check_reports_every_problem_located() {
    let out = shows(&["check", "tests/bad/problems.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let want = [
        "tests/bad/problems.toml:7:8: colour 'cold' must be \"#rrggbb\", not 'blue'",
        "tests/bad/problems.toml:19:10: cue 'intro' segment 2: unknown colour 'purple'",
        "tests/bad/problems.toml:26:18: cue 'intro' segment 3: unknown zone 'upstairs'",
        "tests/bad/problems.toml:27:7: cue 'intro' segment 3: dur must be longer than 0 ms",
        "tests/bad/problems.toml:30:8: cue 'intro': duplicate cue name",
        "tests/bad/problems.toml:31:7: cue 'intro': end must be",
        "tests/bad/problems.toml:34:8: cue 'intro' segment 1: a fade segment needs 'to'",
        "tests/bad/problems.toml:36:7: cue 'intro' segment 1: dur: '4beats' is in beats but the show has no bpm",
    ];
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), want.len(), "{err}");
    for (line, want) in lines.iter().zip(want) {
        assert!(line.starts_with(want), "{line}\n  expected {want}");
    }
}

#[test]
fn check_locates_schema_syntax_time_and_flash_errors() {
    let cases = [
        (
            "tests/bad/unknown_key.toml",
            "tests/bad/unknown_key.toml:14:1: cue 'only' segment 2: unknown field `colur`",
        ),
        ("tests/bad/syntax.toml", "tests/bad/syntax.toml:1:"),
        (
            "tests/bad/overlap.toml",
            "tests/bad/overlap.toml:15:6: cue 'second': starts at 5000 ms, overlapping cue 'first'",
        ),
        (
            "tests/bad/fast_strobe.toml",
            "tests/bad/fast_strobe.toml:10:10: cue 'buzz' segment 1: period 50 ms",
        ),
        (
            "tests/bad/flashing.toml",
            "tests/bad/flashing.toml:23:8: cue 'strobe' segment 2 zone 'stalls' at 2.000 s: 4 general flashes",
        ),
        (
            "tests/bad/red_flash.toml",
            "tests/bad/red_flash.toml:10:8: cue 'red' segment 1 zone 'hall' at 0.125 s: 4 red flashes",
        ),
    ];
    for (file, want) in cases {
        let out = shows(&["check", file]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let err = text(&out.stderr);
        assert!(
            err.lines().next().unwrap_or("").starts_with(want),
            "{file}: {err}"
        );
    }
    let out = shows(&["check", "tests/bad/overlap.toml"]);
    assert!(
        text(&out.stderr)
            .contains("overlap.toml:24:6: cue 'third': starts at 1000 ms, not after cue 'second'")
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(
        shows(&["check", "no/such/file.toml"]).status.code(),
        Some(2)
    );
    assert_eq!(shows(&["check"]).status.code(), Some(2));
    assert_eq!(shows(&["frobnicate"]).status.code(), Some(2));
    // An IO error outranks an invalid show in a mixed run.
    let out = shows(&[
        "check",
        "examples/minimal.toml",
        "tests/bad/syntax.toml",
        "missing.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = shows(&[
        "eval",
        "examples/minimal.toml",
        "--cue",
        "nope",
        "--zone",
        "hall",
        "--t",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown cue 'nope' (cues: glow)"));
    let out = shows(&[
        "eval",
        "examples/minimal.toml",
        "--cue",
        "glow",
        "--zone",
        "attic",
        "--t",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_command_has_help() {
    for cmd in [
        vec!["--help"],
        vec!["check", "--help"],
        vec!["compile", "--help"],
        vec!["preview", "--help"],
        vec!["eval", "--help"],
    ] {
        let out = shows(&cmd);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{cmd:?}");
    }
}

#[test]
fn compile_writes_canonical_json_named_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let source = dir().join("examples/intermission.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_shows"))
        .args(["compile", source.to_str().unwrap()])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let show = shows::compile_file(&source).unwrap();
    let name = format!("{}.json", show.id_hex());
    assert_eq!(text(&out.stdout).trim(), name);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join(&name)).unwrap(),
        show.to_json()
    );

    let explicit = tmp.path().join("out.json");
    let out = shows(&[
        "compile",
        "examples/minimal.toml",
        "-o",
        explicit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let json = std::fs::read_to_string(&explicit).unwrap();
    assert!(json.starts_with("{\"format\":1,\"title\":\"Minimal\""));

    let out = shows(&["compile", "examples/minimal.toml", "-o", "-"]);
    assert_eq!(text(&out.stdout), json);
    assert_eq!(
        shows(&["compile", "tests/bad/problems.toml", "-o", "-"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn eval_prints_hex_colours_from_source_or_compiled_json() {
    let out = shows(&[
        "eval",
        "examples/minimal.toml",
        "--cue",
        "glow",
        "--zone",
        "hall",
        "--t",
        "3000",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "#ffb000\n");
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("show.json");
    assert_eq!(
        shows(&[
            "compile",
            "examples/intermission.toml",
            "-o",
            json.to_str().unwrap()
        ])
        .status
        .code(),
        Some(0)
    );
    let show = shows::compile_file(&dir().join("examples/intermission.toml")).unwrap();
    for (zone, t) in [
        ("circle", 0u64),
        ("balcony", 12_345),
        ("stalls-left", 99_999_999),
    ] {
        let want = shows::eval::colour_at(
            &show,
            show.zone_index(zone).unwrap(),
            show.cue_index("chase").unwrap(),
            t,
        );
        let t = t.to_string();
        for file in ["examples/intermission.toml", json.to_str().unwrap()] {
            let out = shows(&["eval", file, "--cue", "chase", "--zone", zone, "--t", &t]);
            assert_eq!(text(&out.stdout).trim(), want.to_hex(), "{file} {zone} {t}");
        }
    }
}

#[test]
fn preview_writes_a_png_with_one_band_per_zone() {
    let tmp = tempfile::tempdir().unwrap();
    let png_path = tmp.path().join("chase.png");
    let out = shows(&[
        "preview",
        "examples/intermission.toml",
        "--cue",
        "chase",
        "-o",
        png_path.to_str().unwrap(),
        "--width",
        "600",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let decoder = png::Decoder::new(std::fs::File::open(&png_path).unwrap());
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!(info.width, 600);
    let zones = 5;
    assert_eq!(info.height, shows::preview::expected_height(zones, 40));
    assert!(Path::new(&png_path).metadata().unwrap().len() > 1000);
    let out = shows(&[
        "preview",
        "examples/intermission.toml",
        "--cue",
        "nope",
        "-o",
        png_path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cues_lists_names_in_order() {
    let out = shows(&["cues", "examples/intermission.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "countdown\nwash\nchase\nbeat\nfinale\nblackout\n",
        "one cue name per line, in show order"
    );
}

#[test]
fn cues_long_and_json_agree_with_the_compiled_show() {
    let long = shows(&["cues", "--long", "examples/intermission.toml"]);
    assert_eq!(long.status.code(), Some(0), "{}", text(&long.stderr));
    let json = shows(&["cues", "--json", "examples/intermission.toml"]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).expect("JSON array");
    let compiled = shows::compile_file(&dir().join("examples/intermission.toml")).expect("valid");
    let long_text = text(&long.stdout);
    let lines: Vec<&str> = long_text.lines().collect();
    assert_eq!(lines.len(), compiled.cues.len());
    assert_eq!(list.len(), compiled.cues.len());
    for ((line, item), cue) in lines.iter().zip(&list).zip(&compiled.cues) {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields[0], cue.name);
        assert_eq!(fields[1], cue.dur.to_string());
        assert_eq!(item["name"], cue.name.as_str());
        assert_eq!(item["dur"], cue.dur);
        assert_eq!(item["end"], fields[2]);
        assert!(["hold", "loop", "end"].contains(&fields[2]), "{line}");
    }
}

#[test]
fn cues_refuses_an_invalid_show() {
    let out = shows(&["cues", "tests/bad/problems.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let missing = shows(&["cues", "no/such/show.toml"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn check_locates_layout_problems() {
    let out = shows(&["check", "tests/bad/layout.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for want in [
        "tests/bad/layout.toml:11:1: zone 'back' has no place in the layout",
        "tests/bad/layout.toml:21:11: zones 'left' and 'right' overlap in the layout",
        "tests/bad/layout.toml:25:9: zone 'upper' is empty: its block has no seats",
        "tests/bad/layout.toml:28:8: unknown zone 'gallery' in the layout",
        "tests/bad/layout.toml:32:8: zone 'left' is placed twice in the layout",
        "tests/bad/layout.toml:37:11: zone 'aisle' is empty: its polygon has no area",
    ] {
        assert!(stderr.contains(want), "missing «{want}» in:\n{stderr}");
    }
    assert_eq!(stderr.lines().count(), 6, "{stderr}");
}

#[test]
fn a_layout_is_no_part_of_the_compiled_show() {
    // The example carries a layout; without it, the compiled bytes (and so the id) are the same.
    let source = std::fs::read_to_string(dir().join("examples/intermission.toml")).unwrap();
    let without = &source[..source.find("\n[layout]").expect("the example has a layout")];
    let with = shows::compile_str(&source, "a.toml").unwrap();
    let bare = shows::compile_str(without, "b.toml").unwrap();
    assert_eq!(with.to_json(), bare.to_json());
    let authoring = shows::compile_for_authoring(&source, "a.toml", None).unwrap();
    let layout = authoring.layout.expect("layout");
    assert_eq!(layout.zones.len(), with.zones.len());
    assert!(
        shows::compile_for_authoring(without, "b.toml", None)
            .unwrap()
            .layout
            .is_none()
    );
}

#[test]
fn watch_checks_again_on_every_save() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.toml");
    let out = dir.path().join("w.json");
    let good = std::fs::read_to_string(self::dir().join("examples/minimal.toml")).unwrap();
    std::fs::write(&file, &good).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shows"))
        .args(["watch", file.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains(": ok: 'Minimal'"), "{first}");
    assert!(out.exists());
    std::fs::write(
        &file,
        good.replace("title = \"Minimal\"", "title = \"Minimal\"\nshade = 1"),
    )
    .unwrap();
    let second = lines.next().unwrap().unwrap();
    assert!(second.ends_with("1 problem(s)"), "{second}");
    std::fs::write(
        &file,
        good.replace("title = \"Minimal\"", "title = \"Again\""),
    )
    .unwrap();
    let third = lines.next().unwrap().unwrap();
    assert!(third.contains(": ok: 'Again'"), "{third}");
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("w.toml:3:1: unknown field `shade`"),
        "{stderr}"
    );
}
