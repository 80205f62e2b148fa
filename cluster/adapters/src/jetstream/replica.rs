//! The planner's state where a standby cloud can read it (DESIGN §18):
//! a [`Storage`] that writes the planner's trees (missions, recipe runs,
//! the board) to a JetStream stream before it writes them to the local
//! sled, so whatever a decision depended on is stored on the JetStream
//! servers before the decision goes out. A cloud that takes the lease
//! over first [`restore`]s those trees from the stream into its own sled,
//! then its planner loads them as after a restart.
//!
//! One message per key and write, on `<subject>.<tree>.<key as hex>`,
//! stamped with the writer's fencing token (header `Swarmd-Token`; a
//! removal has header `Swarmd-Op: del`). The stream keeps the last few
//! messages of each subject; restoring keeps, per key, the last message of
//! the highest token, so a late write of a deposed leader never hides its
//! successor's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{Context, consumer, stream};
use futures::StreamExt;
use futures::future::BoxFuture;
use swarmd_storage::{Batch, CommitError, Entry, Storage, StorageError};
use tokio::sync::watch;
use tracing::{info, warn};

use super::lease::Leadership;

/// The planner's trees: what a new leader needs to resume.
pub const PLANNER_TREES: [&str; 3] = ["missions", "recipes", "board"];
/// Messages kept per key: enough to survive a deposed leader's late writes.
const HISTORY_PER_KEY: i64 = 4;
/// Keys restored at most (missions and runs are bounded by the planner,
/// board entries by its capacity).
pub const MAX_RESTORED: usize = 1 << 20;
const TOKEN: &str = "Swarmd-Token";
const OP: &str = "Swarmd-Op";

#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    pub stream: String,
    /// Subjects are `<subject>.<tree>.<key as hex>`.
    pub subject: String,
    pub replicas: usize,
    /// One write to JetStream may take this long.
    pub timeout: Duration,
}

/// The state stream, made if missing.
pub async fn state_stream(js: &Context, config: &ReplicaConfig) -> Result<stream::Stream, String> {
    js.get_or_create_stream(stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{}.>", config.subject)],
        storage: stream::StorageType::File,
        num_replicas: config.replicas,
        max_messages_per_subject: HISTORY_PER_KEY,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("stream {}: {e}", config.stream))
}

/// The JetStream connection, once made (the node connects after it starts).
pub type JetStreamLink = Arc<std::sync::OnceLock<Context>>;

/// The local storage, with the planner's trees written through to JetStream.
pub struct ReplicatedStorage {
    local: Arc<dyn Storage>,
    js: JetStreamLink,
    config: ReplicaConfig,
    leadership: watch::Receiver<Leadership>,
}

impl ReplicatedStorage {
    pub fn new(
        local: Arc<dyn Storage>,
        js: JetStreamLink,
        config: ReplicaConfig,
        leadership: watch::Receiver<Leadership>,
    ) -> Self {
        Self {
            local,
            js,
            config,
            leadership,
        }
    }

    /// Publishes `batch` of `tree`, stamped with the lease's token, and
    /// waits for every ack. Only the lease holder writes.
    async fn publish(
        js: JetStreamLink,
        config: ReplicaConfig,
        token: Option<u64>,
        tree: String,
        batch: Batch,
    ) -> Result<(), StorageError> {
        let Some(token) = token else {
            return Err(StorageError::Io(
                "this cloud does not hold the lease: the planner's state is not written".into(),
            ));
        };
        let Some(js) = js.get().cloned() else {
            return Err(StorageError::Io("not connected to JetStream yet".into()));
        };
        let mut acks = Vec::with_capacity(batch.len());
        for (key, value) in batch.into_ops() {
            let subject = format!("{}.{tree}.{}", config.subject, hex(&key));
            let mut headers = HeaderMap::new();
            headers.insert(TOKEN, token.to_string().as_str());
            if value.is_none() {
                headers.insert(OP, "del");
            }
            let body = value.unwrap_or_default().into();
            let ack = js.publish_with_headers(subject, headers, body).await;
            acks.push(ack.map_err(|e| StorageError::Io(format!("JetStream: {e}")))?);
        }
        let all = futures::future::try_join_all(acks.into_iter().map(|ack| ack.into_future()));
        match tokio::time::timeout(config.timeout, all).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StorageError::Io(format!("JetStream did not store it: {e}"))),
            Err(_) => Err(StorageError::Io(format!(
                "JetStream did not ack within {:?}",
                config.timeout
            ))),
        }
    }

    fn token(&self) -> Option<u64> {
        let lead = self.leadership.borrow();
        lead.mine.then_some(lead.token)
    }
}

fn replicated(tree: &str) -> bool {
    PLANNER_TREES.contains(&tree)
}

impl Storage for ReplicatedStorage {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.local.get(tree, key)
    }

    /// Removals of finished entries (trimming): written through in the
    /// background; one lost leaves an old finished entry to restore.
    fn apply(&self, tree: &str, batch: Batch) -> Result<(), StorageError> {
        if replicated(tree) {
            let publish = Self::publish(
                self.js.clone(),
                self.config.clone(),
                self.token(),
                tree.to_string(),
                batch.clone(),
            );
            tokio::spawn(async move {
                if let Err(e) = publish.await {
                    warn!(error = %e, "planner state removal not replicated");
                }
            });
        }
        self.local.apply(tree, batch)
    }

    fn scan(
        &self,
        tree: &str,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        self.local.scan(tree, from, to, limit)
    }

    fn last_below(&self, tree: &str, below: &[u8]) -> Result<Option<Entry>, StorageError> {
        self.local.last_below(tree, below)
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        self.local.flush()
    }

    /// JetStream first, then the local disk: a write JetStream did not
    /// store is not made at all, and the planner keeps it in memory.
    fn commit(&self, tree: &str, batch: Batch) -> BoxFuture<'_, Result<(), CommitError>> {
        let tree = tree.to_string();
        let token = self.token();
        Box::pin(async move {
            if replicated(&tree) {
                let publish = Self::publish(
                    self.js.clone(),
                    self.config.clone(),
                    token,
                    tree.clone(),
                    batch.clone(),
                );
                publish.await.map_err(|error| CommitError {
                    error,
                    written: false,
                })?;
            }
            self.local.commit(&tree, batch).await
        })
    }
}

/// Replaces the planner's trees in `local` by what the stream holds.
/// Answers how many keys it restored.
pub async fn restore(
    js: &Context,
    config: &ReplicaConfig,
    local: &dyn Storage,
) -> Result<usize, String> {
    let latest = read_latest(js, config).await?;
    for tree in PLANNER_TREES {
        let mut batch = Batch::default();
        for (key, _) in local
            .scan(tree, &[], None, MAX_RESTORED)
            .map_err(|e| e.to_string())?
        {
            batch.remove(key);
        }
        for ((t, key), (_, value)) in &latest {
            if t == tree
                && let Some(value) = value
            {
                batch.insert(key.clone(), value.clone());
            }
        }
        local
            .commit(tree, batch)
            .await
            .map_err(|e| format!("tree {tree}: {}", e.error))?;
    }
    let kept = latest.values().filter(|(_, v)| v.is_some()).count();
    info!(keys = kept, "planner state restored from JetStream");
    Ok(kept)
}

type Latest = BTreeMap<(String, Vec<u8>), (u64, Option<Vec<u8>>)>;

/// Per key, the value of its last message with the highest token.
async fn read_latest(js: &Context, config: &ReplicaConfig) -> Result<Latest, String> {
    let mut stream = state_stream(js, config).await?;
    let stored = stream
        .info()
        .await
        .map_err(|e| e.to_string())?
        .state
        .messages;
    let mut latest = Latest::new();
    if stored == 0 {
        return Ok(latest);
    }
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
    let prefix = format!("{}.", config.subject);
    for _ in 0..=stored {
        let next = tokio::time::timeout(config.timeout, messages.next()).await;
        let message = match next {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) => break,
            Err(_) => return Err(format!("no message within {:?}", config.timeout)),
        };
        let pending = message.info().map(|i| i.pending).unwrap_or(0);
        if let Some((tree, key)) = parse_subject(&message.subject, &prefix) {
            let headers = message.headers.as_ref();
            let token = header(headers, TOKEN)
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let removed = header(headers, OP) == Some("del");
            let value = (!removed).then(|| message.payload.to_vec());
            let slot = latest.entry((tree, key)).or_insert((0, None));
            if token >= slot.0 {
                *slot = (token, value);
            }
        }
        if pending == 0 {
            break;
        }
    }
    Ok(latest)
}

fn header<'a>(headers: Option<&'a HeaderMap>, name: &str) -> Option<&'a str> {
    headers?.get(name).map(|v| v.as_str())
}

fn parse_subject(subject: &str, prefix: &str) -> Option<(String, Vec<u8>)> {
    let (tree, key) = subject.strip_prefix(prefix)?.split_once('.')?;
    Some((tree.to_string(), unhex(key)?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_subjects() {
        let key = vec![0, 1, 0xab, 0xff];
        let subject = format!("swarmd.cloud.state.board.{}", hex(&key));
        let parsed = parse_subject(&subject, "swarmd.cloud.state.");
        assert_eq!(parsed, Some(("board".to_string(), key)));
        assert_eq!(
            parse_subject("swarmd.cloud.state.board.abc", "swarmd.cloud.state."),
            None
        );
        assert_eq!(parse_subject("other.board.00", "swarmd.cloud.state."), None);
    }
}
