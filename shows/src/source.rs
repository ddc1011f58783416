//! The TOML source format as serde structures, with spans kept for located errors.
//! Only the shape is checked here (unknown keys and wrong types are rejected); meaning is checked
//! in `compile`, which collects every problem.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::{Spanned, Value};

/// A whole show file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShow {
    /// Show title.
    pub title: Spanned<String>,
    /// Optional tempo: enables durations in beats.
    #[serde(default)]
    pub bpm: Option<Spanned<i64>>,
    /// How tightly the phones keep their clocks: `tight` (default: what each cue needs) or
    /// `relaxed` (fewer `/t` on jittery WiFi, a looser clock).
    #[serde(default)]
    pub sync: Option<Spanned<String>>,
    /// Zones in sweep order.
    pub zones: Spanned<Vec<Spanned<String>>>,
    /// Named colours, `name = "#rrggbb"`.
    #[serde(default)]
    pub palette: BTreeMap<Spanned<String>, Spanned<String>>,
    /// Cues in show order (`[[cue]]`).
    #[serde(default, rename = "cue")]
    pub cues: Vec<Spanned<RawCue>>,
    /// The hall plan (optional; authoring only, not compiled).
    #[serde(default)]
    pub layout: Option<Spanned<crate::layout::RawLayout>>,
}

/// One `[[cue]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCue {
    /// Unique cue name.
    pub name: Spanned<String>,
    /// `hold` (default), `loop` or `end`.
    #[serde(default)]
    pub end: Option<Spanned<String>>,
    /// Optional planned start on the show timeline (a duration).
    #[serde(default)]
    pub at: Option<Spanned<Value>>,
    /// The phone's camera torch plays this cue too, where the browser allows it.
    #[serde(default)]
    pub torch: Option<bool>,
    /// Segments in time order (`[[cue.segment]]`).
    #[serde(default, rename = "segment")]
    pub segments: Vec<Spanned<RawSegment>>,
}

/// One `[[cue.segment]]` table. Which fields apply depends on `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegment {
    /// `solid`, `fade`, `pulse`, `strobe`, `chase` or `blackout`.
    pub kind: Spanned<String>,
    /// Length (a duration).
    #[serde(default)]
    pub dur: Option<Spanned<Value>>,
    /// Lit colour (solid, pulse, strobe, chase).
    #[serde(default, alias = "color")]
    pub colour: Option<Spanned<String>>,
    /// Base colour (pulse, strobe, chase; default black).
    #[serde(default)]
    pub base: Option<Spanned<String>>,
    /// Fade start colour.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// Fade end colour.
    #[serde(default)]
    pub to: Option<Spanned<String>>,
    /// Wave period (pulse, strobe, chase).
    #[serde(default)]
    pub period: Option<Spanned<Value>>,
    /// Strobe on-time per period (default half the period).
    #[serde(default)]
    pub on: Option<Spanned<Value>>,
    /// Chase lit window per zone.
    #[serde(default)]
    pub width: Option<Spanned<Value>>,
    /// Chase delay between consecutive zones.
    #[serde(default)]
    pub offset: Option<Spanned<Value>>,
    /// Chase sweep order (default: all zones in show order).
    #[serde(default)]
    pub zones: Option<Spanned<Vec<Spanned<String>>>>,
    /// Chase shape: soft triangle (default) or hard on/off.
    #[serde(default)]
    pub soft: Option<Spanned<bool>>,
}

impl RawSegment {
    /// The optional fields that are present, with their key names and value spans.
    pub fn present_fields(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        let mut out = Vec::new();
        let mut add = |name: &'static str, span: Option<std::ops::Range<usize>>| {
            if let Some(span) = span {
                out.push((name, span));
            }
        };
        add("dur", self.dur.as_ref().map(Spanned::span));
        add("colour", self.colour.as_ref().map(Spanned::span));
        add("base", self.base.as_ref().map(Spanned::span));
        add("from", self.from.as_ref().map(Spanned::span));
        add("to", self.to.as_ref().map(Spanned::span));
        add("period", self.period.as_ref().map(Spanned::span));
        add("on", self.on.as_ref().map(Spanned::span));
        add("width", self.width.as_ref().map(Spanned::span));
        add("offset", self.offset.as_ref().map(Spanned::span));
        add("zones", self.zones.as_ref().map(Spanned::span));
        add("soft", self.soft.as_ref().map(Spanned::span));
        out
    }
}
