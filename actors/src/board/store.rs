//! The board on disk (tree `board`, one entry per task key, live or dead),
//! so a restarted planner has the same tasks, leases, attempts and dead
//! letters. Breakers, rate buckets and fair-share counts are soft state:
//! they start afresh.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use swarmd_messages::{decode_payload, encode_payload};
use tracing::warn;

use super::{Board, Entry, TaskKey};
use crate::ctx::{Batch, Storage, StorageError};

const TREE: &str = "board";

#[derive(Serialize, Deserialize)]
struct Stored {
    entry: Entry,
    dead: bool,
}

pub struct BoardStore {
    storage: Arc<dyn Storage>,
}

fn key_bytes(key: TaskKey) -> Vec<u8> {
    let mut bytes = key.mission.to_be_bytes().to_vec();
    bytes.extend(key.task.to_be_bytes());
    bytes
}

impl BoardStore {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }

    /// Puts every stored entry, at most `limit`, on `board`; an
    /// undecodable one is skipped and logged.
    pub fn load_into(&self, board: &mut Board, limit: usize) -> Result<(), StorageError> {
        for (key, value) in self.storage.scan(TREE, &[], None, limit)? {
            match decode_payload::<Stored>(&value) {
                Ok(s) => board.restore(s.entry, s.dead),
                Err(e) => warn!(tree = TREE, ?key, error = %e, "undecodable board entry skipped"),
            }
        }
        board.take_dirty();
        Ok(())
    }

    /// Writes what changed on `board` since the last save, in one flushed
    /// commit. On failure (a full disk) the board goes on in memory and
    /// the keys are written with the next change. `false` if not stored.
    pub async fn save(&self, board: &mut Board) -> bool {
        let dirty = board.take_dirty();
        if dirty.is_empty() {
            return true;
        }
        let mut batch = Batch::default();
        for key in &dirty {
            let stored = match (board.entry(*key), board.dead.get(key)) {
                (Some(entry), _) => Stored {
                    entry: entry.clone(),
                    dead: false,
                },
                (None, Some(entry)) => Stored {
                    entry: entry.clone(),
                    dead: true,
                },
                (None, None) => {
                    batch.remove(key_bytes(*key));
                    continue;
                }
            };
            match encode_payload(&stored) {
                Ok(bytes) => batch.insert(key_bytes(*key), bytes),
                Err(e) => warn!(tree = TREE, %key, error = %e, "board entry not encodable"),
            }
        }
        if let Err(e) = self.storage.commit(TREE, batch).await {
            warn!(tree = TREE, error = ?e.error, "board not saved; kept in memory");
            board.dirty.extend(dirty);
            return false;
        }
        true
    }
}
