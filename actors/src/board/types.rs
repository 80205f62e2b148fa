//! What the board holds and answers: keys, postings, entries, leases,
//! refusals, decisions, its configuration and counts.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Admission, BreakerConfig, RateConfig};

/// A task's idempotency key: its mission and its number in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskKey {
    pub mission: u64,
    pub task: u32,
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.mission, self.task)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Partition {
    pub tenant: String,
    pub squad: String,
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.squad)
    }
}

/// What the planner posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub key: TaskKey,
    pub partition: Partition,
    /// The task's type (`cover`, `fetch`, a domain's kind): what its
    /// circuit breaker counts.
    pub kind: String,
    /// Its work (waypoints to visit, a domain's estimate): what SRPT orders by.
    pub cost: u32,
    /// Higher is claimed first, whatever the policy.
    pub priority: u8,
    /// Capabilities the claimant must all have.
    pub needs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryState {
    Open,
    Leased {
        agent: String,
        attempt: u32,
        until_us: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub attempt: u32,
    pub agent: String,
    pub reason: String,
    pub at_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub posting: Posting,
    /// Posting order, for FIFO and ties.
    pub seq: u64,
    pub state: EntryState,
    /// Leases granted so far.
    pub attempts: u32,
    pub history: Vec<Failure>,
}

/// A claim granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub key: TaskKey,
    pub agent: String,
    pub attempt: u32,
    pub until_us: u64,
}

/// Who claims.
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    pub agent: &'a str,
    /// Tenants whose tasks it may take, usually one.
    pub tenants: &'a [String],
    pub squad: &'a str,
    pub capabilities: &'a [String],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing open it may take (or only tasks of types whose breaker is open).
    NothingToClaim,
    /// Over its claim rate: a token comes in this long.
    RateLimited { retry_in_us: u64 },
}

/// `post` refused: the partition is full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overloaded {
    pub partition: Partition,
    pub capacity: usize,
}

impl fmt::Display for Overloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, c) = (&self.partition, self.capacity);
        write!(f, "board partition {p} is full ({c} live tasks)")
    }
}

/// What became of a `Done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Completed,
    /// The same lease's `Done` again (statuses repeat reports): no news.
    Repeat,
    /// Another lease completed the key before: nothing happens twice.
    Duplicate,
    /// Not from a lease the board granted on the key.
    NotHeld,
    /// Not a task on the board (withdrawn, or never posted).
    Unknown,
}

/// What became of a failure or an expired lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// Open again, for another claim.
    Reopened,
    /// Its attempts are spent: in the dead-letter queue.
    DeadLettered,
}

/// One decision, for the ledger (`policy_decision`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `fifo`, `srpt`, `backpressure`, `rate_limit`, `circuit_breaker`,
    /// `lease`, `completion`, `idempotency` or `dead_letter`.
    pub policy: &'static str,
    pub task: Option<TaskKey>,
    pub agent: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardConfig {
    pub admission: Admission,
    /// Live tasks per partition, at most.
    pub capacity: usize,
    pub lease_us: u64,
    pub max_attempts: u32,
    pub rate: RateConfig,
    pub breaker: BreakerConfig,
}

impl Default for BoardConfig {
    fn default() -> Self {
        Self {
            admission: Admission::Fifo,
            capacity: 1_024,
            lease_us: 30_000_000,
            max_attempts: 5,
            rate: RateConfig {
                per_s: 20,
                burst: 10,
            },
            breaker: BreakerConfig {
                failures: 5,
                cool_down_us: 10_000_000,
            },
        }
    }
}

/// Counts since the board started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BoardStats {
    pub posted: u64,
    pub granted: u64,
    pub completed: u64,
    pub duplicates: u64,
    pub failed: u64,
    pub expired: u64,
    pub dead_lettered: u64,
    pub dead_dropped: u64,
    pub overloaded: u64,
    pub rate_limited: u64,
}
