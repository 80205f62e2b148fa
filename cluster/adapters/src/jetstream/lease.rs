//! The cloud tier's lease on JetStream: a key-value bucket whose
//! `max_age` is the lease's TTL, so the server's clock expires a holder
//! that stopped renewing (`crate::cloud_tier::lease` holds the algorithm).

use async_nats::jetstream::kv::{Operation, Store, UpdateErrorKind};
use async_nats::jetstream::stream;
use futures::future::BoxFuture;

use crate::cloud_tier::{KvError, LeaseConfig, LeaseKv, Versioned};

/// The lease bucket, made if missing. Its stream is made directly, as
/// `create_key_value` would make it: that call first asks for the account's
/// limits in a form older servers (Debian's 2.9) do not answer in.
pub async fn bucket(
    js: &async_nats::jetstream::Context,
    config: &LeaseConfig,
) -> Result<Store, String> {
    let stream = stream::Config {
        name: format!("KV_{}", config.bucket),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: 1,
        max_age: config.ttl,
        num_replicas: config.replicas.max(1),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..stream::Config::default()
    };
    let why = |e: &dyn std::fmt::Display| format!("lease bucket {}: {e}", config.bucket);
    js.get_or_create_stream(stream).await.map_err(|e| why(&e))?;
    js.get_key_value(&config.bucket).await.map_err(|e| why(&e))
}

/// A JetStream key-value bucket as the lease's store.
pub struct JetStreamLease(pub Store);

fn unavailable(e: impl std::fmt::Display) -> KvError {
    KvError::Unavailable(e.to_string())
}

impl LeaseKv for JetStreamLease {
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Versioned>, KvError>> {
        let key = key.to_string();
        Box::pin(async move {
            let entry = self.0.entry(&key).await.map_err(unavailable)?;
            Ok(entry
                .filter(|e| e.operation == Operation::Put)
                .map(|e| Versioned {
                    value: e.value.to_vec(),
                    revision: e.revision,
                }))
        })
    }

    fn create(&self, key: &str, value: Vec<u8>) -> BoxFuture<'_, Result<u64, KvError>> {
        let key = key.to_string();
        Box::pin(async move {
            use async_nats::jetstream::kv::CreateErrorKind;
            self.0
                .create(&key, value.into())
                .await
                .map_err(|e| match e.kind() {
                    CreateErrorKind::AlreadyExists => KvError::WrongRevision(e.to_string()),
                    _ => unavailable(e),
                })
        })
    }

    fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        revision: u64,
    ) -> BoxFuture<'_, Result<u64, KvError>> {
        let key = key.to_string();
        Box::pin(async move {
            self.0
                .update(&key, value.into(), revision)
                .await
                .map_err(|e| match e.kind() {
                    UpdateErrorKind::WrongLastRevision => KvError::WrongRevision(e.to_string()),
                    _ => unavailable(e),
                })
        })
    }

    fn delete(&self, key: &str, revision: u64) -> BoxFuture<'_, Result<(), KvError>> {
        let key = key.to_string();
        Box::pin(async move {
            self.0
                .delete_expect_revision(&key, Some(revision))
                .await
                .map_err(unavailable)
        })
    }
}
