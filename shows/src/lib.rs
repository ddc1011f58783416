//! `shows`: the Crowdlight show format. A show is a hand-written TOML file (zones, palette, cues
//! of segments); this crate parses it, validates it (collecting every located problem, including
//! WCAG 2.3.1 flash limits), compiles it to a compact canonical JSON timeline with a content id,
//! evaluates it (the reference evaluator the page mirrors) and draws previews.
//! The formats and evaluation rules are documented in `shows/FORMAT.md`.

pub mod cli;
pub mod compile;
pub mod error;
pub mod eval;
pub mod glyphs;
pub mod import;
pub mod layout;
pub mod model;
pub mod preview;
pub mod source;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vectors;
pub mod wcag;

pub use compile::{
    Authoring, compile_file, compile_file_within, compile_for_authoring, compile_str,
    compile_str_within,
};
pub use error::{Problem, ProblemKind, ShowError};
pub use model::{CompiledShow, Cue, CueEnd, FORMAT_VERSION, Rgb, Segment, Shape, ShowId, SyncMode};
