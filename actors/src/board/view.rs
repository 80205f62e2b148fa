//! What an operator sees of the board (`board`, `GET /api/board`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Board, BoardStats, EntryState, Failure};

/// The board as shown.
#[derive(Debug, Clone, Serialize)]
pub struct BoardView {
    pub admission: &'static str,
    pub capacity: usize,
    pub lease_ms: u64,
    pub max_attempts: u32,
    pub stats: BoardStats,
    pub partitions: Vec<PartitionView>,
    pub breakers: BTreeMap<String, &'static str>,
    /// Claims granted per tenant (fair share).
    pub served: BTreeMap<String, u64>,
    /// The first `MAX_VIEWED` leases.
    pub leases: Vec<LeaseView>,
    pub dead: Vec<DeadView>,
}

/// Leases and dead letters shown, at most.
pub const MAX_VIEWED: usize = 256;

#[derive(Debug, Clone, Serialize)]
pub struct PartitionView {
    pub partition: String,
    pub open: usize,
    pub leased: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeaseView {
    pub task: String,
    pub agent: String,
    pub attempt: u32,
    pub expires_in_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadView {
    /// `task/MISSION/TASK`, the id `dlq show` and `dlq replay` take.
    pub id: String,
    pub kind: String,
    pub partition: String,
    pub attempts: u32,
    pub history: Vec<Failure>,
}

impl Board {
    pub fn view(&self, now_us: u64) -> BoardView {
        let partitions = self
            .live
            .iter()
            .map(|(p, live)| {
                let open = self.open.get(p).map_or(0, BTreeSet::len);
                PartitionView {
                    partition: p.to_string(),
                    open,
                    leased: live - open,
                }
            })
            .collect();
        let leases = self
            .entries
            .iter()
            .filter_map(|(k, e)| match &e.state {
                EntryState::Leased {
                    agent,
                    attempt,
                    until_us,
                } => Some(LeaseView {
                    task: k.to_string(),
                    agent: agent.clone(),
                    attempt: *attempt,
                    expires_in_ms: until_us.saturating_sub(now_us) / 1000,
                }),
                EntryState::Open => None,
            })
            .take(MAX_VIEWED)
            .collect();
        let dead = self.dead.values().take(MAX_VIEWED).map(|e| DeadView {
            id: format!("task/{}", e.posting.key),
            kind: e.posting.kind.clone(),
            partition: e.posting.partition.to_string(),
            attempts: e.attempts,
            history: e.history.clone(),
        });
        BoardView {
            admission: self.config.admission.name(),
            capacity: self.config.capacity,
            lease_ms: self.config.lease_us / 1000,
            max_attempts: self.config.max_attempts,
            stats: self.stats.clone(),
            partitions,
            breakers: self
                .breakers
                .iter()
                .map(|(k, b)| (k.clone(), b.name()))
                .collect(),
            served: self.fair.all().clone(),
            leases,
            dead: dead.collect(),
        }
    }
}
