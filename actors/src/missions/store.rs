//! Missions and recipe runs on disk (trees `missions` and `recipes`, one
//! entry per id), so a restarted planner picks up what was in progress.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use swarmd_messages::{decode_payload, encode_payload};
use tracing::warn;

use super::book::{Mission, MissionState};
use super::recipe::RecipeRun;
use crate::ctx::{Batch, Storage, StorageError};

/// Missions kept in memory and on disk, finished ones included, at most;
/// beyond, the oldest finished mission is forgotten.
pub const MAX_MISSIONS: usize = 1024;

/// What a store keeps: a value with an id.
pub trait Stored: Serialize + DeserializeOwned {
    const TREE: &'static str;
    fn id(&self) -> u64;
}

impl Stored for Mission {
    const TREE: &'static str = "missions";
    fn id(&self) -> u64 {
        self.id
    }
}

impl Stored for RecipeRun {
    const TREE: &'static str = "recipes";
    fn id(&self) -> u64 {
        self.id
    }
}

pub struct Store<T> {
    storage: Arc<dyn Storage>,
    kind: PhantomData<fn() -> T>,
}

pub type MissionStore = Store<Mission>;
pub type RecipeStore = Store<RecipeRun>;

impl<T: Stored> Store<T> {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            kind: PhantomData,
        }
    }

    /// Every value stored, at most `limit`. An undecodable entry is
    /// skipped and logged.
    pub fn load(&self, limit: usize) -> Result<BTreeMap<u64, T>, StorageError> {
        let entries = self.storage.scan(T::TREE, &[], None, limit)?;
        let mut values = BTreeMap::new();
        for (key, value) in entries {
            match decode_payload::<T>(&value) {
                Ok(v) => {
                    values.insert(v.id(), v);
                }
                Err(e) => {
                    warn!(tree = T::TREE, key = ?key, error = %e, "undecodable entry skipped")
                }
            }
        }
        Ok(values)
    }

    /// Writes and flushes `value`; `false` if it was not stored. On failure
    /// (a full disk, JetStream gone) the planner keeps it in memory and
    /// goes on; the next change writes it again.
    pub async fn save(&self, value: &T) -> bool {
        let id = value.id();
        let bytes = match encode_payload(value) {
            Ok(v) => v,
            Err(e) => {
                warn!(tree = T::TREE, id, error = %e, "not encodable");
                return false;
            }
        };
        let mut batch = Batch::default();
        batch.insert(id.to_be_bytes().to_vec(), bytes);
        if let Err(e) = self.storage.commit(T::TREE, batch).await {
            warn!(tree = T::TREE, id, error = ?e.error, "not saved; kept in memory");
            return false;
        }
        true
    }

    pub fn forget(&self, id: u64) {
        let mut batch = Batch::default();
        batch.remove(id.to_be_bytes().to_vec());
        if let Err(e) = self.storage.apply(T::TREE, batch) {
            warn!(tree = T::TREE, id, error = %e, "finished entry not removed");
        }
    }
}

/// Forgets the oldest finished entries of `map` (and `store`) while it holds
/// more than `MAX_MISSIONS`; active ones are never forgotten.
pub fn trim_finished<T: Stored>(
    map: &mut BTreeMap<u64, T>,
    store: &Store<T>,
    state: impl Fn(&T) -> &MissionState,
) {
    while map.len() > MAX_MISSIONS {
        let oldest_done = map.iter().find(|(_, v)| *state(v) != MissionState::Active);
        let Some((&id, _)) = oldest_done else { break };
        map.remove(&id);
        store.forget(id);
    }
}
