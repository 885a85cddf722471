//! The TLS client configuration for the push services: rustls (ring), the
//! system's root certificates plus `[notify] ca_file`, HTTP/2 by ALPN.
//! Certificates are always verified; there is no switch to turn that off.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read [notify] ca_file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("[notify] ca_file {0} holds no PEM certificate")]
    EmptyCaFile(String),
    #[error("no trusted root certificate: the system has none (install ca-certificates) and [notify] ca_file is not set")]
    NoRoots,
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// The system's roots (as OpenSSL would find them: `SSL_CERT_FILE`,
/// `SSL_CERT_DIR`, the distribution's bundle), plus every certificate of
/// `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!("system root certificates: {e}");
    }
    let (_, ignored) = roots.add_parsable_certificates(native.certs);
    if ignored > 0 {
        tracing::debug!("{ignored} system root certificates could not be used");
    }
    if let Some(path) = ca_file {
        let shown = path.display().to_string();
        let certs = read_pem_certs(path).map_err(|reason| TlsError::CaFile {
            path: shown.clone(),
            reason,
        })?;
        if certs.is_empty() {
            return Err(TlsError::EmptyCaFile(shown));
        }
        for c in certs {
            roots.add(c).map_err(|e| TlsError::CaFile {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    // ring: the crypto the JWTs are signed with too, and a far shorter build
    // than aws-lc-rs; it lacks only the post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(matches!(
            client_config(Some(&empty)),
            Err(TlsError::EmptyCaFile(_))
        ));
        let missing = dir.path().join("missing.pem");
        let e = client_config(Some(&missing)).unwrap_err().to_string();
        assert!(e.contains("missing.pem"), "{e}");
        let ca = mobile_session_push_standin::TestCa::new();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca.cert_pem()).unwrap();
        let config = client_config(Some(&good)).unwrap();
        assert_eq!(config.alpn_protocols, [b"h2".to_vec()]);
    }
}
