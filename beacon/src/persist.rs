//! Crash-safe persistence of the engine [`Snapshot`]: write a securely created temp file
//! (random name, `O_EXCL`, mode 0600: never an existing file or a symlink), fsync, rename over
//! the state file, fsync the directory. The directory itself is checked by
//! [`crate::paths::ensure_private_dir`] before the daemon reads or writes anything in it.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::engine::Snapshot;

/// Why the state file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading, writing or renaming the state file failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failing read, write or rename (a missing file is not an error: no state yet).
        source: std::io::Error,
    },
    /// The state file is a symlink or belongs to another user: not read.
    #[error("state file {path} {why}; not read (remove it, or start with --fresh)")]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
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
/// even across a crash. The temp file is created next to `path` under a random name with
/// `O_CREAT|O_EXCL` (tempfile), so a file or symlink planted there is never written through.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = crate::paths::parent_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".beacon-state.")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
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

/// Loads a snapshot; `Ok(None)` when the file does not exist. A symlink or a file owned by
/// another user is refused unread.
pub fn load(path: &Path) -> Result<Option<Snapshot>, PersistError> {
    match read_own_file(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| PersistError::Format {
                    path: path.to_owned(),
                    source,
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            Err(PersistError::Untrusted {
                path: path.to_owned(),
                why: "is a symlink".into(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(PersistError::Untrusted {
                path: path.to_owned(),
                why: e.to_string(),
            })
        }
        Err(source) => Err(PersistError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads a file that must be a regular file owned by this user (`O_NOFOLLOW`, checked on the
/// open descriptor, so nothing can be swapped in between).
fn read_own_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    let meta = file.metadata()?;
    let me = rustix::process::getuid().as_raw();
    if !meta.is_file() || meta.uid() != me {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "is not a regular file owned by uid {me} (owner uid {})",
                meta.uid()
            ),
        ));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
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
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp left"
        );
        std::fs::write(&path, b"{").unwrap();
        assert!(matches!(load(&path), Err(PersistError::Format { .. })));
    }

    fn snap() -> Snapshot {
        Snapshot {
            show_path: None,
            show_id: None,
            state: State::Blackout,
            armed: None,
            last_cue: None,
        }
    }

    #[test]
    fn the_write_never_follows_a_planted_symlink_or_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let path = dir.path().join("state.json");
        // The old fixed temp name, planted as a symlink to the victim.
        std::os::unix::fs::symlink(&victim, dir.path().join("state.json.tmp")).unwrap();
        save(&path, &snap()).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        // The state file itself a symlink to the victim: replaced, not written through.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        save(&path, &snap()).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&path).unwrap(), Some(snap()));
    }

    #[test]
    fn a_symlinked_or_foreign_state_file_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("elsewhere.json");
        save(&real, &snap()).unwrap();
        let link = dir.path().join("state.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = load(&link).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        if rustix::process::getuid().is_root() {
            std::os::unix::fs::chown(&real, Some(65534), None).unwrap();
            let e = load(&real).unwrap_err();
            assert!(matches!(e, PersistError::Untrusted { .. }), "{e}");
        } else {
            eprintln!("SKIPPED the foreign-owner case: needs root to chown");
        }
    }
}
