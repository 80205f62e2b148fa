//! The task board (seed 003's blackboard): the planner posts the tasks of
//! its missions, agents claim them with a lease, and the board decides who
//! gets what. A plain state machine on the planner's clock (µs); the
//! planner owns it, persists its entries and records its decisions.
//!
//! - **Partitions**: tasks are posted to `(tenant, squad)`; an agent claims
//!   only from its own tenant's and squad's partitions. Each partition holds
//!   at most `capacity` live (open or leased) tasks: beyond, `post` fails
//!   with [`Overloaded`] and the poster keeps the task and tries later.
//! - **At least once, completed once**: a task's idempotency key is its
//!   [`TaskKey`]. A lease that runs out returns the task; the first `Done`
//!   for a key completes it (a late one from an earlier lease holder too:
//!   the work was done), every later one is a counted duplicate.
//! - **Dead letters**: after `max_attempts` failed or expired leases a task
//!   goes to the dead-letter queue with its history, until replayed.
//! - **Admission** ([`admission`]), **rate limits** ([`rate`]) and
//!   **circuit breakers** per task type ([`breaker`]): every decision is
//!   recorded with the policy that took it ([`Decision`]).

pub mod admission;
pub mod breaker;
pub mod rate;
mod store;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

pub use admission::{Admission, FairShare};
pub use breaker::{Breaker, BreakerConfig};
pub use rate::{Bucket, RateConfig};
pub use store::BoardStore;

/// Keys of completed tasks remembered for idempotency, at most; beyond,
/// the oldest are forgotten (the mission book still knows them as done).
pub const MAX_DONE: usize = 65_536;
/// Dead letters kept, at most; beyond, the oldest is dropped and counted.
pub const MAX_DEAD: usize = 1_024;
/// Failures kept per task.
pub const MAX_HISTORY: usize = 16;

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
    /// The task's type (`cover`, `fetch`): what its circuit breaker counts.
    pub kind: String,
    /// Its work (e.g. waypoints to visit): what SRPT orders by.
    pub cost: u32,
    /// A capability the claimant must have.
    pub needs: Option<String>,
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
    /// The key was completed before: nothing happens twice.
    Duplicate,
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
    /// `lease`, `idempotency` or `dead_letter`.
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

#[derive(Debug, Default)]
pub struct Board {
    config: BoardConfig,
    entries: BTreeMap<TaskKey, Entry>,
    /// Open tasks per partition, in admission order.
    open: BTreeMap<Partition, BTreeSet<(u64, u64, TaskKey)>>,
    live: BTreeMap<Partition, usize>,
    done: BTreeSet<TaskKey>,
    dead: BTreeMap<TaskKey, Entry>,
    breakers: BTreeMap<String, Breaker>,
    buckets: BTreeMap<String, Bucket>,
    fair: FairShare,
    seq: u64,
    stats: BoardStats,
    /// Partitions whose overload was recorded (cleared by the next post).
    overloaded: BTreeSet<Partition>,
    /// Agents whose rate limiting was recorded (cleared by their next grant).
    limited: BTreeSet<String>,
    decisions: Vec<Decision>,
    /// Keys whose entry changed since the last `take_dirty`.
    dirty: BTreeSet<TaskKey>,
}

impl Board {
    pub fn new(config: BoardConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    pub fn config(&self) -> &BoardConfig {
        &self.config
    }

    /// Posts a task; posting a key already on the board changes nothing.
    pub fn post(&mut self, posting: Posting) -> Result<(), Overloaded> {
        let key = posting.key;
        if self.entries.contains_key(&key)
            || self.done.contains(&key)
            || self.dead.contains_key(&key)
        {
            return Ok(());
        }
        let partition = posting.partition.clone();
        let live = self.live.get(&partition).copied().unwrap_or(0);
        if live >= self.config.capacity {
            self.stats.overloaded += 1;
            let refused = Overloaded {
                partition: partition.clone(),
                capacity: self.config.capacity,
            };
            if self.overloaded.insert(partition) {
                self.decide(
                    "backpressure",
                    Some(key),
                    None,
                    format!("{refused}: posting refused until tasks end"),
                );
            }
            return Err(refused);
        }
        self.overloaded.remove(&partition);
        if !self.has_open(&partition.tenant) {
            let others = self.tenants_waiting();
            self.fair.backlogged(&partition.tenant, others.into_iter());
        }
        self.seq += 1;
        let entry = Entry {
            posting,
            seq: self.seq,
            state: EntryState::Open,
            attempts: 0,
            history: Vec::new(),
        };
        self.insert(entry);
        self.stats.posted += 1;
        Ok(())
    }

    /// Grants `who` the next task admission gives it, with a lease.
    pub fn claim(&mut self, who: Claimant<'_>, now_us: u64) -> Result<Lease, Refusal> {
        let Some(key) = self.candidate(who, now_us) else {
            return Err(Refusal::NothingToClaim);
        };
        let config = self.config;
        let bucket = self
            .buckets
            .entry(who.agent.to_string())
            .or_insert_with(|| Bucket::full(&config.rate, now_us));
        if let Err(retry_in_us) = bucket.take(&config.rate, now_us) {
            self.stats.rate_limited += 1;
            if self.limited.insert(who.agent.to_string()) {
                let detail = format!(
                    "{} over {} claims/s (burst {}): next claim in {retry_in_us} µs",
                    who.agent, config.rate.per_s, config.rate.burst
                );
                self.decide("rate_limit", None, Some(who.agent), detail);
            }
            return Err(Refusal::RateLimited { retry_in_us });
        }
        self.limited.remove(who.agent);
        Ok(self.grant(key, who.agent, now_us))
    }

    /// Extends the lease `agent` holds on `key` (its status still lists it).
    pub fn renew(&mut self, key: TaskKey, agent: &str, now_us: u64) {
        let lease_us = self.config.lease_us;
        if let Some(Entry {
            state: EntryState::Leased {
                agent: a, until_us, ..
            },
            ..
        }) = self.entries.get_mut(&key)
            && a == agent
        {
            *until_us = now_us.saturating_add(lease_us);
        }
    }

    /// `agent` did the task (lease `attempt`).
    pub fn complete(&mut self, key: TaskKey, agent: &str, attempt: u32) -> Completion {
        if self.done.contains(&key) {
            self.stats.duplicates += 1;
            self.decide(
                "idempotency",
                Some(key),
                Some(agent),
                format!("attempt {attempt} done again: already completed, ignored"),
            );
            return Completion::Duplicate;
        }
        let Some(entry) = self.remove(key) else {
            return Completion::Unknown;
        };
        if let EntryState::Leased {
            agent: holder,
            attempt: current,
            ..
        } = &entry.state
            && (holder != agent || *current != attempt)
        {
            let detail = format!(
                "completed by {agent}'s attempt {attempt}; {holder}'s attempt {current} is superseded"
            );
            self.decide("idempotency", Some(key), Some(agent), detail);
        }
        self.remember_done(key);
        self.stats.completed += 1;
        if let Some(t) = self.breaker(&entry.posting.kind).succeeded() {
            self.breaker_changed(&entry.posting.kind, t);
        }
        Completion::Completed
    }

    /// `agent`'s lease `attempt` on `key` failed; `None` when it holds no such lease.
    pub fn fail(
        &mut self,
        key: TaskKey,
        agent: &str,
        attempt: u32,
        reason: &str,
        now_us: u64,
    ) -> Option<Returned> {
        let Some(Entry {
            state:
                EntryState::Leased {
                    agent: a,
                    attempt: n,
                    ..
                },
            posting,
            ..
        }) = self.entries.get(&key)
        else {
            return None;
        };
        if a != agent || *n != attempt {
            return None;
        }
        let kind = posting.kind.clone();
        self.stats.failed += 1;
        let config = self.config.breaker;
        if let Some(t) = self.breaker(&kind).failed(&config, now_us) {
            self.breaker_changed(&kind, t);
        }
        Some(self.take_back(key, reason, now_us))
    }

    /// Returns every lease over by `now_us`; the keys and their holders.
    pub fn expire(&mut self, now_us: u64) -> Vec<(TaskKey, String, Returned)> {
        let over: Vec<(TaskKey, String)> = self
            .entries
            .iter()
            .filter_map(|(k, e)| match &e.state {
                EntryState::Leased {
                    agent, until_us, ..
                } if *until_us <= now_us => Some((*k, agent.clone())),
                _ => None,
            })
            .collect();
        let mut out = Vec::new();
        for (key, agent) in over {
            self.stats.expired += 1;
            self.decide(
                "lease",
                Some(key),
                Some(&agent),
                "lease expired: the task is open again".into(),
            );
            let returned = self.take_back(key, "lease expired", now_us);
            out.push((key, agent, returned));
        }
        out
    }

    /// Takes `key` back from `agent` without counting an attempt against it
    /// (the agent left, or no longer holds it).
    pub fn release(&mut self, key: TaskKey, agent: &str) -> bool {
        let Some(entry) = self.entries.get(&key) else {
            return false;
        };
        if !matches!(&entry.state, EntryState::Leased { agent: a, .. } if a == agent) {
            return false;
        }
        let mut entry = self.remove(key).expect("present");
        entry.state = EntryState::Open;
        entry.attempts = entry.attempts.saturating_sub(1);
        self.breaker(&entry.posting.kind).returned();
        self.insert(entry);
        true
    }

    /// Drops every task of `mission` (it ended): leases held on them lapse.
    pub fn withdraw(&mut self, mission: u64) {
        let keys: Vec<TaskKey> = self
            .entries
            .range(
                TaskKey { mission, task: 0 }..=TaskKey {
                    mission,
                    task: u32::MAX,
                },
            )
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.remove(key);
        }
    }

    /// Puts a dead letter back on the board with fresh attempts.
    pub fn replay(&mut self, key: TaskKey) -> Result<(), String> {
        let Some(mut entry) = self.dead.remove(&key) else {
            return Err(format!("task {key} is not in the dead-letter queue"));
        };
        let partition = entry.posting.partition.clone();
        if self.live.get(&partition).copied().unwrap_or(0) >= self.config.capacity {
            let why = Overloaded {
                partition,
                capacity: self.config.capacity,
            }
            .to_string();
            self.dead.insert(key, entry);
            return Err(why);
        }
        entry.attempts = 0;
        entry.state = EntryState::Open;
        self.decide(
            "dead_letter",
            Some(key),
            None,
            "replayed: open again with fresh attempts".into(),
        );
        self.insert(entry);
        Ok(())
    }

    pub fn entry(&self, key: TaskKey) -> Option<&Entry> {
        self.entries.get(&key)
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    pub fn dead_letters(&self) -> impl Iterator<Item = &Entry> {
        self.dead.values()
    }

    pub fn breakers(&self) -> &BTreeMap<String, Breaker> {
        &self.breakers
    }

    pub fn stats(&self) -> &BoardStats {
        &self.stats
    }

    pub fn served(&self, tenant: &str) -> u64 {
        self.fair.served(tenant)
    }

    /// The decisions taken since the last call, in order.
    pub fn take_decisions(&mut self) -> Vec<Decision> {
        std::mem::take(&mut self.decisions)
    }

    /// The keys whose entry (live or dead) changed since the last call.
    pub fn take_dirty(&mut self) -> BTreeSet<TaskKey> {
        std::mem::take(&mut self.dirty)
    }

    /// Puts back an entry read from disk (live or dead).
    pub fn restore(&mut self, entry: Entry, dead: bool) {
        self.seq = self.seq.max(entry.seq);
        if dead {
            self.dead.insert(entry.posting.key, entry);
        } else {
            self.insert(entry);
        }
    }

    fn candidate(&mut self, who: Claimant<'_>, now_us: u64) -> Option<TaskKey> {
        for tenant in self.fair.order(who.tenants) {
            let partition = Partition {
                tenant: tenant.clone(),
                squad: who.squad.to_string(),
            };
            let Some(open) = self.open.get(&partition) else {
                continue;
            };
            let capable = |e: &Entry| {
                e.posting
                    .needs
                    .as_ref()
                    .is_none_or(|n| who.capabilities.contains(n))
            };
            let mut admitted: BTreeMap<String, bool> = BTreeMap::new();
            let mut found = None;
            for (_, _, key) in open {
                let entry = &self.entries[key];
                if !capable(entry) {
                    continue;
                }
                let kind = &entry.posting.kind;
                if !admitted.contains_key(kind) {
                    let (ok, t) = self
                        .breakers
                        .entry(kind.clone())
                        .or_default()
                        .admits(now_us);
                    admitted.insert(kind.clone(), ok);
                    if let Some(t) = t {
                        let detail = format!("task type {kind:?} {}: one probe may go", t.name());
                        self.decisions.push(Decision {
                            policy: "circuit_breaker",
                            task: None,
                            agent: None,
                            detail,
                        });
                    }
                }
                if admitted[kind] {
                    found = Some(*key);
                    break;
                }
            }
            if found.is_some() {
                return found;
            }
        }
        None
    }

    fn grant(&mut self, key: TaskKey, agent: &str, now_us: u64) -> Lease {
        let mut entry = self.remove(key).expect("a candidate is on the board");
        entry.attempts += 1;
        let until_us = now_us.saturating_add(self.config.lease_us);
        entry.state = EntryState::Leased {
            agent: agent.to_string(),
            attempt: entry.attempts,
            until_us,
        };
        let (tenant, kind, cost, attempt) = (
            entry.posting.partition.tenant.clone(),
            entry.posting.kind.clone(),
            entry.posting.cost,
            entry.attempts,
        );
        self.insert(entry);
        self.breaker(&kind).dispatched();
        self.fair.granted(&tenant);
        self.stats.granted += 1;
        let policy = self.config.admission.name();
        let detail = format!(
            "granted to {agent} (attempt {attempt}, {kind}, cost {cost}; tenant {tenant}'s claim {} by fair share)",
            self.fair.served(&tenant)
        );
        self.decide(policy, Some(key), Some(agent), detail);
        Lease {
            key,
            agent: agent.to_string(),
            attempt,
            until_us,
        }
    }

    /// The lease on `key` ended without the task done: open again, or dead.
    fn take_back(&mut self, key: TaskKey, reason: &str, now_us: u64) -> Returned {
        let mut entry = self.remove(key).expect("a leased task is on the board");
        if let EntryState::Leased { agent, attempt, .. } = &entry.state {
            if entry.history.len() == MAX_HISTORY {
                entry.history.remove(0);
            }
            entry.history.push(Failure {
                attempt: *attempt,
                agent: agent.clone(),
                reason: reason.to_string(),
                at_us: now_us,
            });
        }
        self.breaker(&entry.posting.kind).returned();
        entry.state = EntryState::Open;
        if entry.attempts < self.config.max_attempts {
            self.insert(entry);
            return Returned::Reopened;
        }
        self.stats.dead_lettered += 1;
        let detail = format!("after {} attempts, the last: {reason}", entry.attempts);
        self.decide("dead_letter", Some(key), None, detail);
        if self.dead.len() >= MAX_DEAD
            && let Some((oldest, _)) = self.dead.pop_first()
        {
            self.stats.dead_dropped += 1;
            self.dirty.insert(oldest);
        }
        self.dead.insert(key, entry);
        self.dirty.insert(key);
        Returned::DeadLettered
    }

    fn insert(&mut self, entry: Entry) {
        let key = entry.posting.key;
        let partition = entry.posting.partition.clone();
        if entry.state == EntryState::Open {
            let order = (
                self.config.admission.order(entry.posting.cost),
                entry.seq,
                key,
            );
            self.open
                .entry(partition.clone())
                .or_default()
                .insert(order);
        }
        *self.live.entry(partition).or_default() += 1;
        self.dirty.insert(key);
        let replaced = self.entries.insert(key, entry);
        assert!(replaced.is_none(), "task {key} posted twice");
    }

    fn remove(&mut self, key: TaskKey) -> Option<Entry> {
        let entry = self.entries.remove(&key)?;
        let partition = &entry.posting.partition;
        if entry.state == EntryState::Open {
            let order = (
                self.config.admission.order(entry.posting.cost),
                entry.seq,
                key,
            );
            let open = self
                .open
                .get_mut(partition)
                .expect("an open task is indexed");
            assert!(open.remove(&order), "open task {key} indexed");
        }
        let live = self
            .live
            .get_mut(partition)
            .expect("a live task is counted");
        *live -= 1;
        self.dirty.insert(key);
        Some(entry)
    }

    fn remember_done(&mut self, key: TaskKey) {
        if self.done.len() >= MAX_DONE {
            self.done.pop_first();
        }
        self.done.insert(key);
    }

    fn has_open(&self, tenant: &str) -> bool {
        self.open
            .iter()
            .any(|(p, o)| p.tenant == tenant && !o.is_empty())
    }

    fn tenants_waiting(&self) -> BTreeSet<String> {
        let waiting = self.open.iter().filter(|(_, o)| !o.is_empty());
        waiting.map(|(p, _)| p.tenant.clone()).collect()
    }

    fn breaker(&mut self, kind: &str) -> &mut Breaker {
        self.breakers.entry(kind.to_string()).or_default()
    }

    fn breaker_changed(&mut self, kind: &str, t: breaker::Transition) {
        let detail = format!("task type {kind:?} {}", t.name());
        self.decide("circuit_breaker", None, None, detail);
    }

    fn decide(
        &mut self,
        policy: &'static str,
        task: Option<TaskKey>,
        agent: Option<&str>,
        detail: String,
    ) {
        let agent = agent.map(str::to_string);
        self.decisions.push(Decision {
            policy,
            task,
            agent,
            detail,
        });
    }
}
