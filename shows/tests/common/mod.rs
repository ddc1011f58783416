//! What the `shows` binary tests share: running the real binary from the crate's directory.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `shows` crate's directory (tests name example files relative to it).
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `shows ARGS...` in [`dir`].
pub fn shows(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shows"))
        .args(args)
        .current_dir(dir())
        .output()
        .expect("run shows")
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
