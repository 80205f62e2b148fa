//! The planner's state where a standby cloud can read it (DESIGN §18): a
//! [`Storage`] that appends the planner's writes (missions, recipe runs,
//! the board) to the tier's [`StateLog`] before it writes them to the
//! local disk, so whatever a decision depended on is stored there before
//! the decision goes out. A cloud that takes the lease over first
//! [`restore`]s those trees from the log into its own disk, then its
//! planner loads them as after a restart.
//!
//! Every write is stamped with the writer's fencing token; restoring
//! keeps, per key, the last write of the highest token, so a late write of
//! a deposed leader never hides its successor's.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use swarmd_storage::{Batch, CommitError, Entry, Storage, StorageError};
use tokio::sync::watch;
use tracing::{info, warn};

use super::StateLog;
use super::lease::Leadership;

/// The planner's trees: what a new leader needs to resume.
pub const PLANNER_TREES: [&str; 3] = ["missions", "recipes", "board"];
/// Keys restored at most (missions and runs are bounded by the planner,
/// board entries by its capacity).
pub const MAX_RESTORED: usize = 1 << 20;

/// One write of one key of one of the planner's trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    pub tree: String,
    pub key: Vec<u8>,
    /// `None`: the key was removed.
    pub value: Option<Vec<u8>>,
    /// The writer's fencing token.
    pub token: u64,
}

/// The log, once the tier is connected (a node connects after it starts).
pub type StateLink = Arc<OnceLock<Arc<dyn StateLog>>>;

/// The local storage, with the planner's trees written through to the log.
pub struct ReplicatedStorage {
    local: Arc<dyn Storage>,
    log: StateLink,
    leadership: watch::Receiver<Leadership>,
}

impl ReplicatedStorage {
    pub fn new(
        local: Arc<dyn Storage>,
        log: StateLink,
        leadership: watch::Receiver<Leadership>,
    ) -> Self {
        Self {
            local,
            log,
            leadership,
        }
    }

    /// Appends `batch` of `tree`, stamped with the lease's token, and waits
    /// for the log to hold it. Only the lease holder writes.
    fn append(
        &self,
        tree: &str,
        batch: &Batch,
    ) -> Result<BoxFuture<'static, Result<(), String>>, StorageError> {
        let Some(token) = self.token() else {
            return Err(StorageError::Io(
                "this cloud does not hold the lease: the planner's state is not written".into(),
            ));
        };
        let Some(log) = self.log.get() else {
            return Err(StorageError::Io(
                "the cloud tier's store is not connected yet".into(),
            ));
        };
        let writes = batch
            .clone()
            .into_ops()
            .into_iter()
            .map(|(key, value)| StateWrite {
                tree: tree.to_string(),
                key,
                value,
                token,
            })
            .collect();
        Ok(log.append(writes))
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
            match self.append(tree, &batch) {
                Ok(append) => {
                    tokio::spawn(async move {
                        if let Err(e) = append.await {
                            warn!(error = %e, "planner state removal not replicated");
                        }
                    });
                }
                Err(e) => warn!(error = %e, "planner state removal not replicated"),
            }
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

    /// The log first, then the local disk: a write the log did not store
    /// is not made at all, and the planner keeps it in memory.
    fn commit(&self, tree: &str, batch: Batch) -> BoxFuture<'_, Result<(), CommitError>> {
        let tree = tree.to_string();
        let append = replicated(&tree).then(|| self.append(&tree, &batch));
        Box::pin(async move {
            let refused = |error| CommitError {
                error,
                written: false,
            };
            if let Some(append) = append {
                let stored = append.map_err(refused)?.await;
                stored.map_err(|why| refused(StorageError::Io(why)))?;
            }
            self.local.commit(&tree, batch).await
        })
    }
}

/// Replaces the planner's trees in `local` by what `log` holds. Answers
/// how many keys it restored.
pub async fn restore(log: &dyn StateLog, local: &dyn Storage) -> Result<usize, String> {
    let latest = latest(log.read().await?);
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
    info!(keys = kept, "planner state restored from the cloud tier");
    Ok(kept)
}

type Latest = BTreeMap<(String, Vec<u8>), (u64, Option<Vec<u8>>)>;

/// Per key, the value of its last write with the highest token.
fn latest(writes: Vec<StateWrite>) -> Latest {
    let mut latest = Latest::new();
    for write in writes {
        let slot = latest.entry((write.tree, write.key)).or_insert((0, None));
        if write.token >= slot.0 {
            *slot = (write.token, write.value);
        }
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(key: u8, value: Option<u8>, token: u64) -> StateWrite {
        StateWrite {
            tree: "board".into(),
            key: vec![key],
            value: value.map(|v| vec![v]),
            token,
        }
    }

    #[test]
    fn a_deposed_leaders_late_write_never_hides_its_successors() {
        let folded = latest(vec![
            write(1, Some(10), 3),
            write(1, Some(11), 5), // the successor
            write(1, Some(12), 3), // the deposed leader, late
            write(2, Some(20), 3),
            write(2, None, 3), // removed
        ]);
        let key = |k: u8| ("board".to_string(), vec![k]);
        assert_eq!(folded[&key(1)], (5, Some(vec![11])));
        assert_eq!(folded[&key(2)], (3, None));
    }
}
