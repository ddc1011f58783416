//! The compiled show: the compact, canonical JSON timeline served to phones, its content id,
//! and read-only accessors. The format is documented in `shows/FORMAT.md`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ShowError;

/// Content id of a compiled show: the first 16 bytes of SHA-256 over [`CompiledShow::to_json`].
pub type ShowId = [u8; 16];

/// Version number written into every compiled show (`"format"`).
pub const FORMAT_VERSION: u32 = 1;

/// An sRGB colour, 8 bits per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(from = "[u8; 3]", into = "[u8; 3]")]
pub struct Rgb {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

impl Rgb {
    /// Black, `#000000`.
    pub const BLACK: Rgb = Rgb { r: 0, g: 0, b: 0 };

    /// Builds a colour from its channels.
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Rgb { r, g, b }
    }

    /// Parses `#rrggbb` (exactly seven characters, hex digits in either case).
    pub fn parse_hex(s: &str) -> Option<Rgb> {
        let hex = s.strip_prefix('#')?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let ch = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgb::new(ch(0)?, ch(2)?, ch(4)?))
    }

    /// Formats as lowercase `#rrggbb`.
    pub fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

impl std::fmt::Display for Rgb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl From<[u8; 3]> for Rgb {
    fn from(c: [u8; 3]) -> Self {
        Rgb::new(c[0], c[1], c[2])
    }
}

impl From<Rgb> for [u8; 3] {
    fn from(c: Rgb) -> Self {
        [c.r, c.g, c.b]
    }
}

/// What a cue shows after its last segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CueEnd {
    /// Keep showing the final frame until the next cue.
    Hold,
    /// Start the cue again from time 0 (time wraps modulo the cue duration).
    Loop,
    /// The cue is over: black.
    End,
}

/// Shape of a [`Segment::Wave`] inside its lit window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Hard on/off: full colour for the whole window.
    Square,
    /// Linear ramp up to full colour at the middle of the window and back down.
    Tri,
}

/// One compiled segment of a cue. `t` is its start and `d` its length, both in ms from the
/// start of the cue; segments of a cue are contiguous (`t` of segment i+1 = `t + d` of i).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "lowercase", deny_unknown_fields)]
pub enum Segment {
    /// One colour on every zone (blackout compiles to solid black).
    Solid {
        /// Start, ms from cue start.
        t: u64,
        /// Duration, ms (≥ 1).
        d: u64,
        /// The colour.
        c: Rgb,
    },
    /// Linear fade from `a` to `b` on every zone.
    Fade {
        /// Start, ms from cue start.
        t: u64,
        /// Duration, ms (≥ 1).
        d: u64,
        /// Colour at the start.
        a: Rgb,
        /// Colour at the end.
        b: Rgb,
    },
    /// Periodic wave between `a` (base) and `b` (lit colour); pulse, strobe and chase compile to it.
    Wave {
        /// Start, ms from cue start.
        t: u64,
        /// Duration, ms (≥ 1).
        d: u64,
        /// Base colour (level 0).
        a: Rgb,
        /// Lit colour (level 1000).
        b: Rgb,
        /// Period, ms (≥ 1).
        p: u64,
        /// Lit window at the start of each period, ms (1..=p).
        w: u64,
        /// Shape inside the lit window.
        shape: Shape,
        /// Delay per sweep position, ms.
        off: u64,
        /// Sweep position of every zone (indexed by zone), or -1 for "not in this wave: base colour".
        pos: Vec<i64>,
    },
}

impl Segment {
    /// Start of the segment, ms from cue start.
    pub fn start_ms(&self) -> u64 {
        match self {
            Segment::Solid { t, .. } | Segment::Fade { t, .. } | Segment::Wave { t, .. } => *t,
        }
    }

    /// Length of the segment, ms.
    pub fn duration_ms(&self) -> u64 {
        match self {
            Segment::Solid { d, .. } | Segment::Fade { d, .. } | Segment::Wave { d, .. } => *d,
        }
    }
}

/// One compiled cue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cue {
    /// Cue name (unique in the show).
    pub name: String,
    /// What happens after one pass.
    pub end: CueEnd,
    /// Length of one pass, ms (sum of the segment durations).
    pub dur: u64,
    /// Planned start on the show timeline, ms, when the source gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// The phone's camera torch plays this cue too (on while the zone's colour is bright:
    /// [`crate::eval::torch_at`]). Absent from the JSON when false, so shows without a torch
    /// keep their ids.
    #[serde(default, skip_serializing_if = "is_false")]
    pub torch: bool,
    /// Contiguous segments covering `[0, dur)`.
    pub segs: Vec<Segment>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A compiled, validated show: what phones download once and evaluate locally.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompiledShow {
    /// Always [`FORMAT_VERSION`].
    pub format: u32,
    /// Show title.
    pub title: String,
    /// Beats per minute, when the source gave one (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bpm: Option<u32>,
    /// `Some(Relaxed)` when the source says `sync = "relaxed"`: the phones keep a looser clock
    /// (a likely error of up to one frame) for far fewer `/t` samples on jittery WiFi. Absent
    /// (`tight`, the default): each cue's own need, 2–4 ms. Absent from the JSON when tight, so
    /// shows without it keep their ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncMode>,
    /// Zone names in sweep order.
    pub zones: Vec<String>,
    /// Cues in show order.
    pub cues: Vec<Cue>,
}

/// How tightly the phones keep their clocks, when not the default (tight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// A likely clock error of up to one frame (16 ms) whatever the cue: after the join burst
    /// a phone samples `/t` about once a minute on its long-poll connection, even on a jittery
    /// path where a tight clock keeps re-syncing in bursts.
    Relaxed,
}

/// Longest allowed cue pass and segment: 24 hours in ms.
pub const MAX_DURATION_MS: u64 = 24 * 3600 * 1000;

impl CompiledShow {
    /// Canonical JSON bytes (fixed key order, no whitespace): what `/show/<id_hex>.json` serves.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("compiled show always serialises")
    }

    /// Parses and structurally checks a compiled show (as written by [`CompiledShow::to_json`]).
    /// Photosensitivity is not re-checked.
    pub fn from_json(json: &str) -> Result<CompiledShow, ShowError> {
        let show: CompiledShow =
            serde_json::from_str(json).map_err(|e| ShowError::Compiled(e.to_string()))?;
        show.check_structure().map_err(ShowError::Compiled)?;
        Ok(show)
    }

    fn check_structure(&self) -> Result<(), String> {
        if self.format != FORMAT_VERSION {
            return Err(format!("unsupported format {}", self.format));
        }
        let nz = self.zones.len();
        if nz == 0 {
            return Err("no zones".into());
        }
        for cue in &self.cues {
            let mut t = 0u64;
            for seg in &cue.segs {
                if seg.start_ms() != t || seg.duration_ms() == 0 {
                    return Err(format!("cue '{}': segments not contiguous", cue.name));
                }
                if let Segment::Wave { p, w, pos, off, .. } = seg
                    && (*p == 0
                        || *w == 0
                        || *w > *p
                        || *p > MAX_DURATION_MS
                        || *off > MAX_DURATION_MS
                        || pos.len() != nz
                        || pos.iter().any(|&x| x < -1 || x >= nz as i64))
                {
                    return Err(format!("cue '{}': bad wave segment", cue.name));
                }
                t = t.saturating_add(seg.duration_ms());
            }
            if t != cue.dur || cue.dur == 0 || cue.dur > MAX_DURATION_MS {
                return Err(format!("cue '{}': bad duration", cue.name));
            }
        }
        Ok(())
    }

    /// Content id: first 16 bytes of SHA-256 of [`CompiledShow::to_json`].
    pub fn id(&self) -> ShowId {
        let digest = Sha256::digest(self.to_json().as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        id
    }

    /// The id as 32 lowercase hex characters (the show URL is `/show/<id_hex>.json`).
    pub fn id_hex(&self) -> String {
        hex::encode(self.id())
    }

    /// Show title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Zone names in sweep order (the zone index used by [`crate::eval::colour_at`]).
    pub fn zone_names(&self) -> Vec<&str> {
        self.zones.iter().map(String::as_str).collect()
    }

    /// Index of a zone by name.
    pub fn zone_index(&self, name: &str) -> Option<usize> {
        self.zones.iter().position(|z| z == name)
    }

    /// Cue names in show order.
    pub fn cue_names(&self) -> Vec<&str> {
        self.cues.iter().map(|c| c.name.as_str()).collect()
    }

    /// Index of a cue by name.
    pub fn cue_index(&self, name: &str) -> Option<usize> {
        self.cues.iter().position(|c| c.name == name)
    }

    /// Length of one pass of a cue in ms (0 for an unknown cue index).
    pub fn cue_duration_ms(&self, cue: usize) -> u64 {
        self.cues.get(cue).map_or(0, |c| c.dur)
    }

    /// What the cue does after one pass ([`CueEnd::End`] for an unknown cue index).
    pub fn cue_end(&self, cue: usize) -> CueEnd {
        self.cues.get(cue).map_or(CueEnd::End, |c| c.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_colours_round_trip() {
        assert_eq!(Rgb::parse_hex("#FF8000"), Some(Rgb::new(255, 128, 0)));
        assert_eq!(Rgb::new(1, 2, 255).to_hex(), "#0102ff");
        for bad in ["ff8000", "#ff800", "#ff80000", "#gg0000", "#ff800é"] {
            assert_eq!(Rgb::parse_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_round_trips_and_id_is_stable() {
        let show = crate::compile_str(
            "title = \"x\"\nzones = [\"a\"]\n[[cue]]\nname = \"c\"\n[[cue.segment]]\nkind = \"pulse\"\ncolour = \"#102030\"\nperiod = 1000\ndur = 2000\n",
            "x.toml",
        )
        .unwrap();
        let json = show.to_json();
        assert!(json.starts_with("{\"format\":1,\"title\":\"x\",\"zones\":[\"a\"],\"cues\":[{\"name\":\"c\",\"end\":\"hold\""));
        let back = CompiledShow::from_json(&json).unwrap();
        assert_eq!(back, show);
        assert_eq!(back.id(), show.id());
        assert_eq!(show.id_hex().len(), 32);
        assert_eq!(show.cue_index("c"), Some(0));
        assert_eq!(show.cue_duration_ms(0), 2000);
        assert_eq!(show.cue_end(0), CueEnd::Hold);
    }

    #[test]
    fn malformed_compiled_json_is_rejected() {
        let good = "{\"format\":1,\"title\":\"x\",\"zones\":[\"a\"],\"cues\":[{\"name\":\"c\",\"end\":\"hold\",\"dur\":5,\"segs\":[{\"k\":\"solid\",\"t\":0,\"d\":5,\"c\":[1,2,3]}]}]}";
        assert!(CompiledShow::from_json(good).is_ok());
        for bad in [
            good.replace("\"dur\":5", "\"dur\":6"),
            good.replace("\"t\":0", "\"t\":1"),
            good.replace("\"format\":1", "\"format\":2"),
            good.replace("[1,2,3]", "[1,2,300]"),
            good.replace("\"zones\":[\"a\"]", "\"zones\":[]"),
            good.replace("\"k\":\"solid\"", "\"k\":\"wave\""),
        ] {
            assert!(CompiledShow::from_json(&bad).is_err(), "{bad}");
        }
    }
}
