//! Short-lived self-signed certificates for tests and benchmarks: the one place the tree makes a
//! certificate (rcgen, already linked through `wtransport`). Not for a venue's audience —
//! browsers only accept these through `serverCertificateHashes` (WebTransport) or a
//! click-through warning (HTTPS).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

const DAY_SECS: u64 = 86_400;

/// Generating or writing a development certificate failed.
#[derive(Debug, thiserror::Error)]
pub enum DevCertError {
    /// rcgen could not make the key or sign the certificate.
    #[error("generating the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM file could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What `std::fs::write` returned.
        source: std::io::Error,
    },
}

/// A self-signed ECDSA P-256 certificate for `localhost` and `127.0.0.1` and its key.
#[derive(Debug, Clone)]
pub struct DevCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    /// The certificate, DER (what a client adds to its roots or pins by hash).
    pub der: Vec<u8>,
}

impl DevCert {
    /// Generates one valid from the start of yesterday (UTC, so clocks a little behind accept it)
    /// for `days` days; `days` ≤ 14 makes it pinnable by WebTransport clients
    /// ([`super::MAX_PINNED_VALIDITY_SECS`]), more makes it not.
    pub fn generate(days: u32) -> Result<Self, DevCertError> {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        let today = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / DAY_SECS);
        let day = |n: u64| rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(n * DAY_SECS);
        params.not_before = day(today.saturating_sub(1));
        params.not_after = day(today.saturating_sub(1) + u64::from(days));
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        })
    }

    /// SHA-256 of [`DevCert::der`] (what `serverCertificateHashes` pins).
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }

    /// Writes `cert.pem` and `key.pem` into `dir`; returns their paths (for `--tls-cert`,
    /// `--tls-key`).
    pub fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf), DevCertError> {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        for (path, pem) in [(&cert, &self.cert_pem), (&key, &self.key_pem)] {
            std::fs::write(path, pem).map_err(|source| DevCertError::Write {
                path: path.clone(),
                source,
            })?;
        }
        Ok((cert, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_and_is_pinnable_for_up_to_14_days() {
        let dir = tempfile::tempdir().unwrap();
        for (days, pinnable) in [(9, true), (14, true), (90, false)] {
            let c = DevCert::generate(days).unwrap();
            let (cert, key) = c.write(dir.path()).unwrap();
            let loaded = super::super::load(&cert, &key).unwrap();
            assert_eq!(loaded.sha256, c.sha256());
            assert_eq!(loaded.pinnable(), pinnable, "{days} days");
            let (from, to) = loaded.validity.unwrap();
            assert_eq!(to - from, i64::from(days) * DAY_SECS as i64);
        }
    }
}
