//! Optional mutual TLS for cluster sessions (rustls, aws-lc-rs, as ractor_cluster
//! already builds it). Every node presents `cert`/`key` and accepts only peers
//! whose certificate chains to `ca` and names the peer's node (a DNS SAN);
//! the cookie check still runs inside.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use swarmd_config::TlsSection;
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{
    CertificateDer, InvalidDnsNameError, PrivateKeyDer, ServerName,
};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A TLS file or setting that cannot be used: the config key, the file if
/// one is at fault, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {}{why}", path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
pub struct TlsError {
    pub key: &'static str,
    pub path: Option<PathBuf>,
    pub why: String,
}

impl TlsError {
    fn new(key: &'static str, path: Option<&Path>, why: impl std::fmt::Display) -> Self {
        Self {
            key,
            path: path.map(Path::to_owned),
            why: why.to_string(),
        }
    }
}

#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
    /// What each connection's peer presented, for the gateway's name check.
    pub peer_certs: super::PeerCerts,
}

impl Tls {
    /// Reads the PEM files; every error names the file and what is wrong.
    pub fn load(section: &TlsSection) -> Result<Self, TlsError> {
        let provider = Arc::new(aws_lc_rs::default_provider());
        let certs = read_certs("cluster.tls.cert", &section.cert)?;
        refuse_exposed_key("cluster.tls.key", &section.key)?;
        let key = PrivateKeyDer::from_pem_file(&section.key)
            .map_err(|e| TlsError::new("cluster.tls.key", Some(&section.key), e))?;
        let mut roots = RootCertStore::empty();
        for ca in read_certs("cluster.tls.ca", &section.ca)? {
            roots
                .add(ca)
                .map_err(|e| TlsError::new("cluster.tls.ca", Some(&section.ca), e))?;
        }
        let roots = Arc::new(roots);
        let server = server_config(&provider, roots.clone(), certs.clone(), key.clone_key())?;
        let client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::new("cluster.tls", None, e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| TlsError::new("cluster.tls.cert", None, e))?;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
            peer_certs: super::PeerCerts::default(),
        })
    }

    /// The name a dialed peer's certificate must carry: its host or IP.
    pub fn server_name(host: &str) -> Result<ServerName<'static>, InvalidDnsNameError> {
        ServerName::try_from(host.to_string())
    }
}

fn server_config(
    provider: &Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| TlsError::new("cluster.tls.ca", None, e))?;
    ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::new("cluster.tls", None, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| {
            TlsError::new(
                "cluster.tls.cert",
                None,
                format!("certificate and key: {e}"),
            )
        })
}

/// A private key that group or others can read is refused, as the cookie is.
pub fn refuse_exposed_key(key: &'static str, path: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| TlsError::new(key, Some(path), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        let why = format!(
            "the private key is readable by group or others (mode {mode:o}); run: chmod 600 {}",
            path.display()
        );
        return Err(TlsError::new(key, Some(path), why));
    }
    Ok(())
}

fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::new(key, Some(path), e))?;
    if certs.is_empty() {
        return Err(TlsError::new(key, Some(path), "no PEM certificate found"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_others_can_read_is_refused_naming_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("node.key");
        std::fs::write(&key, "not even a key").unwrap();
        for exposed in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(exposed)).unwrap();
            let err = refuse_exposed_key("cluster.tls.key", &key).unwrap_err();
            assert_eq!(err.key, "cluster.tls.key");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(refuse_exposed_key("cluster.tls.key", &key).is_ok());
    }
}
