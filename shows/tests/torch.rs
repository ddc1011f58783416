//! The camera torch as one more light (`torch = true` on a cue): compiled only when asked for,
//! on while the zone's colour is bright, and held to the WCAG flash limit like the screen.

use shows::compile_str;
use shows::eval::{TORCH_LEVEL, torch_at};

/// One looping strobe cue between two greys; `torch` sets the flag.
fn strobe(grey_off: u8, grey_on: u8, period: u64, torch: bool) -> String {
    let flag = if torch { "torch = true\n" } else { "" };
    format!(
        "title = \"strobe\"\nzones = [\"hall\"]\n[[cue]]\nname = \"s\"\nend = \"loop\"\n{flag}\
         [[cue.segment]]\nkind = \"strobe\"\ncolour = \"#{grey_on:02x}{grey_on:02x}{grey_on:02x}\"\n\
         base = \"#{grey_off:02x}{grey_off:02x}{grey_off:02x}\"\nperiod = {period}\ndur = 3000\n"
    )
}

#[test]
fn the_flag_compiles_only_when_set_and_keeps_other_shows_ids() {
    let without = compile_str(&strobe(0, 255, 1000, false), "t.toml").unwrap();
    assert!(!without.to_json().contains("torch"));
    let with = compile_str(&strobe(0, 255, 1000, true), "t.toml").unwrap();
    assert!(with.to_json().contains("\"torch\":true"));
    assert_ne!(with.id_hex(), without.id_hex());
    assert!(
        compile_str(
            &strobe(0, 255, 1000, false).replace("end = \"loop\"", "end = \"loop\"\ntorch = 1"),
            "t.toml"
        )
        .is_err()
    );
}

#[test]
fn the_torch_follows_the_brightness_of_the_zone_colour() {
    let show = compile_str(&strobe(0, 255, 1000, true), "t.toml").unwrap();
    assert!(torch_at(&show, 0, 0, 0), "strobe on");
    assert!(!torch_at(&show, 0, 0, 600), "strobe off");
    assert!(!torch_at(&show, 0, 1, 0), "no such cue");
    assert!(!torch_at(&show, 3, 0, 0), "no such zone");
    let plain = compile_str(&strobe(0, 255, 1000, false), "t.toml").unwrap();
    assert!(
        !torch_at(&plain, 0, 0, 0),
        "a cue without the flag never lights the torch"
    );
    let dim = compile_str(&strobe(0, TORCH_LEVEL - 1, 1000, true), "t.toml").unwrap();
    assert!(!torch_at(&dim, 0, 0, 0), "a dim colour leaves it off");
}

#[test]
fn torch_flashes_count_like_screen_flashes() {
    // Greys 120 ↔ 140 change luminance by 0.07: the screen never flashes, whatever the rate.
    assert!(compile_str(&strobe(120, 140, 250, false), "t.toml").is_ok());
    // But the torch switches on and off at each of them: 4 a second is too many.
    let err = compile_str(&strobe(120, 140, 250, true), "t.toml").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("torch flashes"), "{text}");
    // At 3 a second it passes.
    assert!(compile_str(&strobe(120, 140, 334, true), "t.toml").is_ok());
}
