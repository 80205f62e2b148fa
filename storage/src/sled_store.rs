use std::io;
use std::path::Path;

use futures::future::BoxFuture;

use crate::seam::{Batch, CommitError, Entry, Storage, StorageError};

/// The production [`Storage`]: one sled 0.34 database.
pub struct SledStorage {
    db: sled::Db,
}

impl SledStorage {
    /// Opens (or creates) the database at `path` with a bounded page cache.
    pub fn open(path: &Path, cache_capacity_bytes: u64) -> Result<Self, StorageError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_capacity_bytes)
            // Every durable write is flushed explicitly (group commit); sled's
            // own 500 ms flusher would only compete for the two cores.
            .flush_every_ms(None)
            .open()
            .map_err(map_sled)?;
        Ok(Self { db })
    }

    fn tree(&self, name: &str) -> Result<sled::Tree, StorageError> {
        self.db.open_tree(name).map_err(map_sled)
    }
}

impl Storage for SledStorage {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let value = self.tree(tree)?.get(key).map_err(map_sled)?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn apply(&self, tree: &str, batch: Batch) -> Result<(), StorageError> {
        self.tree(tree)?
            .apply_batch(to_sled(batch))
            .map_err(map_sled)
    }

    /// Apply and flush together on tokio's blocking pool, so the ledger
    /// writer prepares the next batch while this one goes to disk.
    fn commit(&self, tree: &str, batch: Batch) -> BoxFuture<'_, Result<(), CommitError>> {
        let (db, tree) = (self.db.clone(), tree.to_owned());
        Box::pin(async move {
            let committed = tokio::task::spawn_blocking(move || {
                let tree = db.open_tree(tree).map_err(|e| (map_sled(e), false))?;
                tree.apply_batch(to_sled(batch))
                    .map_err(|e| (map_sled(e), false))?;
                db.flush().map(|_| ()).map_err(|e| (map_sled(e), true))
            })
            .await;
            match committed {
                Ok(result) => result.map_err(|(error, written)| CommitError { error, written }),
                Err(e) => Err(CommitError {
                    error: StorageError::Io(format!("commit task failed: {e}")),
                    written: true,
                }),
            }
        })
    }

    fn scan(
        &self,
        tree: &str,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        let tree = self.tree(tree)?;
        let iter = match to {
            Some(to) => tree.range(from..to),
            None => tree.range(from..),
        };
        iter.take(limit)
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(map_sled))
            .collect()
    }

    fn last_below(&self, tree: &str, below: &[u8]) -> Result<Option<Entry>, StorageError> {
        let last = self.tree(tree)?.range(..below).next_back();
        last.transpose()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .map_err(map_sled)
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        // On tokio's blocking pool rather than sled's `flush_async`, whose own
        // thread pool we saw stall once under a concurrent write load.
        let db = self.db.clone();
        Box::pin(async move {
            let flushed = tokio::task::spawn_blocking(move || db.flush()).await;
            flushed
                .map_err(|e| StorageError::Io(format!("flush task failed: {e}")))?
                .map_err(map_sled)?;
            Ok(())
        })
    }
}

fn to_sled(batch: Batch) -> sled::Batch {
    let mut sled_batch = sled::Batch::default();
    for (key, value) in batch.into_ops() {
        match value {
            Some(value) => sled_batch.insert(key, value),
            None => sled_batch.remove(key),
        }
    }
    sled_batch
}

fn map_sled(err: sled::Error) -> StorageError {
    match err {
        sled::Error::Io(e) if is_no_space(&e) => StorageError::NoSpace,
        sled::Error::Io(e) => StorageError::Io(e.to_string()),
        sled::Error::Corruption { at, .. } => StorageError::Corrupt(format!("at {at:?}")),
        other => StorageError::Io(other.to_string()),
    }
}

fn is_no_space(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens the store; a reopen right after a drop waits (boundedly) for
    /// sled's background flusher of the dropped one to let go of the lock.
    async fn open(dir: &tempfile::TempDir) -> SledStorage {
        for _ in 0..100 {
            match SledStorage::open(&dir.path().join("db"), 8 << 20) {
                Err(StorageError::Io(e)) if e.contains("could not acquire lock") => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                opened => return opened.unwrap(),
            }
        }
        panic!("the store's lock was never released");
    }

    #[tokio::test]
    async fn flushed_batches_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(&dir).await;
            let mut batch = Batch::default();
            batch.insert(b"a".to_vec(), b"1".to_vec());
            batch.insert(b"b".to_vec(), b"2".to_vec());
            batch.insert(b"c".to_vec(), b"3".to_vec());
            batch.remove(b"b".to_vec());
            store.apply("log", batch).unwrap();
            store.flush().await.unwrap();
        }
        let store = open(&dir).await;
        assert_eq!(store.get("log", b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.get("log", b"b").unwrap(), None);
        assert_eq!(
            store.get("other", b"a").unwrap(),
            None,
            "trees are separate"
        );
    }

    #[tokio::test]
    async fn scan_is_ordered_bounded_and_limited() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir).await;
        let mut batch = Batch::default();
        for i in (0u64..10).rev() {
            batch.insert(i.to_be_bytes().to_vec(), vec![i as u8]);
        }
        store.apply("t", batch).unwrap();
        let all = store.scan("t", &[], None, 100).unwrap();
        let keys: Vec<u64> = all
            .iter()
            .map(|(k, _)| u64::from_be_bytes(k[..8].try_into().unwrap()))
            .collect();
        assert_eq!(keys, (0..10).collect::<Vec<_>>());
        let window = store
            .scan("t", &3u64.to_be_bytes(), Some(&7u64.to_be_bytes()), 2)
            .unwrap();
        assert_eq!(window.len(), 2);
        assert_eq!(window[0].1, vec![3]);
        assert_eq!(window[1].1, vec![4]);
        let below = store.last_below("t", &5u64.to_be_bytes()).unwrap().unwrap();
        assert_eq!(below.1, vec![4]);
        assert_eq!(store.last_below("t", &0u64.to_be_bytes()).unwrap(), None);
    }

    #[test]
    fn enospc_maps_to_no_space() {
        let err = sled::Error::Io(io::Error::from_raw_os_error(28));
        assert_eq!(map_sled(err), StorageError::NoSpace);
    }
}
