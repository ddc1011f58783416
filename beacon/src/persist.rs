//! Crash-safe persistence of the engine [`Snapshot`]: write a temp file, fsync, rename,
//! fsync the directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::Snapshot;

/// Why the state file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// IO failure.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a snapshot.
    #[error("state file {path} is not valid: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The decoding error.
        source: serde_json::Error,
    },
}

/// Writes `bytes` to `path` atomically: readers see the old or the new content, never a mix,
/// even across a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Saves a snapshot as JSON.
pub fn save(path: &Path, snapshot: &Snapshot) -> Result<(), PersistError> {
    let json = serde_json::to_vec_pretty(snapshot).expect("snapshot serialises");
    write_atomic(path, &json).map_err(|source| PersistError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Loads a snapshot; `Ok(None)` when the file does not exist.
pub fn load(path: &Path) -> Result<Option<Snapshot>, PersistError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| PersistError::Format {
                    path: path.to_owned(),
                    source,
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PersistError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::State;

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(load(&path).unwrap().is_none());
        let snap = Snapshot {
            show_path: Some("/s.toml".into()),
            show_id: Some("00".repeat(16)),
            state: State::Running {
                cue: "a".into(),
                start_us: 5,
            },
            armed: None,
            last_cue: Some("a".into()),
        };
        save(&path, &snap).unwrap();
        save(&path, &snap).unwrap();
        assert_eq!(load(&path).unwrap(), Some(snap));
        assert!(!dir.path().join("state.json.tmp").exists());
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(load(&path), Err(PersistError::Format { .. })));
    }
}
