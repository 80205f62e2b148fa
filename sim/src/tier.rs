//! SimTier: the cloud tier's store (DESIGN §18) in memory and in virtual
//! time, where production has JetStream. One lease bucket (entries expire a
//! TTL after their last write, on the store's clock; revisions grow over
//! every write, deletions included) and one state log keeping the last few
//! writes per key. It outlives every node's crash, as the NATS servers do.
//! A node can be cut off from it (every call fails, as when JetStream is
//! unreachable) and joined again.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use swarmd_adapters::cloud_tier::{
    Connected, KvError, LeaseKv, StateLog, StateWrite, TierConnector, Versioned,
};
use tokio::time::Instant;

/// Writes kept per key, as the JetStream stream keeps messages per subject.
const HISTORY_PER_KEY: usize = 4;

#[derive(Default)]
pub struct SimTier {
    state: Mutex<TierState>,
}

#[derive(Default)]
struct TierState {
    /// The bucket's TTL, fixed by the first cloud that made it.
    ttl: Option<Duration>,
    lease: BTreeMap<String, Held>,
    /// The bucket's last revision.
    revision: u64,
    /// Per (tree, key): its last writes, each with its log sequence.
    log: BTreeMap<(String, Vec<u8>), KeyHistory>,
    appended: u64,
    cut: BTreeSet<String>,
}

/// A key's last writes, each with its sequence in the log.
type KeyHistory = VecDeque<(u64, StateWrite)>;

struct Held {
    value: Vec<u8>,
    revision: u64,
    written: Instant,
}

impl SimTier {
    fn state(&self) -> MutexGuard<'_, TierState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `node`'s way to the store; the bucket's TTL is `ttl` if it is new.
    pub fn connector(self: &Arc<Self>, node: &str, ttl: Duration) -> Arc<dyn TierConnector> {
        Arc::new(SimTierView {
            tier: self.clone(),
            node: node.to_string(),
            ttl,
        })
    }

    /// `node` can no longer reach the store (`true`), or again (`false`).
    pub fn cut(&self, node: &str, cut: bool) {
        let mut state = self.state();
        if cut {
            state.cut.insert(node.to_string());
        } else {
            state.cut.remove(node);
        }
    }

    /// Who the lease's key names now, if anyone (for the driver's faults).
    pub fn holder(&self) -> Option<String> {
        let mut state = self.state();
        state.expire();
        let held = state.lease.values().next()?;
        let holder: serde_json::Value = serde_json::from_slice(&held.value).ok()?;
        holder["name"].as_str().map(str::to_string)
    }
}

impl Held {
    fn versioned(&self) -> Versioned {
        Versioned {
            value: self.value.clone(),
            revision: self.revision,
        }
    }
}

impl TierState {
    /// Drops every key whose TTL ran out since its last write.
    fn expire(&mut self) {
        let ttl = self.ttl.unwrap_or(Duration::MAX);
        let now = Instant::now();
        self.lease
            .retain(|_, h| now.duration_since(h.written) < ttl);
    }

    fn write(&mut self, key: &str, value: Vec<u8>) -> u64 {
        self.revision += 1;
        let held = Held {
            value,
            revision: self.revision,
            written: Instant::now(),
        };
        self.lease.insert(key.to_string(), held);
        self.revision
    }

    fn at(&self, key: &str) -> Option<u64> {
        self.lease.get(key).map(|h| h.revision)
    }
}

struct SimTierView {
    tier: Arc<SimTier>,
    node: String,
    ttl: Duration,
}

impl SimTierView {
    /// The store's state, unless this node is cut off from it.
    fn reach(&self) -> Result<MutexGuard<'_, TierState>, String> {
        let mut state = self.tier.state();
        if state.cut.contains(&self.node) {
            return Err(format!("{} cannot reach the cloud tier's store", self.node));
        }
        state.ttl.get_or_insert(self.ttl);
        state.expire();
        Ok(state)
    }

    fn lease(&self) -> Result<MutexGuard<'_, TierState>, KvError> {
        self.reach().map_err(KvError::Unavailable)
    }
}

fn wrong(key: &str, expected: Option<u64>, found: Option<u64>) -> KvError {
    KvError::WrongRevision(format!("{key}: expected {expected:?}, at {found:?}"))
}

impl TierConnector for SimTierView {
    fn connect(&self) -> BoxFuture<'_, Result<Connected, String>> {
        let view = Arc::new(SimTierView {
            tier: self.tier.clone(),
            node: self.node.clone(),
            ttl: self.ttl,
        });
        Box::pin(async move {
            drop(self.reach()?);
            Ok(Connected {
                lease: view.clone(),
                state: view,
            })
        })
    }
}

impl LeaseKv for SimTierView {
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Versioned>, KvError>> {
        let found = self
            .lease()
            .map(|state| state.lease.get(key).map(Held::versioned));
        Box::pin(async move { found })
    }

    fn create(&self, key: &str, value: Vec<u8>) -> BoxFuture<'_, Result<u64, KvError>> {
        let done = self.lease().and_then(|mut state| match state.at(key) {
            None => Ok(state.write(key, value)),
            Some(found) => Err(wrong(key, None, Some(found))),
        });
        Box::pin(async move { done })
    }

    fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        revision: u64,
    ) -> BoxFuture<'_, Result<u64, KvError>> {
        let done = self.lease().and_then(|mut state| match state.at(key) {
            Some(found) if found == revision => Ok(state.write(key, value)),
            found => Err(wrong(key, Some(revision), found)),
        });
        Box::pin(async move { done })
    }

    fn delete(&self, key: &str, revision: u64) -> BoxFuture<'_, Result<(), KvError>> {
        let done = self.lease().and_then(|mut state| match state.at(key) {
            Some(found) if found == revision => {
                state.lease.remove(key);
                state.revision += 1;
                Ok(())
            }
            found => Err(wrong(key, Some(revision), found)),
        });
        Box::pin(async move { done })
    }
}

impl StateLog for SimTierView {
    fn append(&self, writes: Vec<StateWrite>) -> BoxFuture<'static, Result<(), String>> {
        let done = self.reach().map(|mut state| {
            for write in writes {
                state.appended += 1;
                let seq = state.appended;
                let kept = state
                    .log
                    .entry((write.tree.clone(), write.key.clone()))
                    .or_default();
                kept.push_back((seq, write));
                if kept.len() > HISTORY_PER_KEY {
                    kept.pop_front();
                }
            }
        });
        Box::pin(async move { done })
    }

    fn read(&self) -> BoxFuture<'_, Result<Vec<StateWrite>, String>> {
        let read = self.reach().map(|state| {
            let mut all: Vec<&(u64, StateWrite)> = state.log.values().flatten().collect();
            all.sort_by_key(|(seq, _)| *seq);
            all.into_iter().map(|(_, w)| w.clone()).collect()
        });
        Box::pin(async move { read })
    }
}
