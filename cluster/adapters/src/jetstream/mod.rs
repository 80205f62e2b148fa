//! The event hub on NATS JetStream (`hub.backend = "jetstream"`): edges
//! publish their flight recorders to one stream, one message per event with
//! `Nats-Msg-Id` = `<node>/<seq>`, and advance their cursor only on
//! JetStream's PubAck (stored, by a quorum of replicas if several); cloud nodes read the
//! stream with a durable pull consumer into their own ledger, idempotently
//! by event id, and ack only after their own flush.
//!
//! Each cloud node has its own durable consumer (named after the node), so
//! each keeps the whole picture and answers `events`/`trace` for every edge;
//! a queue group would split the events between clouds and leave each one's
//! ledger partial.

pub mod cloud_tier;
mod ingest;
pub mod lease;
mod publish;
pub mod replica;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_nats::jetstream::{self, Context, stream};
use swarmd_config::hub::JetStreamSection;
use swarmd_messages::Event;

pub use ingest::{IngestArgs, IngestMsg, JetStreamIngest, ingest_child};
pub use publish::JetStreamHub;

/// Why the hub could not be reached or used; the text names the cause.
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    #[error("cannot connect to NATS at {url}: {why}")]
    Connect { url: String, why: String },
    #[error("the JetStream stream {stream} is not usable: {why}")]
    Stream { stream: String, why: String },
    #[error("JetStream: {0}")]
    Other(String),
}

/// The id JetStream deduplicates by: an event's ledger id, never reused.
pub fn message_id(event: &Event) -> String {
    format!("{}/{}", event.id.node, event.id.seq)
}

/// A password file is at most this long.
const MAX_PASSWORD_BYTES: u64 = 4096;

/// `hub.jetstream.password_file`: 0600 (group or others may not read it)
/// and at most 4 KiB, whitespace trimmed.
fn read_password(path: &std::path::Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("password file {shown}: {e}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "password file {shown} is readable by group or others (mode {mode:o}); run: chmod 600 {shown}"
        ));
    }
    if meta.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "password file {shown} is over {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("password file {shown}: {e}"))?;
    Ok(text.trim().to_string())
}

pub use crate::redacted_url as redacted;

/// Connects as `name` and makes sure the stream exists as configured.
pub async fn connect(section: &JetStreamSection, name: &str) -> Result<Context, JetStreamError> {
    let failed = |why: String| JetStreamError::Connect {
        url: redacted(&section.url),
        why,
    };
    let mut options = async_nats::ConnectOptions::new()
        .name(format!("swarmd {name}"))
        .connection_timeout(section.timeout())
        .request_timeout(Some(section.timeout()));
    if let Some(path) = &section.credentials_file {
        options = options
            .credentials_file(path)
            .await
            .map_err(|e| failed(format!("credentials file {}: {e}", path.display())))?;
    }
    if let (Some(user), Some(path)) = (&section.user, &section.password_file) {
        let password = read_password(path).map_err(failed)?;
        options = options.user_and_password(user.clone(), password);
    }
    if let Some(ca) = &section.ca_file {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    let urls: Vec<&str> = section.url.split(',').map(str::trim).collect();
    let client = tokio::time::timeout(section.timeout(), options.connect(urls))
        .await
        .map_err(|_| failed(format!("no answer within {:?}", section.timeout())))?
        .map_err(|e| failed(e.to_string()))?;
    let mut context = jetstream::new(client);
    context.set_timeout(section.timeout());
    ensure_stream(&context, section).await?;
    Ok(context)
}

async fn ensure_stream(
    context: &Context,
    section: &JetStreamSection,
) -> Result<(), JetStreamError> {
    let config = stream::Config {
        name: section.stream.clone(),
        subjects: section.subjects(),
        storage: stream::StorageType::File,
        num_replicas: section.replicas,
        duplicate_window: section.duplicate_window(),
        ..Default::default()
    };
    context
        .get_or_create_stream(config)
        .await
        .map(drop)
        .map_err(|e| JetStreamError::Stream {
            stream: section.stream.clone(),
            why: e.to_string(),
        })
}

/// What a cloud's consumer did, shared with `stats`.
#[derive(Clone, Default)]
pub struct IngestStats(Arc<Counters>);

#[derive(Default)]
struct Counters {
    applied: AtomicU64,
    refused: AtomicU64,
    misattributed: AtomicU64,
    failures: AtomicU64,
    pending: AtomicU64,
}

/// A reading of [`IngestStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestSnapshot {
    /// Messages written to this node's ledger (or found there) and acked.
    pub applied: u64,
    /// Messages that can never be applied (undecodable, out of bounds, or
    /// a different event under an id held): terminated, logged, alarmed.
    pub refused: u64,
    /// Of those, messages on a subject other than their event's tenant and
    /// node (a publisher writing as another node): each raises an alarm.
    pub misattributed: u64,
    /// Fetch or apply rounds that failed (their messages come again).
    pub failures: u64,
    /// Messages in the stream this node has not applied yet: the lag.
    pub pending: u64,
}

impl IngestStats {
    pub fn snapshot(&self) -> IngestSnapshot {
        let c = &self.0;
        IngestSnapshot {
            applied: c.applied.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            misattributed: c.misattributed.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            pending: c.pending.load(Ordering::Relaxed),
        }
    }

    fn applied(&self, n: usize) {
        self.0.applied.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn refused(&self) {
        self.0.refused.fetch_add(1, Ordering::Relaxed);
    }

    fn misattributed(&self) {
        self.0.misattributed.fetch_add(1, Ordering::Relaxed);
    }

    fn failed(&self) {
        self.0.failures.fetch_add(1, Ordering::Relaxed);
    }

    fn pending(&self, n: u64) {
        self.0.pending.store(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_must_be_private_and_small() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("password");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_password(&path).unwrap_err();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password(&path).unwrap(), "s3cret");
        std::fs::write(&path, vec![b'x'; 5000]).unwrap();
        assert!(read_password(&path).unwrap_err().contains("over 4096"));
    }
}
