//! `beacon keygen FILE`: writes a new random venue key in the form [`Key::load`] reads
//! (64 hex digits), mode 0600, never over an existing file (unless forced) and never through
//! a symlink; optionally owned by the service user (`--owner USER[:GROUP]`, as root).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::wire::Key;

/// Why the key file was not written.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    /// The file exists and `--force` was not given.
    #[error(
        "{0} exists: not overwritten (give --force to replace it; relays need the new key too)"
    )]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The owner does not name a known user or group.
    #[error("--owner {0}: {1}")]
    Owner(String, String),
}

/// A resolved `USER[:GROUP]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// User id.
    pub uid: u32,
    /// Group id (the user's primary group when none is named).
    pub gid: u32,
}

/// Resolves `USER[:GROUP]` (names from /etc/passwd and /etc/group, or numeric ids).
pub fn parse_owner(spec: &str) -> Result<Owner, KeygenError> {
    parse_owner_in(spec, Path::new("/etc/passwd"), Path::new("/etc/group"))
}

fn parse_owner_in(spec: &str, passwd: &Path, group: &Path) -> Result<Owner, KeygenError> {
    let bad = |why: String| KeygenError::Owner(spec.to_owned(), why);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    // Fields: name:x:uid:gid:... (passwd), name:x:gid:... (group).
    let lookup = |table: &str, name: &str, id_field: usize| -> Option<(u32, Option<u32>)> {
        table.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.first() == Some(&name)).then(|| {
                let id = f.get(id_field)?.parse().ok()?;
                Some((id, f.get(id_field + 1).and_then(|g| g.parse().ok())))
            })?
        })
    };
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() {
        return Err(bad("no user".into()));
    }
    let passwd = read(passwd);
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => (uid, None),
        Err(_) => lookup(&passwd, user, 2).ok_or_else(|| bad(format!("no user {user:?}")))?,
    };
    let gid = match grp {
        None | Some("") => primary.or(if user.parse::<u32>().is_ok() {
            Some(uid)
        } else {
            None
        }),
        Some(g) => Some(match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                lookup(&read(group), g, 2)
                    .ok_or_else(|| bad(format!("no group {g:?}")))?
                    .0
            }
        }),
    }
    .ok_or_else(|| bad(format!("user {user:?} has no primary group")))?;
    Ok(Owner { uid, gid })
}

/// Writes a new random key to `path` (mode 0600), then hands it to `owner` if given.
/// Without `force` an existing file (or symlink) is refused; with it, the file is replaced
/// atomically (a temp file renamed over it, never written through a symlink).
pub fn write_new_key(path: &Path, force: bool, owner: Option<Owner>) -> Result<(), KeygenError> {
    let io = |source| KeygenError::Io {
        path: path.to_owned(),
        source,
    };
    let text = Key::generate().to_file_text();
    if force {
        let dir = crate::paths::parent_dir(path);
        let mut tmp = tempfile::Builder::new()
            .prefix(".venue-key.")
            .tempfile_in(dir)
            .map_err(io)?;
        tmp.write_all(text.as_bytes()).map_err(io)?;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
        if let Some(o) = owner {
            std::os::unix::fs::fchown(tmp.as_file(), Some(o.uid), Some(o.gid)).map_err(io)?;
        }
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
    } else {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    KeygenError::Exists(path.to_owned())
                } else {
                    io(e)
                }
            })?;
        let written = (|| {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            if let Some(o) = owner {
                std::os::unix::fs::fchown(&file, Some(o.uid), Some(o.gid))?;
            }
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })();
        if let Err(e) = written {
            // Leave nothing half-made behind (e.g. --owner without root): a retry starts clean.
            let _ = std::fs::remove_file(path);
            return Err(io(e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_resolve_from_the_tables() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        let group = dir.path().join("group");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\ncrowdlight:x:990:985::/:/usr/sbin/nologin\n",
        )
        .unwrap();
        std::fs::write(&group, "root:x:0:\ncrowdlight:x:985:\nops:x:1200:alice\n").unwrap();
        let p = |s| parse_owner_in(s, &passwd, &group);
        assert_eq!(p("crowdlight").unwrap(), Owner { uid: 990, gid: 985 });
        assert_eq!(
            p("crowdlight:ops").unwrap(),
            Owner {
                uid: 990,
                gid: 1200
            }
        );
        assert_eq!(p("crowdlight:7").unwrap(), Owner { uid: 990, gid: 7 });
        assert_eq!(p("42").unwrap(), Owner { uid: 42, gid: 42 });
        for bad in ["nobody-here", "crowdlight:nogroup", ":ops", ""] {
            assert!(matches!(p(bad), Err(KeygenError::Owner(..))), "{bad}");
        }
    }
}
