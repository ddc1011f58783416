//! `shows import`: a cue list becomes a show that `shows check` accepts and that shows, cue by
//! cue and zone by zone, what the list says (round trip: CSV meaning → TOML → compiled show →
//! evaluator); broken lists give every problem with file and line.

mod common;

use common::{dir, shows, text};

use proptest::prelude::*;
use shows::Rgb;
use shows::eval::colour_at;
use shows::import::{ImportOptions, import_csv};

/// What one row means, read back independently of the importer.
struct Expected {
    name: String,
    start_ms: Option<u64>,
    dur_ms: u64,
    colour: Rgb,
    zones: Option<Vec<String>>,
    fade_ms: u64,
}

/// Checks that `show` does what `rows` say: names, starts, lengths, and each zone's colour
/// after the fade (lit zones the cue's colour, the others black) and at the fade's midpoint.
fn assert_shows(show: &shows::CompiledShow, rows: &[Expected]) {
    assert_eq!(show.cues.len(), rows.len());
    let mut previous = Rgb::BLACK;
    for (c, row) in rows.iter().enumerate() {
        let cue = &show.cues[c];
        assert_eq!(cue.name, row.name);
        assert_eq!(cue.dur, row.dur_ms, "cue {}", row.name);
        assert_eq!(cue.at, row.start_ms, "cue {}", row.name);
        for (z, zone) in show.zones.iter().enumerate() {
            let lit = row.zones.as_ref().is_none_or(|l| l.contains(zone));
            let want = if lit { row.colour } else { Rgb::BLACK };
            let after_fade = [row.fade_ms, (row.fade_ms + row.dur_ms) / 2, row.dur_ms - 1];
            for t in after_fade
                .into_iter()
                .filter(|&t| t >= row.fade_ms && t < row.dur_ms)
            {
                assert_eq!(
                    colour_at(show, z, c, t),
                    want,
                    "cue {} zone {zone} t {t}",
                    row.name
                );
            }
            if row.fade_ms > 0 {
                assert_eq!(
                    colour_at(show, z, c, 0),
                    previous,
                    "fade start of {}",
                    row.name
                );
            }
        }
        previous = if row.zones.is_none() {
            row.colour
        } else {
            Rgb::BLACK
        };
    }
}

#[test]
fn the_example_cue_list_imports_into_a_valid_twenty_cue_show() {
    let out_dir = tempfile::tempdir().unwrap();
    let toml = out_dir.path().join("cuelist.toml");
    let out = shows(&[
        "import",
        "examples/cuelist.csv",
        "-o",
        toml.to_str().unwrap(),
        "--zones",
        "stalls-left,stalls-centre,stalls-right,circle,balcony",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("20 cues"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains("ignored columns: Notes"));
    let check = shows(&["check", toml.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));

    let written = std::fs::read_to_string(&toml).unwrap();
    assert!(
        written.contains("[[cue]]  # line 2, cue 1\nname = \"house\""),
        "the desk's cue number is kept beside the name:\n{written}"
    );
    let show = shows::compile_file(&toml).unwrap();
    assert_eq!(show.cues.len(), 20);
    // Spot checks against the CSV text itself.
    let red = show.cue_index("red-wave").unwrap();
    assert_eq!(show.cues[red].at, Some(97_000));
    assert_eq!(colour_at(&show, 0, red, 3000), Rgb::new(255, 0, 0));
    assert_eq!(colour_at(&show, 3, red, 3000), Rgb::BLACK);
    let out_cue = show.cue_index("out").unwrap();
    assert_eq!(show.cues[out_cue].end, shows::CueEnd::End);
    // Every row, read with the csv crate apart from the importer.
    let mut reader = csv::Reader::from_path(dir().join("examples/cuelist.csv")).unwrap();
    let rows: Vec<Expected> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let secs = |s: &str| -> u64 {
                let (m, s) = s.split_once(':').unwrap_or(("0", s));
                (m.parse::<u64>().unwrap() * 60_000) + (s.parse::<f64>().unwrap() * 1000.0) as u64
            };
            let zones: Vec<String> = r[5]
                .split([';', ','])
                .filter(|z| !z.is_empty())
                .map(String::from)
                .collect();
            let colour = match &r[4] {
                "amber" => Rgb::new(255, 176, 0),
                "warm" => Rgb::new(255, 140, 26),
                "cyan" => Rgb::new(0, 255, 255),
                "magenta" => Rgb::new(255, 0, 255),
                "white" => Rgb::new(255, 255, 255),
                "red" => Rgb::new(255, 0, 0),
                "black" => Rgb::BLACK,
                hex => Rgb::parse_hex(hex).unwrap(),
            };
            Expected {
                name: r[1].to_string(),
                start_ms: Some(secs(&r[2])),
                dur_ms: secs(&r[3]),
                colour,
                zones: (!zones.is_empty() && zones != ["all"]).then_some(zones),
                fade_ms: if r[6].is_empty() { 0 } else { secs(&r[6]) },
            }
        })
        .collect();
    assert_eq!(rows.len(), 20);
    assert_shows(&show, &rows);
}

#[test]
fn a_broken_cue_list_names_file_and_line_of_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("broken.csv");
    std::fs::write(
        &csv,
        "cue,duration,colour,zones,fade\n\
         intro,5,#ff0000,,1\n\
         intro,5,#00ff00,,\n\
         blue,abc,#0000ff,,\n\
         teal,4,tealish,,\n\
         split,4,#ffffff,left;right,2\n\
         bad name!,3,#000000,,\n\
         long-fade,2,#ffffff,,3\n\
         too,many,fields,here,1,2\n",
    )
    .unwrap();
    let out_file = dir.path().join("out.toml");
    let out = shows(&[
        "import",
        csv.to_str().unwrap(),
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!out_file.exists(), "nothing written for a broken list");
    let stderr = text(&out.stderr);
    let name = csv.display().to_string();
    for (line, needle) in [
        (3, "column 'cue': cue 'intro' is listed twice"),
        (4, "column 'duration': 'abc' is not a time"),
        (5, "column 'colour': 'tealish' is not a colour"),
        (6, "column 'fade': a fade lights every zone"),
        (7, "column 'cue': cue name 'bad name!'"),
        (8, "column 'fade': fade 3s is longer than the cue (2s)"),
        (9, "6 fields but the header has 5"),
    ] {
        let want = format!("{name}:{line}: {needle}");
        assert!(stderr.contains(&want), "missing «{want}» in:\n{stderr}");
    }
    assert_eq!(stderr.lines().count(), 7, "{stderr}");
}

#[test]
fn missing_columns_and_unordered_starts_are_located() {
    let opts = ImportOptions {
        title: "t".into(),
        zones: None,
    };
    let err = import_csv("cue,zones\na,\n", "x.csv", &opts).unwrap_err();
    let lines: Vec<String> = err.iter().map(ToString::to_string).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("x.csv:1: no 'colour' column")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("x.csv:1: no 'duration' or 'start' column"))
    );

    let err = import_csv(
        "cue,start,colour\na,0:10,red\nb,0:05,blue\nc,0:20,white\n",
        "x.csv",
        &opts,
    )
    .unwrap_err();
    let lines: Vec<String> = err.iter().map(ToString::to_string).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("x.csv:3: column 'start': starts at 5s")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("x.csv:4: column 'duration': no duration")),
        "{lines:?}"
    );

    // Zones named by the list but not in --zones.
    let err = import_csv(
        "cue,duration,colour,zones\na,1,red,left\n",
        "z.csv",
        &ImportOptions {
            title: "t".into(),
            zones: Some(vec!["right".into()]),
        },
    )
    .unwrap_err();
    assert!(
        err[0]
            .to_string()
            .starts_with("z.csv:2: column 'zones': zone 'left' is not in --zones")
    );
}

#[test]
fn durations_come_from_the_next_start_and_header_aliases_work() {
    let csv = "\u{feff}Q,Label,Start Time,Color,Zone,Fade In,End\n\
               1,open,0,#102030,,0.5,\n\
               2,,1:00,white,circle,,loop\n\
               3,,1:30.5,black,,,end\n\
               ,,,,,,\n";
    let opts = ImportOptions {
        title: "Aliases".into(),
        zones: None,
    };
    let err = import_csv(csv, "a.csv", &opts).unwrap_err();
    // The last cue has neither a duration nor a next start.
    assert_eq!(err.len(), 1, "{err:?}");
    assert_eq!(err[0].line, 4);
    let csv = csv.replace(
        "3,,1:30.5,black,,,end",
        "3,,1:30.5,black,,,end\n4,,1:35,red,,,",
    );
    let csv = csv
        .replacen("Fade In,End", "Fade In,End,Duration", 1)
        .replace("1:35,red,,,", "1:35,red,,,,2");
    let imported = import_csv(&csv, "a.csv", &opts).unwrap();
    let show = shows::compile_str(&imported.toml, "a.toml").unwrap();
    assert_eq!(show.zones, ["circle"]);
    assert_eq!(show.cue_names(), ["open", "2", "3", "4"]);
    assert_shows(
        &show,
        &[
            Expected {
                name: "open".into(),
                start_ms: Some(0),
                dur_ms: 60_000,
                colour: Rgb::new(0x10, 0x20, 0x30),
                zones: None,
                fade_ms: 500,
            },
            Expected {
                name: "2".into(),
                start_ms: Some(60_000),
                dur_ms: 30_500,
                colour: Rgb::new(255, 255, 255),
                zones: Some(vec!["circle".into()]),
                fade_ms: 0,
            },
            Expected {
                name: "3".into(),
                start_ms: Some(90_500),
                dur_ms: 4_500,
                colour: Rgb::BLACK,
                zones: None,
                fade_ms: 0,
            },
            Expected {
                name: "4".into(),
                start_ms: Some(95_000),
                dur_ms: 2_000,
                colour: Rgb::new(255, 0, 0),
                zones: None,
                fade_ms: 0,
            },
        ],
    );
    assert_eq!(show.cues[1].end, shows::CueEnd::Loop);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any well-formed cue list imports into a show that compiles (WCAG included) and shows,
    /// zone by zone, what each row says.
    #[test]
    fn any_cue_list_round_trips(rows in prop::collection::vec(
        (100u64..20_000, any::<[u8; 3]>(), prop::option::of(prop::collection::btree_set(0usize..4, 1..4)), 0u64..3000),
        1..12,
    )) {
        let zones = ["a", "b", "c", "d"];
        let mut csv = String::from("cue,start,duration,colour,zones,fade\n");
        let mut expected = Vec::new();
        let mut start = 0;
        for (i, (dur, rgb, lit, fade)) in rows.iter().enumerate() {
            let colour = Rgb::new(rgb[0], rgb[1], rgb[2]);
            let lit: Option<Vec<String>> = lit.as_ref().map(|s| s.iter().map(|&z| zones[z].to_string()).collect());
            let fade = if lit.is_some() { 0 } else { fade % dur };
            csv += &format!(
                "c{i},{}.{:03},{}.{:03},{},\"{}\",{}.{:03}\n",
                start / 1000, start % 1000, dur / 1000, dur % 1000, colour.to_hex().to_uppercase(),
                lit.as_ref().map_or(String::new(), |l| l.join(",")), fade / 1000, fade % 1000,
            );
            expected.push(Expected { name: format!("c{i}"), start_ms: Some(start), dur_ms: *dur, colour, zones: lit, fade_ms: fade });
            start += dur;
        }
        let opts = ImportOptions { title: "p".into(), zones: Some(zones.iter().map(|z| z.to_string()).collect()) };
        match import_csv(&csv, "p.csv", &opts) {
            Ok(imported) => {
                let show = shows::compile_str(&imported.toml, "p.toml");
                prop_assert!(show.is_ok(), "{:?}\n{}", show.err(), imported.toml);
                assert_shows(&show.unwrap(), &expected);
            }
            // The one refusal a well-formed list can meet: a fade whose integer steps flicker
            // across the WCAG saturated-red line, put on the row's line.
            Err(problems) => {
                for p in &problems {
                    prop_assert!(p.message.contains("flashes within one second"), "{p}");
                    prop_assert!(p.line >= 2, "{p}");
                }
            }
        }
    }
}
