//! SimStorage: the Storage seam in memory, with the disk's failure modes.
//! Writes land in a volatile view first; a flush, after a seeded virtual delay,
//! makes the writes that preceded it durable. A crash throws away everything
//! not yet durable. Flushes can be made to fail (and then may lose the writes
//! they covered), and the disk to fill up.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use swarmd_storage::{Batch, Entry, Storage, StorageError};
use swarmd_supervisor::seams::Entropy;

type Trees = HashMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// One applied, not yet durable, operation: `(tree, key, Some(value) | None for a remove)`.
type Op = (String, Vec<u8>, Option<Vec<u8>>);

pub struct SimStorage {
    state: Mutex<State>,
    entropy: Arc<dyn Entropy>,
    /// A flush takes a seeded delay in `[0, max_fsync]` of virtual time.
    max_fsync: Duration,
    /// How many of the coming flushes fail.
    failing_flushes: AtomicU32,
    /// How many of the coming flushes are slow, and up to how slow (µs).
    slow_flushes: AtomicU32,
    slow_by_us: std::sync::atomic::AtomicU64,
    full: AtomicBool,
    /// While `true`, flushes hang (a disk that stopped answering).
    stalled: tokio::sync::watch::Sender<bool>,
    /// Successful flushes so far (the deliberate bug picks by it).
    #[cfg(feature = "bug-lose-acked")]
    flushes: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct State {
    /// What survives a crash.
    durable: Trees,
    /// What reads see: durable plus `unflushed`, applied.
    visible: Trees,
    /// Applied since the last successful flush, in order.
    unflushed: Vec<Op>,
    /// Keys whose writes a failed flush lost: visible, never to be durable.
    lost: Vec<(String, Vec<u8>)>,
}

impl State {
    /// Reads see only what is durable again. Only keys written since they
    /// were last made durable can differ, so only those are reset: a crash
    /// costs what it throws away, not the size of the disk.
    fn forget_volatile(&mut self) {
        let unflushed = std::mem::take(&mut self.unflushed);
        let lost = std::mem::take(&mut self.lost);
        let keys = unflushed.into_iter().map(|(tree, key, _)| (tree, key));
        for (tree, key) in keys.chain(lost) {
            let durable = self.durable.get(&tree).and_then(|t| t.get(&key)).cloned();
            put_owned(&mut self.visible, (tree, key, durable));
        }
    }
}

impl SimStorage {
    pub fn new(entropy: Arc<dyn Entropy>, max_fsync: Duration) -> Self {
        Self {
            state: Mutex::new(State::default()),
            entropy,
            max_fsync,
            failing_flushes: AtomicU32::new(0),
            slow_flushes: AtomicU32::new(0),
            slow_by_us: std::sync::atomic::AtomicU64::new(0),
            full: AtomicBool::new(false),
            stalled: tokio::sync::watch::Sender::new(false),
            #[cfg(feature = "bug-lose-acked")]
            flushes: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The next `n` flushes fail; each may lose the writes it covered.
    pub fn fail_next_flushes(&self, n: u32) {
        self.failing_flushes.store(n, Ordering::SeqCst);
    }

    /// The next `n` flushes each take up to `by` longer (a seeded share of
    /// it, at least a tenth): a disk whose fsync latency spikes.
    pub fn slow_next_flushes(&self, n: u32, by: Duration) {
        self.slow_by_us
            .store(by.as_micros() as u64, Ordering::SeqCst);
        self.slow_flushes.store(n, Ordering::SeqCst);
    }

    fn spike(&self) -> Duration {
        let slow = self.slow_flushes.load(Ordering::SeqCst);
        if slow == 0 {
            return Duration::ZERO;
        }
        self.slow_flushes.store(slow - 1, Ordering::SeqCst);
        let by = Duration::from_micros(self.slow_by_us.load(Ordering::SeqCst));
        by / 10 + self.entropy.jitter(by - by / 10)
    }

    /// While full, every apply fails with `NoSpace`.
    pub fn set_full(&self, full: bool) {
        self.full.store(full, Ordering::SeqCst);
    }

    /// While stalled, every flush hangs until the stall ends.
    pub fn stall_flushes(&self, stalled: bool) {
        self.stalled.send_replace(stalled);
    }

    /// A process crash: every write not yet flushed is gone.
    pub fn crash(&self) {
        self.lock().forget_volatile();
    }

    /// A failed flush may have lost what it covered, as a kernel that drops
    /// dirty pages after a write-back error does: still readable until the
    /// next crash, but no later flush makes it durable. Seeded: half the time.
    fn maybe_lose(&self, covered: usize) {
        if self.entropy.next_u64().is_multiple_of(2) {
            return;
        }
        let mut state = self.lock();
        let covered = covered.min(state.unflushed.len());
        let lost: Vec<(String, Vec<u8>)> = state
            .unflushed
            .drain(..covered)
            .map(|(tree, key, _)| (tree, key))
            .collect();
        state.lost.extend(lost);
    }

    /// Writes not yet durable.
    pub fn unflushed(&self) -> usize {
        self.lock().unflushed.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("sim storage poisoned")
    }
}

fn put(trees: &mut Trees, (tree, key, value): &Op) {
    put_owned(trees, (tree.clone(), key.clone(), value.clone()));
}

fn put_owned(trees: &mut Trees, (tree, key, value): Op) {
    let tree = match trees.get_mut(&tree) {
        Some(t) => t,
        None => trees.entry(tree).or_default(),
    };
    match value {
        Some(value) => tree.insert(key, value),
        None => tree.remove(&key),
    };
}

/// A deliberately broken disk, to show the checkers catch what it does:
/// every 20th flush acknowledges its writes and then loses the last one.
#[cfg(feature = "bug-lose-acked")]
fn lose_an_acked_write(
    state: &mut State,
    last: Option<Op>,
    flushes: &std::sync::atomic::AtomicU64,
) {
    if flushes.fetch_add(1, Ordering::SeqCst) % 20 != 19 {
        return;
    }
    if let Some((tree, key, Some(_))) = &last {
        for trees in [&mut state.durable, &mut state.visible] {
            trees.get_mut(tree).map(|t| t.remove(key));
        }
    }
}

impl Storage for SimStorage {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .lock()
            .visible
            .get(tree)
            .and_then(|t| t.get(key).cloned()))
    }

    fn apply(&self, tree: &str, batch: Batch) -> Result<(), StorageError> {
        if self.full.load(Ordering::SeqCst) {
            return Err(StorageError::NoSpace);
        }
        let mut state = self.lock();
        for (key, value) in batch.into_ops() {
            let op = (tree.to_owned(), key, value);
            put(&mut state.visible, &op);
            state.unflushed.push(op);
        }
        Ok(())
    }

    fn scan(
        &self,
        tree: &str,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        let state = self.lock();
        let Some(tree) = state.visible.get(tree) else {
            return Ok(Vec::new());
        };
        let upper = to.map_or(Bound::Unbounded, |to| Bound::Excluded(to.to_vec()));
        let range = tree.range((Bound::Included(from.to_vec()), upper));
        Ok(range
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn last_below(&self, tree: &str, below: &[u8]) -> Result<Option<Entry>, StorageError> {
        let state = self.lock();
        let last = state
            .visible
            .get(tree)
            .and_then(|t| t.range(..below.to_vec()).next_back());
        Ok(last.map(|(k, v)| (k.clone(), v.clone())))
    }

    /// Makes durable the writes applied before the call, after a seeded delay.
    fn flush(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        let covered = self.lock().unflushed.len();
        let delay = self.entropy.jitter(self.max_fsync) + self.spike();
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            let mut stalled = self.stalled.subscribe();
            // The sender lives as long as `self`: waiting cannot fail.
            let _ = stalled.wait_for(|stalled| !*stalled).await;
            let failing = self.failing_flushes.load(Ordering::SeqCst);
            if failing > 0 {
                self.failing_flushes.store(failing - 1, Ordering::SeqCst);
                self.maybe_lose(covered);
                return Err(StorageError::Io("injected flush failure".into()));
            }
            let mut state = self.lock();
            // A crash during the delay may have dropped some of them already.
            let covered = covered.min(state.unflushed.len());
            let done: Vec<Op> = state.unflushed.drain(..covered).collect();
            #[cfg(feature = "bug-lose-acked")]
            let last = done.last().cloned();
            done.into_iter()
                .for_each(|op| put_owned(&mut state.durable, op));
            #[cfg(feature = "bug-lose-acked")]
            lose_an_acked_write(&mut state, last, &self.flushes);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
