use futures::future::BoxFuture;

/// One stored entry: `(key, value)`.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The disk seam: named trees of ordered byte keys.
///
/// Writes become durable only after [`Storage::flush`] returns `Ok`. Reads and
/// batch applies are synchronous because they hit memory; the flush is the one
/// slow operation, and it is async so the simulator can delay it in virtual time.
pub trait Storage: Send + Sync + 'static {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Applies every operation of `batch` to `tree` atomically.
    fn apply(&self, tree: &str, batch: Batch) -> Result<(), StorageError>;

    /// Up to `limit` entries with `from <= key < to` (`to = None`: to the end), in key order.
    fn scan(
        &self,
        tree: &str,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StorageError>;

    /// The entry with the greatest key below `below`, if any.
    fn last_below(&self, tree: &str, below: &[u8]) -> Result<Option<Entry>, StorageError>;

    /// Makes every write applied so far durable.
    fn flush(&self) -> BoxFuture<'_, Result<(), StorageError>>;

    /// Applies `batch`, then flushes: the group commit of the ledger. A store
    /// whose writes are slow does both off the caller's thread.
    fn commit(&self, tree: &str, batch: Batch) -> BoxFuture<'_, Result<(), CommitError>> {
        let applied = self.apply(tree, batch);
        Box::pin(async move {
            applied.map_err(|error| CommitError {
                error,
                written: false,
            })?;
            self.flush().await.map_err(|error| CommitError {
                error,
                written: true,
            })
        })
    }
}

/// A failed commit, and whether its batch may have reached the store anyway
/// (applied, but the flush failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitError {
    pub error: StorageError,
    pub written: bool,
}

/// Ordered inserts and removes, applied together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), Some(value.into())));
    }

    pub fn remove(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push((key.into(), None));
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes of keys and values, as a measure of its size.
    pub fn bytes(&self) -> usize {
        self.ops
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Vec::len))
            .sum()
    }

    /// `(key, Some(value))` for an insert, `(key, None)` for a remove, in order.
    pub fn into_ops(self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.ops
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The device is full. Writes fail; what was flushed before is intact.
    #[error("no space left on the storage device")]
    NoSpace,
    #[error("storage I/O error: {0}")]
    Io(String),
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
}
