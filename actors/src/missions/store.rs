//! Missions on disk (tree `missions`, one entry per mission), so a restarted
//! planner reassigns what was in progress.

use std::sync::Arc;

use swarmd_messages::{decode_payload, encode_payload};
use tracing::warn;

use super::book::Mission;
use crate::ctx::{Batch, Storage, StorageError};

const TREE: &str = "missions";

pub struct MissionStore {
    storage: Arc<dyn Storage>,
}

impl MissionStore {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }

    /// Every mission stored, at most `limit`. An undecodable entry is
    /// skipped and logged.
    pub fn load(
        &self,
        limit: usize,
    ) -> Result<std::collections::BTreeMap<u64, Mission>, StorageError> {
        let entries = self.storage.scan(TREE, &[], None, limit)?;
        let mut missions = std::collections::BTreeMap::new();
        for (key, value) in entries {
            match decode_payload::<Mission>(&value) {
                Ok(m) => {
                    missions.insert(m.id, m);
                }
                Err(e) => warn!(key = ?key, error = %e, "undecodable mission skipped"),
            }
        }
        Ok(missions)
    }

    /// Writes and flushes `mission`. On failure (a full disk) the planner
    /// keeps it in memory and goes on; the next change writes it again.
    pub async fn save(&self, mission: &Mission) {
        let value = match encode_payload(mission) {
            Ok(v) => v,
            Err(e) => return warn!(mission = mission.id, error = %e, "mission not encodable"),
        };
        let mut batch = Batch::default();
        batch.insert(mission.id.to_be_bytes().to_vec(), value);
        if let Err(e) = self.storage.commit(TREE, batch).await {
            warn!(mission = mission.id, error = ?e.error, "mission not saved; kept in memory");
        }
    }

    pub fn forget(&self, id: u64) {
        let mut batch = Batch::default();
        batch.remove(id.to_be_bytes().to_vec());
        if let Err(e) = self.storage.apply(TREE, batch) {
            warn!(mission = id, error = %e, "finished mission not removed");
        }
    }
}
