//! Default filesystem locations: the operator socket and the state file.

use std::path::{Path, PathBuf};

/// Environment variable overriding the operator socket path.
pub const SOCKET_ENV: &str = "CROWDLIGHT_SOCKET";

/// The contract default: `$XDG_RUNTIME_DIR/crowdlight/beacon.sock`, else
/// `/tmp/crowdlight-$UID/beacon.sock`.
pub fn default_socket_path() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("crowdlight/beacon.sock"),
        None => PathBuf::from(format!(
            "/tmp/crowdlight-{}/beacon.sock",
            rustix::process::getuid().as_raw()
        )),
    }
}

/// The default state file: `beacon-state.json` next to the socket.
pub fn default_state_path(socket: &Path) -> PathBuf {
    socket
        .parent()
        .unwrap_or(Path::new("."))
        .join("beacon-state.json")
}

/// Why a private directory (socket or state) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// It could not be created or inspected.
    #[error("directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Another user owns it: whoever owns it can replace the socket or the state file.
    #[error(
        "directory {path} belongs to uid {owner}, not to this user (uid {me}); \
         use a directory of your own (--socket / --state-file)"
    )]
    NotOurs {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's uid.
        me: u32,
    },
    /// Group or others may write into it: they could replace the socket or the state file.
    #[error(
        "directory {path} is writable by group or others (mode {mode:o}); \
         run `chmod go-w {path}` or use another directory"
    )]
    Writable {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// It exists but is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
}

/// Makes sure `dir` is fit to hold the operator socket or the state file, before anything in
/// it is read or created: creates it (and missing parents) with mode 0700 if absent; refuses an
/// existing one that is not owned by this user or is writable by group or others. A mode like
/// 0750 (a group that may reach the socket but not write the directory) is fine.
pub fn ensure_private_dir(dir: &Path) -> Result<(), DirError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let io = |source| DirError::Io {
        path: dir.to_owned(),
        source,
    };
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    let meta = std::fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(DirError::NotADirectory(dir.to_owned()));
    }
    let me = rustix::process::getuid().as_raw();
    if meta.uid() != me {
        return Err(DirError::NotOurs {
            path: dir.to_owned(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(DirError::Writable {
            path: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// The directory holding `file` (`.` for a bare file name).
pub fn parent_dir(file: &Path) -> &Path {
    file.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_missing_directories_0700_whatever_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        // Again: an existing private directory is fine; so is 0750.
        ensure_private_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        ensure_private_dir(&dir).unwrap();
    }

    #[test]
    fn refuses_writable_and_foreign_directories() {
        let tmp = tempfile::tempdir().unwrap();
        for m in [0o777, 0o770, 0o1777, 0o702] {
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(m)).unwrap();
            let e = ensure_private_dir(tmp.path()).unwrap_err();
            assert!(matches!(e, DirError::Writable { .. }), "{m:o}: {e}");
            assert!(e.to_string().contains("chmod go-w"), "{e}");
        }
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            ensure_private_dir(&file),
            Err(DirError::NotADirectory(_))
        ));
        if rustix::process::getuid().is_root() {
            let theirs = tmp.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            let e = ensure_private_dir(&theirs).unwrap_err();
            assert!(matches!(e, DirError::NotOurs { owner: 65534, .. }), "{e}");
        } else {
            eprintln!("SKIPPED the foreign-owner case: needs root to chown");
        }
    }
}
