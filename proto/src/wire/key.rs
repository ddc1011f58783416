//! The venue key: 32 secret bytes shared by the beacon and every relay, loaded from a file.

use std::fmt;
use std::path::{Path, PathBuf};

/// The fixed development key (it is public: never use it in a venue).
const DEV_KEY: [u8; 32] = *b"crowdlight dev key: not secret!!";

/// A 32-byte HMAC-SHA256 key that authenticates every beacon packet.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Io {
        /// The file tried.
        path: PathBuf,
        /// Why reading failed (not found, permission denied...).
        source: std::io::Error,
    },
    /// The file is readable or writable by group or others.
    #[error(
        "key file {path} has mode {mode:04o}: it must not be accessible by group or others (chmod 600)"
    )]
    Permissions {
        /// The file tried.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The content is neither 64 hex digits nor 32 raw bytes.
    #[error("key file {path} must hold 64 hex digits or exactly 32 raw bytes (found {len} bytes)")]
    Format {
        /// The file tried.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
}

impl Key {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    /// The fixed development key (the same bytes as `config/dev.key`).
    pub fn dev() -> Key {
        Key(DEV_KEY)
    }

    /// True for the development key.
    pub fn is_dev(&self) -> bool {
        self.0 == DEV_KEY
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Key {
        use rand::TryRngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the OS random generator works");
        Key(bytes)
    }

    /// The key file form [`Key::load`] reads: 64 lowercase hex digits and a newline.
    pub fn to_file_text(&self) -> String {
        format!("{}\n", hex::encode(self.0))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Loads a key file holding 64 hex digits (surrounding whitespace allowed) or 32 raw bytes.
    ///
    /// A file accessible by group or others is refused, unless it holds the (public)
    /// development key; refusing the development key itself is up to the caller (`is_dev`).
    pub fn load(path: &Path) -> Result<Key, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let bytes = std::fs::read(path).map_err(io)?;
        let key = Key::decode(&bytes).ok_or_else(|| KeyError::Format {
            path: path.to_owned(),
            len: bytes.len(),
        })?;
        if !key.is_dev() {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        Ok(key)
    }

    /// Decodes file content: hex (64 digits, whitespace trimmed) first, then 32 raw bytes.
    fn decode(bytes: &[u8]) -> Option<Key> {
        if let Ok(text) = std::str::from_utf8(bytes) {
            let text = text.trim();
            if text.len() == 64 {
                let mut out = [0u8; 32];
                if hex::decode_to_slice(text, &mut out).is_ok() {
                    return Some(Key(out));
                }
            }
        }
        <[u8; 32]>::try_from(bytes).ok().map(Key)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_dev() {
            f.write_str("Key(dev)")
        } else {
            f.write_str("Key(..)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, content: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn loads_hex_and_raw() {
        let dir = tempfile::tempdir().unwrap();
        let hex_path = write(
            dir.path(),
            "hex",
            format!("{}\n", "ab".repeat(32)).as_bytes(),
            0o600,
        );
        assert_eq!(Key::load(&hex_path).unwrap(), Key::from_bytes([0xab; 32]));
        let raw_path = write(dir.path(), "raw", &[7u8; 32], 0o400);
        assert_eq!(Key::load(&raw_path).unwrap(), Key::from_bytes([7; 32]));
    }

    #[test]
    fn refuses_open_permissions_and_bad_format() {
        let dir = tempfile::tempdir().unwrap();
        let open = write(dir.path(), "open", &[7u8; 32], 0o640);
        assert!(matches!(
            Key::load(&open),
            Err(KeyError::Permissions { .. })
        ));
        let short = write(dir.path(), "short", b"abcd", 0o600);
        assert!(matches!(
            Key::load(&short),
            Err(KeyError::Format { len: 4, .. })
        ));
        assert!(matches!(
            Key::load(&dir.path().join("missing")),
            Err(KeyError::Io { .. })
        ));
    }

    #[test]
    fn generated_keys_round_trip_through_the_file_form() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::generate();
        assert_ne!(key, Key::generate());
        assert!(!key.is_dev());
        let path = write(dir.path(), "k", key.to_file_text().as_bytes(), 0o600);
        assert_eq!(Key::load(&path).unwrap(), key);
    }

    #[test]
    fn shipped_dev_key_file_is_the_dev_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/dev.key");
        let key = Key::load(&path).unwrap();
        assert!(key.is_dev());
        assert_eq!(format!("{key:?}"), "Key(dev)");
    }
}
