//! Optional mutual TLS for cluster sessions (rustls, aws-lc-rs, as ractor_cluster
//! already builds it). Every node presents `cert`/`key` and accepts only peers
//! whose certificate chains to `ca`; the cookie check still runs inside.

use std::sync::Arc;

use swarmd_config::TlsSection;
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
}

impl Tls {
    /// Reads the PEM files; every error names the file and what is wrong.
    pub fn load(section: &TlsSection) -> Result<Self, String> {
        let provider = Arc::new(aws_lc_rs::default_provider());
        let certs = read_certs(&section.cert)?;
        let key = PrivateKeyDer::from_pem_file(&section.key)
            .map_err(|e| format!("cluster.tls.key: {}: {e}", section.key.display()))?;
        let mut roots = RootCertStore::empty();
        for ca in read_certs(&section.ca)? {
            roots
                .add(ca)
                .map_err(|e| format!("cluster.tls.ca: {}: {e}", section.ca.display()))?;
        }
        let roots = Arc::new(roots);
        let server = server_config(&provider, roots.clone(), certs.clone(), key.clone_key())?;
        let client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| format!("cluster.tls: client certificate: {e}"))?;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    /// The name a dialed peer's certificate must carry: its host or IP.
    pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
        ServerName::try_from(host.to_string()).map_err(|e| format!("{host:?}: {e}"))
    }
}

fn server_config(
    provider: &Arc<CryptoProvider>,
    roots: Arc<RootCertStore>,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, String> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| format!("cluster.tls.ca: {e}"))?;
    ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("cluster.tls: certificate and key: {e}"))
}

fn read_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate found", path.display()));
    }
    Ok(certs)
}
