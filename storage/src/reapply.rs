//! After a failed flush nothing it covered is known to be durable: the OS
//! may have dropped the dirty pages and a later flush can succeed without
//! them ("fsyncgate"). [`Reapplying`] keeps every write made since the last
//! good flush and applies them again before the next flush counts, so a
//! success after a failure really covers everything written before it.
//!
//! Bounded: past [`MAX_KEPT_BYTES`] of unflushed writes the oldest are no
//! longer kept; if a flush then fails, nothing can repair it, and every later
//! flush fails too (the node must be restarted to recover from its ledger),
//! rather than report durable what may not be.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;

use crate::seam::{Batch, CommitError, Entry, Storage, StorageError};

/// Unflushed writes kept for re-applying, at most.
pub const MAX_KEPT_BYTES: usize = 64 * 1024 * 1024;

pub struct Reapplying {
    inner: Arc<dyn Storage>,
    kept: Mutex<Kept>,
    max_kept_bytes: usize,
}

#[derive(Default)]
struct Kept {
    /// Writes since the last good flush, in apply order, by number.
    writes: VecDeque<(u64, String, Batch)>,
    next_number: u64,
    bytes: usize,
    /// A flush failed since the last good one: `writes` must be applied again.
    suspect: bool,
    /// Flushes that failed so far; a success that overlapped one proves nothing.
    failures: u64,
    /// The newest write let go over the bound, until a good flush covers it.
    overflowed: Option<u64>,
    /// A flush failed after writes were let go: nothing can be trusted.
    poisoned: bool,
}

impl Reapplying {
    pub fn new(inner: Arc<dyn Storage>) -> Self {
        Self::with_limit(inner, MAX_KEPT_BYTES)
    }

    /// Keeps at most `max_kept_bytes` of unflushed writes for re-applying.
    pub fn with_limit(inner: Arc<dyn Storage>, max_kept_bytes: usize) -> Self {
        Self {
            inner,
            kept: Mutex::new(Kept::default()),
            max_kept_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().expect("reapplying storage poisoned")
    }

    /// Applies the kept writes again if a flush failed; returns the number
    /// below which a good flush from now covers every write, and the failure
    /// count it starts at.
    fn before_flush(&self) -> Result<(u64, u64), StorageError> {
        let mut kept = self.lock();
        if kept.poisoned {
            return Err(poisoned());
        }
        if kept.suspect {
            for (_, tree, batch) in &kept.writes {
                self.inner.apply(tree, batch.clone())?;
            }
            kept.suspect = false;
        }
        Ok((kept.next_number, kept.failures))
    }

    fn after_flush(&self, covered: u64, failures_at_start: u64, ok: bool) {
        let mut kept = self.lock();
        if !ok {
            kept.failures += 1;
            kept.suspect = true;
            kept.poisoned |= kept.overflowed.is_some();
            return;
        }
        if kept.failures != failures_at_start {
            return; // a failure overlapped this flush: keep everything
        }
        while kept.writes.front().is_some_and(|(n, _, _)| *n < covered) {
            let (_, _, batch) = kept.writes.pop_front().expect("a front");
            kept.bytes -= batch.bytes();
        }
        if kept.overflowed.is_some_and(|newest| newest < covered) {
            kept.overflowed = None;
        }
    }

    /// Keeps `batch` as write `number` was applied; lets the oldest go past the bound.
    fn keep(&self, kept: &mut Kept, tree: &str, batch: Batch) -> u64 {
        let number = kept.next_number;
        kept.next_number += 1;
        kept.bytes += batch.bytes();
        kept.writes.push_back((number, tree.to_owned(), batch));
        while kept.bytes > self.max_kept_bytes {
            let Some((dropped, _, old)) = kept.writes.pop_front() else {
                break;
            };
            kept.bytes -= old.bytes();
            kept.overflowed = Some(dropped);
        }
        number
    }

    fn forget(&self, number: u64) {
        let mut kept = self.lock();
        if let Some(at) = kept.writes.iter().position(|(n, _, _)| *n == number) {
            let (_, _, batch) = kept.writes.remove(at).expect("a position");
            kept.bytes -= batch.bytes();
        }
    }
}

fn poisoned() -> StorageError {
    StorageError::Io(
        "a flush failed after more unflushed writes than can be kept for re-applying; \
         durability is unknown until the node restarts"
            .into(),
    )
}

impl Storage for Reapplying {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(tree, key)
    }

    fn apply(&self, tree: &str, batch: Batch) -> Result<(), StorageError> {
        let mut kept = self.lock();
        self.inner.apply(tree, batch.clone())?;
        self.keep(&mut kept, tree, batch);
        Ok(())
    }

    fn scan(
        &self,
        tree: &str,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        self.inner.scan(tree, from, to, limit)
    }

    fn last_below(&self, tree: &str, below: &[u8]) -> Result<Option<Entry>, StorageError> {
        self.inner.last_below(tree, below)
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            let (covered, failures) = self.before_flush()?;
            let flushed = self.inner.flush().await;
            self.after_flush(covered, failures, flushed.is_ok());
            flushed
        })
    }

    /// The inner store's own commit (sled's runs off the caller's thread),
    /// unless kept writes must be applied again first.
    fn commit(&self, tree: &str, batch: Batch) -> BoxFuture<'_, Result<(), CommitError>> {
        let tree = tree.to_owned();
        Box::pin(async move {
            let not_written = |error| CommitError {
                error,
                written: false,
            };
            let (_, failures) = self.before_flush().map_err(not_written)?;
            let number = self.keep(&mut self.lock(), &tree, batch.clone());
            let covered = number + 1;
            let committed = self.inner.commit(&tree, batch).await;
            if let Err(CommitError { written: false, .. }) = &committed {
                self.forget(number);
                return committed;
            }
            self.after_flush(covered, failures, committed.is_ok());
            committed
        })
    }
}
