//! `shows import`: a plain cue list (CSV with a header row, the shape a QLab or desk cue list
//! exports to) becomes show source TOML. Every row is one cue; every problem is collected and
//! located by CSV line (and column name), so a broken list is fixed in one pass.
//!
//! The columns and how each row becomes segments are documented in `shows/FORMAT.md` §7. In
//! short: a cue lighting every zone is a `fade` (from the previous cue's colour, when `fade` > 0)
//! then a `solid`; a cue lighting some zones is a hard `chase` over those zones whose lit window
//! is the whole period (the one segment kind of format 1 that lights zones apart), so the zones
//! not listed are black.

use std::collections::HashSet;
use std::fmt;

use crate::compile::{MAX_CUES, MAX_NAME_LEN, MAX_ZONES, MIN_PERIOD_MS, parse_duration};
use crate::model::{MAX_DURATION_MS, Rgb};

/// One located problem in a cue list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvProblem {
    /// File name as given.
    pub file: String,
    /// 1-based line of the CSV file.
    pub line: u64,
    /// The column the problem is in, when it is about one field.
    pub column: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CsvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(c) = self.column {
            write!(f, "column '{c}': ")?;
        }
        f.write_str(&self.message)
    }
}

/// Settings of one import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Show title (default: the caller's choice, e.g. the file stem).
    pub title: String,
    /// Zones in sweep order; `None`: the zones the list names, in order of first use
    /// (`["hall"]` when it names none).
    pub zones: Option<Vec<String>>,
}

/// What an import produced.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The show source (TOML).
    pub toml: String,
    /// Columns of the header that were not used (a desk export carries many).
    pub ignored_columns: Vec<String>,
    /// Number of cues.
    pub cues: usize,
}

/// The columns this importer reads, each with the header names it accepts (case-insensitive).
const COLUMNS: [(&str, &[&str]); 8] = [
    ("cue", &["cue", "q", "number", "cue number"]),
    ("name", &["name", "label", "cue name"]),
    ("start", &["start", "at", "start time"]),
    ("duration", &["duration", "dur", "length"]),
    ("colour", &["colour", "color"]),
    ("zones", &["zones", "zone"]),
    ("fade", &["fade", "fade in", "fade time"]),
    ("end", &["end"]),
];
const CUE: usize = 0;
const NAME: usize = 1;
const START: usize = 2;
const DURATION: usize = 3;
const COLOUR: usize = 4;
const ZONES: usize = 5;
const FADE: usize = 6;
const END: usize = 7;

/// Colour names a cue list may use besides `#rrggbb` (lower case).
const NAMED_COLOURS: [(&str, Rgb); 14] = [
    ("black", Rgb::new(0, 0, 0)),
    ("white", Rgb::new(255, 255, 255)),
    ("red", Rgb::new(255, 0, 0)),
    ("green", Rgb::new(0, 255, 0)),
    ("blue", Rgb::new(0, 0, 255)),
    ("amber", Rgb::new(255, 176, 0)),
    ("orange", Rgb::new(255, 128, 0)),
    ("yellow", Rgb::new(255, 255, 0)),
    ("cyan", Rgb::new(0, 255, 255)),
    ("magenta", Rgb::new(255, 0, 255)),
    ("purple", Rgb::new(128, 0, 255)),
    ("pink", Rgb::new(255, 105, 180)),
    ("warm", Rgb::new(255, 140, 26)),
    ("cold", Rgb::new(200, 236, 255)),
];

/// The problems found so far.
struct Found<'a> {
    file: &'a str,
    problems: Vec<CsvProblem>,
}

impl Found<'_> {
    fn add(&mut self, line: u64, column: Option<&'static str>, message: String) {
        self.problems.push(CsvProblem {
            file: self.file.to_string(),
            line,
            column,
            message,
        });
    }
}

/// A cue list row, checked.
struct Row {
    line: u64,
    name: String,
    /// The desk's cue number, when a name was given beside it (kept as a comment).
    number: Option<String>,
    start: Option<u64>,
    duration: Option<u64>,
    /// A duration was written (if `duration` is `None`, it was reported as wrong).
    duration_given: bool,
    colour: Rgb,
    /// `None`: every zone.
    zones: Option<Vec<String>>,
    fade: u64,
    end: &'static str,
}

/// Converts a cue list to show source. `file` only locates problems.
pub fn import_csv(
    text: &str,
    file: &str,
    options: &ImportOptions,
) -> Result<Imported, Vec<CsvProblem>> {
    let mut found = Found {
        file,
        problems: Vec::new(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            found.add(error_line(&e), None, format!("unreadable header: {e}"));
            return Err(found.problems);
        }
    };
    let mut index = [None; COLUMNS.len()];
    let mut ignored_columns = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let key = name.trim_start_matches('\u{feff}').trim().to_lowercase();
        match COLUMNS
            .iter()
            .position(|(_, names)| names.contains(&key.as_str()))
        {
            Some(c) if index[c].is_some() => {
                found.add(1, None, format!("two columns mean '{}'", COLUMNS[c].0));
            }
            Some(c) => index[c] = Some(i),
            None => ignored_columns.push(name.trim().to_string()),
        }
    }
    if index[CUE].is_none() && index[NAME].is_none() {
        found.add(1, None, "no 'cue' (or 'name') column".into());
    }
    for required in [COLOUR] {
        if index[required].is_none() {
            found.add(
                1,
                None,
                format!(
                    "no '{}' column (the header names: {})",
                    COLUMNS[required].0,
                    header.iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
    if index[DURATION].is_none() && index[START].is_none() {
        found.add(1, None, "no 'duration' or 'start' column".into());
    }
    if !found.problems.is_empty() {
        return Err(found.problems);
    }

    let mut rows = Vec::new();
    let mut names = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                found.add(error_line(&e), None, format!("unreadable row: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() > header.len() {
            found.add(
                line,
                None,
                format!(
                    "{} fields but the header has {} (quote a field that holds a comma)",
                    record.len(),
                    header.len()
                ),
            );
            continue;
        }
        let field = |c: usize| {
            index[c]
                .and_then(|i| record.get(i))
                .map_or("", str::trim)
                .to_string()
        };
        let mut row_problems: Vec<(usize, String)> = Vec::new();
        let mut bad = |column: usize, message: String| row_problems.push((column, message));
        // A desk's cue number names the cue unless the list also gives a name (QLab: Number
        // is often empty, Name rarely).
        let label = field(NAME);
        let (name, column, number) = if label.is_empty() {
            (field(CUE), CUE, None)
        } else {
            (label, NAME, Some(field(CUE)).filter(|n| !n.is_empty()))
        };
        if !valid_name(&name) {
            bad(
                column,
                format!(
                    "cue name '{name}' must be 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 - _ . and inner spaces"
                ),
            );
        } else if !names.insert(name.clone()) {
            bad(column, format!("cue '{name}' is listed twice"));
        }
        let time = |column: usize, bad: &mut dyn FnMut(usize, String)| {
            let text = field(column);
            if text.is_empty() {
                return None;
            }
            parse_time(&text).map_err(|e| bad(column, e)).ok()
        };
        let start = time(START, &mut bad);
        let duration = time(DURATION, &mut bad);
        let duration_given = !field(DURATION).is_empty();
        if duration == Some(0) {
            bad(DURATION, "a cue lasts longer than 0".into());
        }
        let duration = duration.filter(|&d| d > 0);
        let fade = time(FADE, &mut bad).unwrap_or(0);
        let colour = match parse_colour(&field(COLOUR)) {
            Ok(c) => c,
            Err(e) => {
                bad(COLOUR, e);
                Rgb::BLACK
            }
        };
        let zones = parse_zones(&field(ZONES));
        if let Some(list) = &zones {
            for z in list {
                if !valid_name(z) {
                    bad(
                        ZONES,
                        format!(
                            "zone name '{z}' must be 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 - _ . and inner spaces"
                        ),
                    );
                }
            }
            if fade > 0 {
                bad(FADE, "a fade lights every zone in this show format: leave 'zones' empty (or 'all') or set fade 0".into());
            }
        }
        let end = match field(END).to_lowercase().as_str() {
            "" | "hold" => "hold",
            "loop" => "loop",
            "end" => "end",
            other => {
                bad(END, format!("'{other}' is not hold, loop or end"));
                "hold"
            }
        };
        for (column, message) in row_problems {
            found.add(line, Some(COLUMNS[column].0), message);
        }
        rows.push(Row {
            line,
            name,
            number,
            start,
            duration,
            duration_given,
            colour,
            zones,
            fade,
            end,
        });
    }
    if rows.is_empty() && found.problems.is_empty() {
        found.add(1, None, "the cue list has no cues".into());
    }
    if rows.len() > MAX_CUES {
        found.add(
            rows[MAX_CUES].line,
            None,
            format!("a show has at most {MAX_CUES} cues"),
        );
    }

    // Durations from the next start; starts in order.
    let mut durations = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let next_start = rows.get(i + 1).and_then(|r| r.start);
        let dur = match (row.duration, row.start, next_start) {
            (Some(d), ..) => Some(d),
            (None, Some(s), Some(n)) if n > s => Some(n - s),
            (None, Some(_), Some(_)) => None, // reported as unordered below
            (None, ..) if row.duration_given => None, // reported as unreadable
            (None, ..) => {
                found.add(
                    row.line,
                    Some("duration"),
                    "no duration, and the next cue has no start to end this one".into(),
                );
                None
            }
        };
        if let Some(d) = dur {
            if row.fade > d {
                found.add(
                    row.line,
                    Some("fade"),
                    format!(
                        "fade {} is longer than the cue ({})",
                        seconds(row.fade),
                        seconds(d)
                    ),
                );
            }
            if row.zones.is_some() && d < MIN_PERIOD_MS {
                found.add(
                    row.line,
                    Some("duration"),
                    format!("a cue that lights some zones lasts at least {MIN_PERIOD_MS} ms"),
                );
            }
            if let (Some(s), Some(n)) = (row.start, next_start)
                && s + d > n
                && row.end != "loop"
            {
                found.add(
                    row.line,
                    Some("duration"),
                    format!(
                        "the cue runs until {} but the next cue starts at {}",
                        seconds(s + d),
                        seconds(n)
                    ),
                );
            }
        }
        durations.push(dur.unwrap_or(1));
    }
    let mut last_start: Option<(u64, u64)> = None;
    for row in &rows {
        if let Some(s) = row.start {
            if let Some((prev, _)) = last_start.filter(|&(prev, _)| s <= prev) {
                found.add(
                    row.line,
                    Some("start"),
                    format!(
                        "starts at {} but an earlier cue starts at {}",
                        seconds(s),
                        seconds(prev)
                    ),
                );
            }
            last_start = Some((s, row.line));
        }
    }

    let zones = match &options.zones {
        Some(z) => z.clone(),
        None => {
            let mut seen = Vec::new();
            for z in rows.iter().filter_map(|r| r.zones.as_ref()).flatten() {
                if !seen.contains(z) {
                    seen.push(z.clone());
                }
            }
            if seen.is_empty() {
                seen.push("hall".to_string());
            }
            seen
        }
    };
    if zones.len() > MAX_ZONES {
        found.add(
            1,
            Some("zones"),
            format!(
                "{} zones named; a show has at most {MAX_ZONES}",
                zones.len()
            ),
        );
    }
    for row in &rows {
        for z in row.zones.iter().flatten() {
            if !zones.contains(z) {
                found.add(
                    row.line,
                    Some("zones"),
                    format!("zone '{z}' is not in --zones ({})", zones.join(", ")),
                );
            }
        }
    }
    if !found.problems.is_empty() {
        found.problems.sort_by_key(|p| p.line);
        return Err(found.problems);
    }
    let toml = write_show(&options.title, &zones, &rows, &durations);
    // What imports is a show `shows check` accepts: what the show rules still find (a fade
    // that flickers in saturated red, a title the caller gave) is put on the row's line.
    if let Err(e) = crate::compile_str(&toml, "imported show") {
        for p in e.problems() {
            let row = p
                .cue
                .as_ref()
                .and_then(|c| rows.iter().find(|r| &r.name == c));
            let mut message = p.to_string();
            if let Some(rest) = message.strip_prefix(&format!("{}:{}:{}: ", p.file, p.line, p.col))
            {
                message = rest.to_string();
            }
            found.add(row.map_or(1, |r| r.line), None, message);
        }
        if found.problems.is_empty() {
            found.add(1, None, e.to_string());
        }
        return Err(found.problems);
    }
    Ok(Imported {
        toml,
        ignored_columns,
        cues: rows.len(),
    })
}

/// The show source for checked rows.
fn write_show(title: &str, zones: &[String], rows: &[Row], durations: &[u64]) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let list = |l: &[String]| l.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
    let mut out = format!(
        "# Imported by `shows import` from a cue list; check with `shows check`.\n\ntitle = {}\nzones = [{}]\n",
        q(title),
        list(zones)
    );
    let mut previous = Rgb::BLACK;
    for (row, &dur) in rows.iter().zip(durations) {
        let number = row.number.as_ref().map_or(String::new(), |n| {
            format!(", cue {}", n.replace(['\n', '\r'], " "))
        });
        out += &format!(
            "\n[[cue]]  # line {}{number}\nname = {}\nend = \"{}\"\n",
            row.line,
            q(&row.name),
            row.end
        );
        if let Some(s) = row.start {
            out += &format!("at = \"{}\"\n", seconds(s));
        }
        let colour = row.colour.to_hex();
        match &row.zones {
            Some(lit) => {
                let ms = dur;
                out += &format!(
                    "\n[[cue.segment]]  # {} on {}\nkind = \"chase\"\ncolour = \"{colour}\"\nzones = [{}]\nsoft = false\nperiod = {ms}\nwidth = {ms}\noffset = 0\ndur = {ms}\n",
                    colour,
                    lit.join(", "),
                    list(lit)
                );
                previous = Rgb::BLACK;
            }
            None => {
                if row.fade > 0 {
                    out += &format!(
                        "\n[[cue.segment]]\nkind = \"fade\"\nfrom = \"{}\"\nto = \"{colour}\"\ndur = {}\n",
                        previous.to_hex(),
                        row.fade
                    );
                }
                if dur > row.fade {
                    out += &format!(
                        "\n[[cue.segment]]\nkind = \"solid\"\ncolour = \"{colour}\"\ndur = {}\n",
                        dur - row.fade
                    );
                }
                previous = row.colour;
            }
        }
    }
    out
}

/// A cue list time: `[[hh:]mm:]ss[.fff]`, plain seconds (`12.5`), or a show-format duration
/// with its unit (`1500ms`, `2s`, `1min`). Whole milliseconds, rounded.
pub fn parse_time(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let ms = if t.contains(':') {
        let parts: Vec<&str> = t.split(':').collect();
        if parts.len() > 3 {
            return Err(format!("'{t}' is not a time (ss, mm:ss or hh:mm:ss)"));
        }
        let mut total = 0.0;
        for (i, p) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let v: f64 = p
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0 && (last || v.fract() == 0.0))
                .ok_or_else(|| format!("'{t}' is not a time (ss, mm:ss or hh:mm:ss)"))?;
            if i > 0 && v >= 60.0 {
                return Err(format!("'{t}': minutes and seconds are below 60"));
            }
            total = total * 60.0 + v;
        }
        (total * 1000.0).round()
    } else if t.starts_with(|c: char| c.is_ascii_digit())
        && t.ends_with(|c: char| c.is_ascii_alphabetic())
    {
        return parse_duration(&toml::Value::String(t.to_string()), None);
    } else {
        let v: f64 = t
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("'{t}' is not a time in seconds (e.g. 12.5, 1:30, 1500ms)"))?;
        (v * 1000.0).round()
    };
    if ms > MAX_DURATION_MS as f64 {
        return Err(format!("'{t}' is longer than 24 h"));
    }
    Ok(ms as u64)
}

/// `#rrggbb` (any case) or one of [`NAMED_COLOURS`].
fn parse_colour(text: &str) -> Result<Rgb, String> {
    let lower = text.to_lowercase();
    if let Some(c) = Rgb::parse_hex(&lower) {
        return Ok(c);
    }
    NAMED_COLOURS
        .iter()
        .find(|(n, _)| *n == lower)
        .map(|&(_, c)| c)
        .ok_or_else(|| {
            let names: Vec<&str> = NAMED_COLOURS.iter().map(|(n, _)| *n).collect();
            format!("'{text}' is not a colour (#rrggbb or {})", names.join(", "))
        })
}

/// Zone names separated by `;` or `,`; empty or `all`: every zone (`None`).
fn parse_zones(text: &str) -> Option<Vec<String>> {
    let list: Vec<String> = text
        .split([';', ','])
        .map(str::trim)
        .filter(|z| !z.is_empty())
        .map(str::to_string)
        .collect();
    if list.is_empty() || (list.len() == 1 && list[0].eq_ignore_ascii_case("all")) {
        None
    } else {
        Some(list)
    }
}

/// The show format's rule for names.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NAME_LEN
        && n.trim() == n
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
}

/// `ms` as a show-format duration string in seconds (`"12.5s"`).
fn seconds(ms: u64) -> String {
    let mut s = format!("{}.{:03}", ms / 1000, ms % 1000);
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    s + "s"
}

fn error_line(e: &csv::Error) -> u64 {
    e.position().map_or(1, |p| p.line())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_spelling() {
        for (text, ms) in [
            ("12.5", 12_500),
            ("0", 0),
            ("1:30", 90_000),
            ("1:02:03.25", 3_723_250),
            ("1500ms", 1500),
            ("2s", 2000),
            ("1min", 60_000),
        ] {
            assert_eq!(parse_time(text), Ok(ms), "{text}");
        }
        for bad in ["", "x", "-1", "1:60", "1:2:3:4", "1.5:00", "2h", "99999999"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(seconds(12_500), "12.5s");
        assert_eq!(seconds(3000), "3s");
        assert_eq!(seconds(1), "0.001s");
    }

    #[test]
    fn zones_and_colours() {
        assert_eq!(parse_zones(""), None);
        assert_eq!(parse_zones("All"), None);
        assert_eq!(
            parse_zones("stalls left; circle"),
            Some(vec!["stalls left".into(), "circle".into()])
        );
        assert_eq!(parse_colour("#FF8000"), Ok(Rgb::new(255, 128, 0)));
        assert_eq!(parse_colour("Amber"), Ok(Rgb::new(255, 176, 0)));
        assert!(parse_colour("mauve").is_err());
    }
}
