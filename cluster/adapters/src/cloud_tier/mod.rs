//! The cloud tier without a single point of failure (DESIGN §18): clouds
//! contend for one lease in a key-value store with revisions, and the
//! leader writes the planner's state to a log a successor restores from.
//!
//! The algorithms live here, over two small seams: [`LeaseKv`] (create if
//! absent, compare-and-set on the revision, delete at a revision, entries
//! expiring a TTL after their last write) and [`StateLog`] (append and
//! await the ack, read back). Production connects them to JetStream
//! (`jetstream::cloud_tier`); the simulator to an in-memory store on its
//! virtual clock, so crashes, cut-offs and late messages replay per seed.

pub mod lease;
pub mod replica;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use swarmd_config::NodeConfig;
use swarmd_storage::Storage;
use tokio::sync::watch;
use tracing::warn;

pub use lease::{Leadership, LeaseConfig};
pub use replica::{PLANNER_TREES, ReplicatedStorage, StateWrite};

/// Waits between attempts to reach the store, at most.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Why a lease write did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The key is not at the revision given (another wrote it, or it is
    /// there when absence was expected): the write lost a race.
    #[error("wrong last revision: {0}")]
    WrongRevision(String),
    /// No answer, or a failure that may pass.
    #[error("{0}")]
    Unavailable(String),
}

/// A key's value, and the revision it was written at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub value: Vec<u8>,
    pub revision: u64,
}

/// A key-value store with revisions, its entries expiring a TTL after
/// their last write (the store's clock decides, not the writer's).
pub trait LeaseKv: Send + Sync {
    /// The key's value and revision; `None` when absent, deleted or expired.
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<Versioned>, KvError>>;
    /// Writes `value` if the key is absent (or deleted); the new revision.
    fn create(&self, key: &str, value: Vec<u8>) -> BoxFuture<'_, Result<u64, KvError>>;
    /// Writes `value` if the key is at `revision`; the new revision.
    fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        revision: u64,
    ) -> BoxFuture<'_, Result<u64, KvError>>;
    /// Deletes the key if it is at `revision`.
    fn delete(&self, key: &str, revision: u64) -> BoxFuture<'_, Result<(), KvError>>;
}

/// An append-only log of the planner's writes, each stamped with a token.
pub trait StateLog: Send + Sync {
    /// Appends `writes` and waits until the store holds every one.
    fn append(&self, writes: Vec<StateWrite>) -> BoxFuture<'static, Result<(), String>>;
    /// What the log holds (at least each key's last few writes), in order.
    fn read(&self) -> BoxFuture<'_, Result<Vec<StateWrite>, String>>;
}

/// A connection to the store, once made.
pub struct Connected {
    pub lease: Arc<dyn LeaseKv>,
    pub state: Arc<dyn StateLog>,
}

/// Where the lease and the state live, and how to reach them.
pub trait TierConnector: Send + Sync {
    /// Connects and makes the bucket and the log if missing.
    fn connect(&self) -> BoxFuture<'_, Result<Connected, String>>;
}

/// One cloud's handle on the tier: contend, restore, write through.
#[derive(Clone)]
pub struct CloudTier {
    lease: LeaseConfig,
    connector: Arc<dyn TierConnector>,
    state: Arc<OnceLock<Arc<dyn StateLog>>>,
}

impl CloudTier {
    pub fn new(lease: LeaseConfig, connector: Arc<dyn TierConnector>) -> Self {
        Self {
            lease,
            connector,
            state: Arc::default(),
        }
    }

    /// The lease of `config`'s `[cloud]` section, contended for as its node.
    pub fn lease_of(config: &NodeConfig) -> LeaseConfig {
        LeaseConfig {
            bucket: config.cloud.lease_bucket.clone(),
            key: "leader".into(),
            name: config.node.name.clone(),
            ttl: config.cloud.lease_ttl(),
            replicas: config.hub.jetstream.replicas,
        }
    }

    pub fn lease(&self) -> &LeaseConfig {
        &self.lease
    }

    /// `local`, with the planner's trees written to the log first, while
    /// `leadership` says this cloud holds the lease.
    pub fn storage(
        &self,
        local: Arc<dyn Storage>,
        leadership: watch::Receiver<Leadership>,
    ) -> ReplicatedStorage {
        ReplicatedStorage::new(local, self.state.clone(), leadership)
    }

    /// Connects (again and again, until `stop`), then contends for the
    /// lease until `stop`, publishing what it sees on `seen`.
    pub async fn contend(self, seen: watch::Sender<Leadership>, mut stop: watch::Receiver<bool>) {
        let mut wait = Duration::from_millis(200);
        let connected = loop {
            match self.connector.connect().await {
                Ok(connected) => break connected,
                Err(why) => warn!(%why, "cloud tier: its store not reached; trying again"),
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            wait = (wait * 2).min(RETRY_MAX);
        };
        let _ = self.state.set(connected.state);
        lease::contend(connected.lease, self.lease, seen, stop).await;
    }

    /// Replaces the planner's trees in `local` by what the log holds.
    pub async fn restore(&self, local: &dyn Storage) -> Result<usize, String> {
        let state = self
            .state
            .get()
            .ok_or("the cloud tier's store is not connected")?;
        replica::restore(state.as_ref(), local).await
    }
}
