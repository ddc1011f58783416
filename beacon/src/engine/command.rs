//! Operator commands the engine accepts, its replies and its errors.

use serde::{Deserialize, Serialize};

use super::show::{ShowInfo, ShowSummary};
use super::text::shorten;
use crate::wire::MAX_NAME;

/// One operator command, as the engine takes it (the show for `Load` is already compiled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Report the state.
    Status,
    /// Replace the show (same id: nothing changes; else the state becomes stopped).
    Load(ShowInfo),
    /// Arm a cue: it becomes the target of a bare `go`; from stopped/standby the state
    /// becomes standby.
    Standby(String),
    /// Start a cue at now + lead time: the named one, else the armed/next cue.
    Go(Option<String>),
    /// Freeze the running cue where it is.
    Hold,
    /// Continue a held cue from where it froze, immediately.
    Resume,
    /// Everything dark, now.
    Blackout,
    /// Stop playing.
    Stop,
    /// The lighting desk's whole current set of held zones (name → RGB); empty releases.
    Live {
        /// Held zones.
        zones: std::collections::BTreeMap<String, [u8; 3]>,
        /// Every desk source is gone: an empty set is published at once (not coalesced), so
        /// phones return to the show within the source timeout + the live lead (< 3 s).
        lost: bool,
    },
}

/// What the engine reports after a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// One line saying what happened (and when the cue starts).
    pub message: String,
    /// The state after the command.
    pub status: Status,
}

/// A status snapshot (the JSON of `beacon status --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// `stopped`, `standby`, `running`, `hold` or `blackout`.
    pub state: String,
    /// The cue of the state, if any.
    pub cue: Option<String>,
    /// Cue start, µs in the beacon timebase (running, hold).
    pub start_us: Option<u64>,
    /// Frozen offset into the cue, µs (hold).
    pub offset_us: Option<u64>,
    /// What a bare `go` fires.
    pub next: Option<String>,
    /// Sequence number of the last packet sent.
    pub seq: u64,
    /// Boot id, 16 hex digits.
    pub boot: String,
    /// Show id (hex) or null.
    pub show: Option<String>,
    /// The loaded show.
    pub show_info: Option<ShowSummary>,
    /// Beacon clock at the reply, µs.
    pub now_us: u64,
    /// GO lead time, ms.
    pub lead_ms: u64,
    /// Zones the lighting desk holds, name → `#rrggbb` (empty when none).
    #[serde(default)]
    pub live: std::collections::BTreeMap<String, String>,
}

/// Why a command was refused (the running show is untouched).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No show is loaded.
    #[error("no show loaded (use `beacon load FILE`)")]
    NoShow,
    /// The cue is not in the show.
    #[error(
        "unknown cue {:?}; valid cues: {}",
        shorten(cue, MAX_NAME),
        list(valid)
    )]
    UnknownCue {
        /// The name asked for.
        cue: String,
        /// The show's cues.
        valid: Vec<String>,
    },
    /// Bare `go` with nothing armed and no next cue.
    #[error(
        "nothing to go: no cue in standby and no next cue (name one: {})",
        list(valid)
    )]
    NothingToGo {
        /// The show's cues.
        valid: Vec<String>,
    },
    /// A cue name longer than any cue can be (the wire carries at most [`MAX_NAME`] bytes).
    #[error("cue name of {0} bytes: cue names are at most {MAX_NAME} bytes")]
    CueNameTooLong(usize),
    /// `hold` needs a running cue.
    #[error("cannot hold: nothing is running (state: {0})")]
    NotRunning(String),
    /// `resume` needs a held cue.
    #[error("cannot resume: nothing is held (state: {0})")]
    NotHeld(String),
    /// The show file does not compile or cannot be driven.
    #[error("invalid show: {0}")]
    InvalidShow(String),
    /// A live zone the show does not have.
    #[error(
        "unknown zone {:?}; valid zones: {}",
        shorten(zone, MAX_NAME),
        list(valid)
    )]
    UnknownZone {
        /// The name given.
        zone: String,
        /// The show's zones.
        valid: Vec<String>,
    },
    /// More live zones than a packet carries.
    #[error("{0} live zones: at most {max} at once", max = crate::wire::MAX_LIVE_ZONES)]
    TooManyLiveZones(usize),
}

impl CommandError {
    /// A stable machine-readable name for the error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            CommandError::NoShow => "no_show",
            CommandError::UnknownCue { .. } | CommandError::CueNameTooLong(_) => "unknown_cue",
            CommandError::NothingToGo { .. } => "nothing_to_go",
            CommandError::NotRunning(_) => "not_running",
            CommandError::NotHeld(_) => "not_held",
            CommandError::InvalidShow(_) => "invalid_show",
            CommandError::UnknownZone { .. } => "unknown_zone",
            CommandError::TooManyLiveZones(_) => "too_many_zones",
        }
    }
}

/// Most cue names an error lists; the rest are counted (a reply stays far below the 64 KiB
/// frame cap however big the show).
pub const MAX_LISTED: usize = 20;

/// `a, b, c` for at most `MAX_LISTED` names, then `… and N more`.
pub fn list(names: &[String]) -> String {
    let mut out = names
        .iter()
        .take(MAX_LISTED)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX_LISTED {
        out += &format!(", … and {} more", names.len() - MAX_LISTED);
    }
    out
}
