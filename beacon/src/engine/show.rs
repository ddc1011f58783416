//! What the engine needs to know about a loaded show: id, path and each cue's length and end.

use std::path::PathBuf;

use serde::Serialize;
use shows::{CompiledShow, CueEnd};

use crate::wire::{MAX_NAME, ShowId};

/// One cue as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CueInfo {
    /// Cue name.
    pub name: String,
    /// Length of one pass, ms.
    pub duration_ms: u64,
    /// What happens after one pass.
    pub end: CueEnd,
}

/// A loaded show, reduced to what the engine schedules with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowInfo {
    /// Content id of the compiled show.
    pub id: ShowId,
    /// Show title.
    pub title: String,
    /// The source file it was compiled from (absolute where possible).
    pub path: PathBuf,
    /// Cues in show order.
    pub cues: Vec<CueInfo>,
    /// Zone names in show order (the live layer names zones by their index here).
    pub zones: Vec<String>,
}

/// Why a compiled show cannot be driven by the beacon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShowInfoError {
    /// The show has no cues.
    #[error("the show has no cues")]
    NoCues,
    /// A cue name does not fit in a packet.
    #[error(
        "cue name {:?} is {len} bytes; the beacon carries at most {MAX_NAME}",
        super::text::shorten(name, MAX_NAME)
    )]
    NameTooLong {
        /// The name.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
}

impl ShowInfo {
    /// Extracts and validates the engine's view of a compiled show.
    pub fn from_compiled(show: &CompiledShow, path: PathBuf) -> Result<ShowInfo, ShowInfoError> {
        let cues: Vec<CueInfo> = show
            .cue_names()
            .iter()
            .enumerate()
            .map(|(i, name)| CueInfo {
                name: (*name).to_owned(),
                duration_ms: show.cue_duration_ms(i),
                end: show.cue_end(i),
            })
            .collect();
        let mut info = ShowInfo::new(show.id(), show.title().to_owned(), path, cues)?;
        info.zones = show.zones.clone();
        Ok(info)
    }

    /// Builds and validates a show description (cues non-empty, names ≤ [`MAX_NAME`] bytes).
    pub fn new(
        id: ShowId,
        title: String,
        path: PathBuf,
        cues: Vec<CueInfo>,
    ) -> Result<ShowInfo, ShowInfoError> {
        if cues.is_empty() {
            return Err(ShowInfoError::NoCues);
        }
        if let Some(c) = cues.iter().find(|c| c.name.len() > MAX_NAME) {
            return Err(ShowInfoError::NameTooLong {
                name: c.name.clone(),
                len: c.name.len(),
            });
        }
        Ok(ShowInfo {
            id,
            title,
            path,
            cues,
            zones: Vec::new(),
        })
    }

    /// The id as 32 lowercase hex characters.
    pub fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// Index of a cue by name.
    pub fn cue_index(&self, name: &str) -> Option<usize> {
        self.cues.iter().position(|c| c.name == name)
    }

    /// All cue names in show order.
    pub fn cue_names(&self) -> Vec<String> {
        self.cues.iter().map(|c| c.name.clone()).collect()
    }

    /// The cue after `name` in show order.
    pub fn cue_after(&self, name: &str) -> Option<&str> {
        let i = self.cue_index(name)?;
        self.cues.get(i + 1).map(|c| c.name.as_str())
    }
}

/// The show part of a status reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ShowSummary {
    /// Show id, hex.
    pub id: String,
    /// Title.
    pub title: String,
    /// Source file.
    pub path: PathBuf,
    /// Cue names in show order.
    pub cues: Vec<String>,
    /// Length of one pass of each cue, ms (same order as `cues`).
    #[serde(default)]
    pub durations_ms: Vec<u64>,
    /// Zone names in show order.
    #[serde(default)]
    pub zones: Vec<String>,
}
