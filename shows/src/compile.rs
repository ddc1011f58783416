//! Source text → [`CompiledShow`]: parses the TOML, checks its meaning while collecting every
//! problem (each located at file:line:col with cue and segment), then runs the WCAG 2.3.1 check.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use serde::Deserialize;
use toml::{Spanned, Value};

use crate::error::{Locator, Problem, ProblemKind, ShowError};
use crate::layout::{self, Layout};
use crate::model::{
    CompiledShow, Cue, CueEnd, FORMAT_VERSION, MAX_DURATION_MS, Rgb, Segment, Shape, SyncMode,
};
use crate::source::{RawCue, RawSegment, RawShow};
use crate::wcag;

/// Longest zone, cue or palette name, in bytes.
pub const MAX_NAME_LEN: usize = 32;
/// Most zones a show may have.
pub const MAX_ZONES: usize = 64;
/// Longest title, in bytes.
pub const MAX_TITLE_LEN: usize = 100;
/// Shortest period of a pulse, strobe or chase (the strobe rate bound: at most 10 Hz).
pub const MIN_PERIOD_MS: u64 = 100;
/// Shortest on-time and off-time of a strobe.
pub const MIN_STROBE_PHASE_MS: u64 = 20;
/// Highest allowed `bpm`.
pub const MAX_BPM: i64 = 400;
/// Largest show source file, bytes (the hand-written examples are a few KiB).
pub const MAX_SOURCE_BYTES: usize = 1 << 20;
/// Most cues a show may have.
pub const MAX_CUES: usize = 1000;
/// Most segments in all cues of a show together.
pub const MAX_SEGMENTS: usize = 10_000;
/// Time budget of one compile in the daemons (`beacon load`, the portal's catalog): below the
/// operator client's 10 s timeout, and twice what a valid 24-hour, 64-zone show needs.
pub const DEFAULT_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// Compiles show source text. `file_name` is only used to locate problems.
pub fn compile_str(source: &str, file_name: &str) -> Result<CompiledShow, ShowError> {
    compile_str_within(source, file_name, None)
}

/// [`compile_str`] that gives up with [`ShowError::OverBudget`] once `deadline` has passed.
pub fn compile_str_within(
    source: &str,
    file_name: &str,
    deadline: Option<std::time::Instant>,
) -> Result<CompiledShow, ShowError> {
    let authoring = compile_for_authoring(source, file_name, deadline)?;
    if authoring.flashes.is_empty() {
        Ok(authoring.show)
    } else {
        Err(ShowError::Invalid(authoring.flashes))
    }
}

/// What an authoring view draws: the show, its hall plan, and its WCAG 2.3.1 flashes.
#[derive(Debug, Clone)]
pub struct Authoring {
    /// The compiled show (as [`compile_str`] would give it were there no flashes).
    pub show: CompiledShow,
    /// The hall plan, when the source has a `[layout]`.
    pub layout: Option<Layout>,
    /// The flash problems, located like every problem (kind [`ProblemKind::Flash`]).
    pub flashes: Vec<Problem>,
}

/// Compiles a show that is valid but for its WCAG 2.3.1 flashes, and returns those flashes
/// beside it, with its layout. Any other problem is an error, as in [`compile_str`].
pub fn compile_for_authoring(
    source: &str,
    file_name: &str,
    deadline: Option<std::time::Instant>,
) -> Result<Authoring, ShowError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(ShowError::Invalid(vec![Problem {
            kind: ProblemKind::Invalid,
            file: file_name.to_string(),
            line: 1,
            col: 1,
            cue: None,
            segment: None,
            zone: None,
            time_ms: None,
            message: format!(
                "the show is {} bytes; at most {MAX_SOURCE_BYTES} are allowed",
                source.len()
            ),
        }]));
    }
    let loc = Locator::new(source);
    let raw: RawShow = match toml::from_str(source) {
        Ok(raw) => raw,
        Err(e) => {
            return Err(ShowError::Invalid(vec![syntax_problem(
                source, file_name, &loc, &e,
            )]));
        }
    };
    let mut cx = Ctx {
        loc: &loc,
        file: file_name,
        problems: Vec::new(),
        bpm: None,
        sync: None,
        layout: None,
    };
    let built = cx.build(&raw);
    if !cx.problems.is_empty() {
        cx.problems.sort_by_key(|p| (p.line, p.col));
        return Err(ShowError::Invalid(cx.problems));
    }
    let show = built.expect("no problems means the show was built");
    let mut problems = Vec::new();
    let violations = wcag::check_within(&show, deadline).map_err(|_| ShowError::OverBudget {
        file: file_name.to_string(),
    })?;
    for v in violations {
        let raw_cue = &raw.cues[v.cue].get_ref();
        let cue = &show.cues[v.cue];
        let t_in_pass = if v.time_ms < cue.dur {
            v.time_ms
        } else {
            v.time_ms % cue.dur
        };
        let seg = cue
            .segs
            .partition_point(|s| s.start_ms() <= t_in_pass)
            .max(1);
        let span = raw_cue.segments[seg - 1].get_ref().kind.span();
        let (line, col) = loc.line_col(span.start);
        problems.push(Problem {
            kind: ProblemKind::Flash,
            file: file_name.to_string(),
            line,
            col,
            cue: Some(cue.name.clone()),
            segment: Some(seg),
            zone: Some(show.zones[v.zone].clone()),
            time_ms: Some(v.time_ms),
            message: v.message(),
        });
    }
    Ok(Authoring {
        show,
        layout: cx.layout,
        flashes: problems,
    })
}

/// Reads and compiles a show file.
pub fn compile_file(path: &std::path::Path) -> Result<CompiledShow, ShowError> {
    compile_file_within(path, None)
}

/// [`compile_file`] that gives up with [`ShowError::OverBudget`] once `deadline` has passed.
/// Reads at most one byte more than [`MAX_SOURCE_BYTES`].
pub fn compile_file_within(
    path: &std::path::Path,
    deadline: Option<std::time::Instant>,
) -> Result<CompiledShow, ShowError> {
    use std::io::Read as _;
    let io = |source| ShowError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_SOURCE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })?;
    compile_str_within(&text, &path.display().to_string(), deadline)
}

/// Loose view of the file, used only to name the cue and segment of a schema error.
#[derive(Deserialize)]
struct LooseShow {
    #[serde(default)]
    cue: Vec<Spanned<LooseCue>>,
}

#[derive(Deserialize)]
struct LooseCue {
    #[serde(default)]
    name: Option<Value>,
    #[serde(default)]
    segment: Vec<Spanned<Value>>,
}

fn syntax_problem(source: &str, file: &str, loc: &Locator<'_>, e: &toml::de::Error) -> Problem {
    let span = e.span();
    let (line, col) = span.clone().map_or((1, 1), |s| loc.line_col(s.start));
    let (mut cue, mut segment) = (None, None);
    if let (Some(span), Ok(loose)) = (span, toml::from_str::<LooseShow>(source)) {
        // Array-of-tables spans cover only their `[[...]]` headers: the error belongs to the last
        // cue header and the last segment header before it.
        if let Some(c) = loose
            .cue
            .iter()
            .rev()
            .find(|c| c.span().start <= span.start)
        {
            cue = c.get_ref().name.as_ref().map(|n| match n {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            segment = c
                .get_ref()
                .segment
                .iter()
                .rposition(|s| s.span().start <= span.start)
                .map(|i| i + 1);
        }
    }
    Problem {
        kind: ProblemKind::Syntax,
        file: file.to_string(),
        line,
        col,
        cue,
        segment,
        zone: None,
        time_ms: None,
        message: e.message().trim().replace('\n', " "),
    }
}

/// Where a problem is: a span plus optional cue name and 1-based segment number.
#[derive(Clone, Copy)]
struct At<'r> {
    cue: Option<&'r str>,
    seg: Option<usize>,
}

const TOP: At<'static> = At {
    cue: None,
    seg: None,
};

struct Ctx<'a> {
    loc: &'a Locator<'a>,
    file: &'a str,
    problems: Vec<Problem>,
    bpm: Option<u32>,
    sync: Option<SyncMode>,
    layout: Option<Layout>,
}

impl Ctx<'_> {
    fn problem(&mut self, span: Range<usize>, at: At<'_>, message: impl Into<String>) {
        let (line, col) = self.loc.line_col(span.start);
        self.problems.push(Problem {
            kind: ProblemKind::Invalid,
            file: self.file.to_string(),
            line,
            col,
            cue: at.cue.map(str::to_string),
            segment: at.seg,
            zone: None,
            time_ms: None,
            message: message.into(),
        });
    }

    fn check_name(&mut self, name: &Spanned<String>, what: &str, at: At<'_>) {
        let n = name.get_ref();
        let ok_chars = n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
        if n.is_empty() || n.len() > MAX_NAME_LEN || !ok_chars || n.trim() != n {
            self.problem(
                name.span(),
                at,
                format!(
                    "{what} name '{n}' must be 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 - _ . and inner spaces"
                ),
            );
        }
    }

    fn build(&mut self, raw: &RawShow) -> Option<CompiledShow> {
        let title = raw.title.get_ref();
        if title.trim().is_empty() || title.len() > MAX_TITLE_LEN {
            self.problem(
                raw.title.span(),
                TOP,
                format!("title must be 1 to {MAX_TITLE_LEN} bytes"),
            );
        }
        if let Some(bpm) = &raw.bpm {
            if (1..=MAX_BPM).contains(bpm.get_ref()) {
                self.bpm = Some(*bpm.get_ref() as u32);
            } else {
                self.problem(bpm.span(), TOP, format!("bpm must be 1 to {MAX_BPM}"));
            }
        }
        if let Some(sync) = &raw.sync {
            match sync.get_ref().as_str() {
                "tight" => self.sync = None,
                "relaxed" => self.sync = Some(SyncMode::Relaxed),
                other => self.problem(
                    sync.span(),
                    TOP,
                    format!("sync must be \"tight\" or \"relaxed\", not {other:?}"),
                ),
            }
        }
        let zones = self.build_zones(raw);
        if let Some(plan) = &raw.layout {
            let mut found = Vec::new();
            self.layout = layout::check(plan.get_ref(), &zones, plan.span(), &mut |span, m| {
                found.push((span, m));
            });
            for (span, message) in found {
                self.problem(span, TOP, message);
            }
        }
        let palette = self.build_palette(raw);
        if raw.cues.is_empty() {
            self.problem(0..0, TOP, "the show has no cues (add a [[cue]] table)");
        }
        if raw.cues.len() > MAX_CUES {
            self.problem(
                raw.cues[MAX_CUES].span(),
                TOP,
                format!("a show has at most {MAX_CUES} cues"),
            );
            return None;
        }
        let segments: usize = raw.cues.iter().map(|c| c.get_ref().segments.len()).sum();
        if segments > MAX_SEGMENTS {
            self.problem(
                0..0,
                TOP,
                format!("a show has at most {MAX_SEGMENTS} segments in all ({segments} given)"),
            );
            return None;
        }
        let mut cue_names = HashSet::new();
        let mut cues = Vec::new();
        for raw_cue in &raw.cues {
            let rc = raw_cue.get_ref();
            let at = At {
                cue: Some(rc.name.get_ref()),
                seg: None,
            };
            self.check_name(&rc.name, "cue", at);
            if !cue_names.insert(rc.name.get_ref().as_str()) {
                self.problem(rc.name.span(), at, "duplicate cue name");
            }
            if let Some(cue) = self.build_cue(rc, &zones, &palette) {
                cues.push(cue);
            }
        }
        self.check_cue_times(raw, &cues);
        if !self.problems.is_empty() {
            return None;
        }
        Some(CompiledShow {
            format: FORMAT_VERSION,
            title: title.clone(),
            bpm: self.bpm,
            sync: self.sync,
            zones: zones.iter().map(|z| z.to_string()).collect(),
            cues,
        })
    }

    fn build_zones<'r>(&mut self, raw: &'r RawShow) -> Vec<&'r str> {
        let list = raw.zones.get_ref();
        if list.is_empty() || list.len() > MAX_ZONES {
            self.problem(
                raw.zones.span(),
                TOP,
                format!("a show needs 1 to {MAX_ZONES} zones"),
            );
        }
        let mut seen = HashSet::new();
        for z in list {
            self.check_name(z, "zone", TOP);
            if !seen.insert(z.get_ref().as_str()) {
                self.problem(z.span(), TOP, format!("duplicate zone '{}'", z.get_ref()));
            }
        }
        list.iter().map(|z| z.get_ref().as_str()).collect()
    }

    fn build_palette(&mut self, raw: &RawShow) -> BTreeMap<String, Rgb> {
        let mut out = BTreeMap::new();
        for (name, value) in &raw.palette {
            self.check_name(name, "colour", TOP);
            match Rgb::parse_hex(value.get_ref()) {
                Some(c) => {
                    out.insert(name.get_ref().clone(), c);
                }
                None => self.problem(
                    value.span(),
                    TOP,
                    format!(
                        "colour '{}' must be \"#rrggbb\", not '{}'",
                        name.get_ref(),
                        value.get_ref()
                    ),
                ),
            }
        }
        out
    }

    fn colour(
        &mut self,
        name: &Spanned<String>,
        palette: &BTreeMap<String, Rgb>,
        at: At<'_>,
    ) -> Option<Rgb> {
        let n = name.get_ref();
        if let Some(c) = palette.get(n) {
            return Some(*c);
        }
        if n.starts_with('#') {
            let c = Rgb::parse_hex(n);
            if c.is_none() {
                self.problem(
                    name.span(),
                    at,
                    format!("bad colour '{n}': write \"#rrggbb\""),
                );
            }
            return c;
        }
        match n.as_str() {
            "black" => return Some(Rgb::BLACK),
            "white" => return Some(Rgb::new(255, 255, 255)),
            _ => {}
        }
        let known: Vec<&str> = palette.keys().map(String::as_str).collect();
        self.problem(
            name.span(),
            at,
            format!(
                "unknown colour '{n}' (palette: {}; or write \"#rrggbb\")",
                known.join(", ")
            ),
        );
        None
    }

    /// A duration: integer ms, or a string "<number><unit>" with unit ms, s, min or beats.
    fn duration(
        &mut self,
        v: &Spanned<Value>,
        what: &str,
        at: At<'_>,
        allow_zero: bool,
    ) -> Option<u64> {
        let ms = match parse_duration(v.get_ref(), self.bpm) {
            Ok(ms) => ms,
            Err(msg) => {
                self.problem(v.span(), at, format!("{what}: {msg}"));
                return None;
            }
        };
        if ms == 0 && !allow_zero {
            self.problem(v.span(), at, format!("{what} must be longer than 0 ms"));
            return None;
        }
        if ms > MAX_DURATION_MS {
            self.problem(v.span(), at, format!("{what} is longer than 24 h"));
            return None;
        }
        Some(ms)
    }

    fn build_cue(
        &mut self,
        rc: &RawCue,
        zones: &[&str],
        palette: &BTreeMap<String, Rgb>,
    ) -> Option<Cue> {
        let name = rc.name.get_ref().as_str();
        let at = At {
            cue: Some(name),
            seg: None,
        };
        let end = match rc.end.as_ref().map(|e| (e.get_ref().as_str(), e.span())) {
            None | Some(("hold", _)) => Some(CueEnd::Hold),
            Some(("loop", _)) => Some(CueEnd::Loop),
            Some(("end", _)) => Some(CueEnd::End),
            Some((other, span)) => {
                self.problem(
                    span,
                    at,
                    format!("end must be \"hold\", \"loop\" or \"end\", not '{other}'"),
                );
                None
            }
        };
        let start = match &rc.at {
            Some(v) => self.duration(v, "at", at, true).map(Some),
            None => Some(None),
        };
        if rc.segments.is_empty() {
            self.problem(
                rc.name.span(),
                at,
                "cue has no segments (add [[cue.segment]] tables)",
            );
        }
        let mut segs = Vec::new();
        let mut t = 0u64;
        let mut ok = true;
        for (i, raw_seg) in rc.segments.iter().enumerate() {
            let seg_at = At {
                cue: Some(name),
                seg: Some(i + 1),
            };
            match self.build_segment(raw_seg, t, zones, palette, seg_at) {
                Some(seg) => {
                    t = t.saturating_add(seg.duration_ms());
                    segs.push(seg);
                }
                None => ok = false,
            }
        }
        if t > MAX_DURATION_MS {
            self.problem(rc.name.span(), at, "cue is longer than 24 h");
            ok = false;
        }
        if !ok || segs.is_empty() {
            return None;
        }
        Some(Cue {
            name: name.to_string(),
            end: end?,
            dur: t,
            at: start?,
            torch: rc.torch.unwrap_or(false),
            segs,
        })
    }

    fn build_segment(
        &mut self,
        raw: &Spanned<RawSegment>,
        t: u64,
        zones: &[&str],
        palette: &BTreeMap<String, Rgb>,
        at: At<'_>,
    ) -> Option<Segment> {
        let s = raw.get_ref();
        let kind = s.kind.get_ref().as_str();
        let kind_span = s.kind.span();
        let (allowed, required): (&[&str], &[&str]) = match kind {
            "solid" => (&["dur", "colour"], &["dur", "colour"]),
            "fade" => (&["dur", "from", "to"], &["dur", "from", "to"]),
            "pulse" => (
                &["dur", "colour", "base", "period"],
                &["dur", "colour", "period"],
            ),
            "strobe" => (
                &["dur", "colour", "base", "period", "on"],
                &["dur", "colour", "period"],
            ),
            "chase" => (
                &[
                    "dur", "colour", "base", "period", "width", "offset", "zones", "soft",
                ],
                &["dur", "colour", "period"],
            ),
            "blackout" => (&["dur"], &["dur"]),
            other => {
                self.problem(
                    kind_span,
                    at,
                    format!("unknown kind '{other}' (solid, fade, pulse, strobe, chase, blackout)"),
                );
                return None;
            }
        };
        let before = self.problems.len();
        let present = s.present_fields();
        for (field, span) in &present {
            if !allowed.contains(field) {
                self.problem(
                    span.clone(),
                    at,
                    format!("'{field}' does not apply to a {kind} segment"),
                );
            }
        }
        for field in required {
            if !present.iter().any(|(f, _)| f == field) {
                self.problem(
                    kind_span.clone(),
                    at,
                    format!("a {kind} segment needs '{field}'"),
                );
            }
        }
        // Check every present value, so that all problems are reported at once.
        let dur = s
            .dur
            .as_ref()
            .and_then(|v| self.duration(v, "dur", at, false));
        let colour = |cx: &mut Self, c: &Option<Spanned<String>>| {
            c.as_ref().and_then(|c| cx.colour(c, palette, at))
        };
        let c = colour(self, &s.colour);
        let base = colour(self, &s.base).or(s.base.is_none().then_some(Rgb::BLACK));
        let from = colour(self, &s.from);
        let to = colour(self, &s.to);
        let period = s
            .period
            .as_ref()
            .and_then(|v| self.duration(v, "period", at, false));
        if let (Some(p), Some(v)) = (period, &s.period)
            && p < MIN_PERIOD_MS
        {
            self.problem(
                v.span(),
                at,
                format!("period {p} ms is shorter than the {MIN_PERIOD_MS} ms minimum (at most 10 per second)"),
            );
        }
        let on =
            s.on.as_ref()
                .and_then(|v| self.duration(v, "on", at, false));
        let width = s
            .width
            .as_ref()
            .and_then(|v| self.duration(v, "width", at, false));
        let offset = s
            .offset
            .as_ref()
            .and_then(|v| self.duration(v, "offset", at, true));
        let (pos, n) = self.chase_positions(s.zones.as_ref(), zones, at);
        let soft = s.soft.as_ref().is_none_or(|b| *b.get_ref());
        if self.problems.len() > before {
            return None;
        }
        let d = dur?;
        let seg = match kind {
            "solid" => Segment::Solid { t, d, c: c? },
            "blackout" => Segment::Solid {
                t,
                d,
                c: Rgb::BLACK,
            },
            "fade" => Segment::Fade {
                t,
                d,
                a: from?,
                b: to?,
            },
            "pulse" => {
                let p = period?;
                Segment::Wave {
                    t,
                    d,
                    a: base?,
                    b: c?,
                    p,
                    w: p,
                    shape: Shape::Tri,
                    off: 0,
                    pos: vec![0; zones.len()],
                }
            }
            "strobe" => {
                let p = period?;
                let on = on.unwrap_or(p / 2);
                if on < MIN_STROBE_PHASE_MS || p.saturating_sub(on) < MIN_STROBE_PHASE_MS {
                    let span = s.on.as_ref().map_or(kind_span, Spanned::span);
                    self.problem(
                        span,
                        at,
                        format!(
                            "strobe on-time {on} ms of a {p} ms period leaves less than {MIN_STROBE_PHASE_MS} ms on or off"
                        ),
                    );
                    return None;
                }
                Segment::Wave {
                    t,
                    d,
                    a: base?,
                    b: c?,
                    p,
                    w: on,
                    shape: Shape::Square,
                    off: 0,
                    pos: vec![0; zones.len()],
                }
            }
            "chase" => {
                let p = period?;
                let step = p / n.max(1);
                let w = match width {
                    Some(w) => w,
                    None if soft => (2 * step).clamp(1, p),
                    None => step.max(1),
                };
                if w > p {
                    let span = s.width.as_ref().map_or(kind_span, Spanned::span);
                    self.problem(
                        span,
                        at,
                        format!("width {w} ms is longer than the period {p} ms"),
                    );
                    return None;
                }
                Segment::Wave {
                    t,
                    d,
                    a: base?,
                    b: c?,
                    p,
                    w,
                    shape: if soft { Shape::Tri } else { Shape::Square },
                    off: offset.unwrap_or(step),
                    pos,
                }
            }
            _ => return None,
        };
        Some(seg)
    }

    /// Sweep position per zone (-1 = not in the chase) and the number of zones in the chase.
    fn chase_positions(
        &mut self,
        list: Option<&Spanned<Vec<Spanned<String>>>>,
        zones: &[&str],
        at: At<'_>,
    ) -> (Vec<i64>, u64) {
        let Some(list) = list else {
            return ((0..zones.len() as i64).collect(), zones.len() as u64);
        };
        let mut pos = vec![-1i64; zones.len()];
        if list.get_ref().is_empty() {
            self.problem(list.span(), at, "chase zones must not be empty");
        }
        for (i, z) in list.get_ref().iter().enumerate() {
            match zones.iter().position(|k| k == z.get_ref()) {
                Some(zi) if pos[zi] >= 0 => {
                    self.problem(
                        z.span(),
                        at,
                        format!("zone '{}' is twice in the chase", z.get_ref()),
                    );
                }
                Some(zi) => pos[zi] = i as i64,
                None => self.problem(
                    z.span(),
                    at,
                    format!(
                        "unknown zone '{}' (zones: {})",
                        z.get_ref(),
                        zones.join(", ")
                    ),
                ),
            }
        }
        (pos, list.get_ref().len() as u64)
    }

    fn check_cue_times(&mut self, raw: &RawShow, cues: &[Cue]) {
        if cues.len() != raw.cues.len() {
            return; // some cue already failed; times would mislead
        }
        let mut prev: Option<(&Cue, u64)> = None;
        for (cue, rc) in cues.iter().zip(&raw.cues) {
            let Some(start) = cue.at else { continue };
            let span = rc
                .get_ref()
                .at
                .as_ref()
                .map_or(rc.get_ref().name.span(), Spanned::span);
            let at = At {
                cue: Some(&cue.name),
                seg: None,
            };
            if let Some((p, p_start)) = prev {
                if start <= p_start {
                    self.problem(
                        span.clone(),
                        at,
                        format!("starts at {start} ms, not after cue '{}' at {p_start} ms (cues must be in time order)", p.name),
                    );
                } else if p.end != CueEnd::Loop && start < p_start + p.dur {
                    self.problem(
                        span,
                        at,
                        format!(
                            "starts at {start} ms, overlapping cue '{}' which runs until {} ms",
                            p.name,
                            p_start + p.dur
                        ),
                    );
                }
            }
            prev = Some((cue, start));
        }
    }
}

/// Parses a duration value: a non-negative integer (ms) or a string such as "250ms", "1.5s",
/// "2min" or "4beats" (beats need `bpm`). Returns whole milliseconds (rounded to nearest).
pub fn parse_duration(v: &Value, bpm: Option<u32>) -> Result<u64, String> {
    match v {
        Value::Integer(i) if *i >= 0 => Ok(*i as u64),
        Value::Integer(i) => Err(format!("{i} is negative")),
        Value::String(s) => parse_duration_str(s, bpm),
        other => Err(format!(
            "expected ms as an integer or a string like \"1.5s\", found {}",
            other.type_str()
        )),
    }
}

fn parse_duration_str(s: &str, bpm: Option<u32>) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    if t.starts_with('-') {
        return Err(format!("'{s}' is negative"));
    }
    let value: f64 = num.parse().map_err(|_| {
        format!("'{s}' is not a duration (e.g. 500, \"500ms\", \"1.5s\", \"2min\", \"4beats\")")
    })?;
    let factor = match unit {
        "ms" => 1.0,
        "s" => 1000.0,
        "min" => 60_000.0,
        "b" | "beat" | "beats" => match bpm {
            Some(bpm) => 60_000.0 / f64::from(bpm),
            None => return Err(format!("'{s}' is in beats but the show has no bpm")),
        },
        _ => return Err(format!("'{s}': unknown unit '{unit}' (ms, s, min, beats)")),
    };
    let ms = (value * factor).round();
    if !ms.is_finite() || ms > MAX_DURATION_MS as f64 {
        return Err(format!("'{s}' is longer than 24 h"));
    }
    Ok(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(src: &str) -> Vec<String> {
        match compile_str(src, "s.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(ToString::to_string).collect(),
        }
    }

    const HEAD: &str = "title = \"t\"\nbpm = 120\nzones = [\"a\", \"b\"]\n";

    #[test]
    fn durations_accept_ms_units_and_beats() {
        let d = |v: Value, bpm| parse_duration(&v, bpm);
        assert_eq!(d(Value::Integer(1500), None), Ok(1500));
        assert_eq!(d(Value::String("1.5s".into()), None), Ok(1500));
        assert_eq!(d(Value::String("250ms".into()), None), Ok(250));
        assert_eq!(d(Value::String("2min".into()), None), Ok(120_000));
        assert_eq!(d(Value::String("4beats".into()), Some(120)), Ok(2000));
        assert_eq!(d(Value::String("1 beat".into()), Some(97)), Ok(619));
        assert!(d(Value::String("4beats".into()), None).is_err());
        assert!(d(Value::String("-1s".into()), None).is_err());
        assert!(d(Value::String("1h".into()), None).is_err());
        assert!(d(Value::Integer(-5), None).is_err());
        assert!(d(Value::Float(1.0), None).is_err());
        assert!(d(Value::String("2000min".into()), None).is_err());
    }

    #[test]
    fn every_problem_is_collected_and_located() {
        let src = format!(
            "{HEAD}[[cue]]\nname = \"x\"\n[[cue.segment]]\nkind = \"solid\"\ncolour = \"nope\"\ndur = 0\n\
             [[cue.segment]]\nkind = \"sparkle\"\ndur = 5\n"
        );
        let p = problems(&src);
        assert_eq!(
            p,
            vec![
                "s.toml:8:10: cue 'x' segment 1: unknown colour 'nope' (palette: ; or write \"#rrggbb\")",
                "s.toml:9:7: cue 'x' segment 1: dur must be longer than 0 ms",
                "s.toml:11:8: cue 'x' segment 2: unknown kind 'sparkle' (solid, fade, pulse, strobe, chase, blackout)",
            ]
        );
    }

    #[test]
    fn fields_that_do_not_apply_and_missing_fields_are_reported() {
        let src = format!(
            "{HEAD}[[cue]]\nname = \"x\"\n[[cue.segment]]\nkind = \"solid\"\nperiod = 500\ndur = 10\n"
        );
        let p = problems(&src);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("cue 'x' segment 1: a solid segment needs 'colour'"),
            "{p:?}"
        );
        assert!(
            p[1].contains("'period' does not apply to a solid segment"),
            "{p:?}"
        );
    }

    #[test]
    fn names_are_checked() {
        let long = "z".repeat(33);
        let src = format!(
            "title = \"t\"\nzones = [\"a\", \"a\", \"{long}\", \"bad/name\"]\n[[cue]]\nname = \"x\"\n\
             [[cue.segment]]\nkind = \"blackout\"\ndur = 1\n"
        );
        let p = problems(&src);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("duplicate zone 'a'"));
        assert!(p[1].contains("must be 1 to 32"));
        assert!(p[2].contains("'bad/name'"));
    }

    #[test]
    fn strobe_rate_and_duty_are_bounded() {
        let cue = |extra: &str| {
            format!(
                "{HEAD}[[cue]]\nname = \"x\"\n[[cue.segment]]\nkind = \"strobe\"\ncolour = \"#111111\"\n{extra}dur = 1000\n"
            )
        };
        assert!(problems(&cue("period = 99\n"))[0].contains("shorter than the 100 ms minimum"));
        assert!(problems(&cue("period = 100\n")).is_empty());
        assert!(problems(&cue("period = 100\non = 81\n"))[0].contains("less than 20 ms on or off"));
        assert!(problems(&cue("period = 100\non = 19\n"))[0].contains("less than 20 ms on or off"));
    }

    #[test]
    fn cue_times_must_be_ordered_and_not_overlap() {
        let cue = |name: &str, at: &str, end: &str| {
            format!(
                "[[cue]]\nname = \"{name}\"\nat = \"{at}\"\nend = \"{end}\"\n[[cue.segment]]\nkind = \"blackout\"\ndur = \"10s\"\n"
            )
        };
        let ok = format!("{HEAD}{}{}", cue("a", "0s", "hold"), cue("b", "10s", "end"));
        assert!(problems(&ok).is_empty());
        let looped = format!("{HEAD}{}{}", cue("a", "0s", "loop"), cue("b", "5s", "end"));
        assert!(problems(&looped).is_empty());
        let overlap = format!("{HEAD}{}{}", cue("a", "0s", "hold"), cue("b", "9s", "end"));
        assert!(problems(&overlap)[0].contains("overlapping cue 'a'"));
        let unordered = format!("{HEAD}{}{}", cue("a", "20s", "loop"), cue("b", "5s", "end"));
        assert!(problems(&unordered)[0].contains("must be in time order"));
    }

    #[test]
    fn schema_errors_name_cue_and_segment() {
        let src = format!(
            "{HEAD}[[cue]]\nname = \"x\"\n[[cue.segment]]\nkind = \"blackout\"\ndur = 5\nfoo = 1\n"
        );
        let p = problems(&src);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("s.toml:9:1: cue 'x' segment 1: unknown field `foo`"),
            "{p:?}"
        );
    }

    #[test]
    fn empty_shows_and_cues_are_rejected() {
        assert!(problems(HEAD)[0].contains("no cues"));
        let src = format!("{HEAD}[[cue]]\nname = \"x\"\n");
        assert!(problems(&src)[0].contains("cue has no segments"));
    }
}
