//! TLS for venues that own a domain and certificate: the certificate store ([`CertStore`]: the
//! PEM chain and key, reloadable on SIGHUP — new handshakes use the new certificate, open
//! connections keep theirs), the rustls configurations for HTTPS (HTTP/1.1) and WebTransport
//! (HTTP/3, ALPN `h3`, TLS 1.3), and the certificate's validity period (`x509-parser`), which
//! decides whether browsers may pin it with `serverCertificateHashes` (at most 14 days, the
//! WebTransport rule). Serving HTTPS is the HTTP server's job (`crate::http_server::serve`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::ring as ring_provider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::shutdown::Shutdown;

pub mod dev_cert;

/// Longest certificate validity browsers accept for `serverCertificateHashes`, seconds.
pub const MAX_PINNED_VALIDITY_SECS: i64 = 14 * 24 * 3600;

/// Certificate loading errors.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or holds no PEM certificate.
    #[error("certificate {}: {source}", path.display())]
    CertFile {
        /// The certificate file.
        path: PathBuf,
        /// What the PEM reader said.
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("certificate {}: no CERTIFICATE block", path.display())]
    NoCertificate {
        /// The PEM file named in `[tls]`.
        path: PathBuf,
    },
    /// The leaf certificate is not a DER X.509 certificate.
    #[error("certificate {}: not an X.509 certificate", path.display())]
    NotX509 {
        /// The PEM file named in `[tls]`.
        path: PathBuf,
    },
    /// The key file could not be read or holds no PEM private key.
    #[error("private key {}: {source}", path.display())]
    KeyFile {
        /// The PEM file named in `[tls]`.
        path: PathBuf,
        /// What the PEM reader said.
        source: rustls_pki_types::pem::Error,
    },
    /// rustls cannot sign with the key, or the key does not belong to the certificate.
    #[error("private key {}: {source}", path.display())]
    Key {
        /// The PEM file named in `[tls]`.
        path: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

/// One loaded certificate.
#[derive(Debug)]
pub struct Loaded {
    /// What rustls presents.
    pub certified: Arc<CertifiedKey>,
    /// SHA-256 of the leaf certificate (DER).
    pub sha256: [u8; 32],
    /// Leaf validity (`notBefore`, `notAfter`), Unix seconds, if readable.
    pub validity: Option<(i64, i64)>,
}

impl Loaded {
    /// True if browsers may pin this certificate by hash (validity at most 14 days).
    pub fn pinnable(&self) -> bool {
        self.validity
            .is_some_and(|(from, to)| to > from && to - from <= MAX_PINNED_VALIDITY_SECS)
    }

    /// Lowercase hex of [`Loaded::sha256`].
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Loads a PEM certificate chain and key and checks that they belong together.
pub fn load(cert: &Path, key: &Path) -> Result<Loaded, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|source| TlsError::CertFile {
            path: cert.to_path_buf(),
            source,
        })?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::NoCertificate {
            path: cert.to_path_buf(),
        });
    };
    let sha256 = *wtransport::tls::Certificate::from_der(leaf.to_vec())
        .map_err(|_| TlsError::NotX509 {
            path: cert.to_path_buf(),
        })?
        .hash()
        .as_ref();
    let validity = validity_secs(leaf);
    let key_err = |source| TlsError::Key {
        path: key.to_path_buf(),
        source,
    };
    let der = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::KeyFile {
        path: key.to_path_buf(),
        source,
    })?;
    let signer = ring_provider::sign::any_supported_type(&der).map_err(key_err)?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(key_err)?;
    Ok(Loaded {
        certified: Arc::new(certified),
        sha256,
        validity,
    })
}

/// The (`notBefore`, `notAfter`) of a DER X.509 certificate, Unix seconds; `None` if the bytes
/// are not a certificate.
pub fn validity_secs(der: &[u8]) -> Option<(i64, i64)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let v = cert.validity();
    Some((v.not_before.timestamp(), v.not_after.timestamp()))
}

/// The current certificate, shared by HTTPS and WebTransport; [`CertStore::reload`] swaps it.
#[derive(Debug)]
pub struct CertStore {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<Loaded>>,
}

impl CertStore {
    /// Loads the files once (errors here stop startup).
    pub fn open(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let loaded = load(cert, key)?;
        Ok(Self {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(loaded)),
        })
    }

    /// The certificate in use.
    pub fn current(&self) -> Arc<Loaded> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Re-reads the files; on error keeps the old certificate and returns the error.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = Arc::new(load(&self.cert, &self.key)?);
        match self.current.write() {
            Ok(mut g) => *g = loaded,
            Err(p) => *p.into_inner() = loaded,
        }
        Ok(())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current().certified.clone())
    }
}

fn base_config(
    store: Arc<CertStore>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[u8],
) -> rustls::ServerConfig {
    let mut c =
        rustls::ServerConfig::builder_with_provider(Arc::new(ring_provider::default_provider()))
            .with_protocol_versions(versions)
            .unwrap_or_else(|_| unreachable!("ring supports TLS 1.2 and 1.3"))
            .with_no_client_auth()
            .with_cert_resolver(store);
    c.alpn_protocols = vec![alpn.to_vec()];
    c
}

/// rustls configuration for HTTPS (TLS 1.2/1.3, ALPN `http/1.1`).
pub fn https_config(store: Arc<CertStore>) -> rustls::ServerConfig {
    base_config(store, rustls::DEFAULT_VERSIONS, b"http/1.1")
}

/// rustls configuration for WebTransport over HTTP/3 (TLS 1.3, ALPN `h3`).
pub fn quic_config(store: Arc<CertStore>) -> rustls::ServerConfig {
    base_config(store, &[&rustls::version::TLS13], b"h3")
}

/// Reloads `store` on every SIGHUP until `shutdown` (logs the outcome; a bad file keeps the old
/// certificate).
pub async fn reload_on_sighup(store: Arc<CertStore>, mut shutdown: Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("tls: cannot listen for SIGHUP; certificate reload disabled");
        return;
    };
    loop {
        tokio::select! {
            r = hup.recv() => if r.is_none() { return },
            _ = shutdown.wait() => return,
        }
        match store.reload() {
            Ok(()) => {
                let c = store.current();
                tracing::info!(sha256 = c.sha256_hex(), "tls: certificate reloaded");
            }
            Err(error) => {
                tracing::error!(%error, "tls: reload failed, keeping the old certificate")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_rcgen_validity() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2026, 11, 20);
        params.not_after = rcgen::date_time_ymd(2026, 11, 30);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (a, b) = validity_secs(cert.der()).unwrap();
        assert_eq!(b - a, 10 * 86_400);
        assert_eq!(a, 1_795_132_800); // 2026-11-20T00:00:00Z
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&c, "not pem").unwrap();
        let e = load(&c, &k).unwrap_err();
        assert!(matches!(e, TlsError::NoCertificate { .. }), "{e}");
        assert!(e.to_string().contains("c.pem"), "{e}");
        let e = load(&dir.path().join("missing.pem"), &k).unwrap_err();
        assert!(matches!(e, TlsError::CertFile { .. }), "{e}");
    }

    proptest! {
        #[test]
        fn validity_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = validity_secs(&bytes);
        }
    }
}
