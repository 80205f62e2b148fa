//! With TLS, a session's node name must be a DNS name its peer's certificate
//! was issued for. The TLS handshake happens before ractor_cluster's, which
//! is where the peer says its name, so each side records the certificate a
//! connection presented under the session's label, and the gateway checks
//! it against the authenticated name when the session is ready.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// Certificates kept for sessions not yet ready; beyond, the oldest goes
/// (its session, if it ever gets ready, is then refused).
const MAX_PENDING: usize = 1024;

#[derive(Clone, Default)]
pub struct PeerCerts(Arc<Mutex<Certs>>);

#[derive(Default)]
struct Certs {
    by_label: BTreeMap<String, CertificateDer<'static>>,
    order: VecDeque<String>,
}

impl PeerCerts {
    /// The end-entity certificate the connection labelled `label` presented.
    pub fn record(&self, label: &str, cert: CertificateDer<'static>) {
        let mut certs = self.lock();
        if certs.by_label.len() >= MAX_PENDING
            && let Some(oldest) = certs.order.pop_front()
        {
            certs.by_label.remove(&oldest);
        }
        if certs.by_label.insert(label.to_string(), cert).is_none() {
            certs.order.push_back(label.to_string());
        }
    }

    /// Whether the session labelled `label` may be node `name`: its
    /// certificate must be valid for `name` as a DNS name.
    pub fn check(&self, label: &str, name: &str) -> Result<(), String> {
        let certs = self.lock();
        let Some(cert) = certs.by_label.get(label) else {
            return Err("no client certificate was recorded for this connection".into());
        };
        certifies(cert, name)
    }

    pub fn forget(&self, label: &str) {
        let mut certs = self.lock();
        if certs.by_label.remove(label).is_some() {
            certs.order.retain(|l| l != label);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Certs> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The end-entity certificate a finished handshake saw from its peer.
pub fn end_entity(
    certs: Option<&[CertificateDer<'static>]>,
) -> Result<CertificateDer<'static>, String> {
    certs
        .and_then(|c| c.first())
        .cloned()
        .ok_or_else(|| "the peer presented no certificate".to_string())
}

/// Whether `cert` names `node` among its DNS subject alternative names.
pub fn certifies(cert: &CertificateDer<'_>, node: &str) -> Result<(), String> {
    let name = ServerName::try_from(node)
        .map_err(|e| format!("node name {node:?} is not a DNS name: {e}"))?;
    let cert = webpki::EndEntityCert::try_from(cert)
        .map_err(|e| format!("unreadable certificate: {e}"))?;
    cert.verify_is_valid_for_subject_name(&name)
        .map_err(|_| format!("the peer's certificate is not issued for node {node:?}"))
}
