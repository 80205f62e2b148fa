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
mod leases;
pub mod rate;
mod store;
#[cfg(test)]
mod tests;
mod types;
mod view;

pub use admission::{Admission, FairShare};
pub use breaker::{Breaker, BreakerConfig};
pub use rate::{Bucket, RateConfig};
use std::collections::{BTreeMap, BTreeSet};
pub use store::BoardStore;
pub use types::*;
pub use view::*;

/// Keys of completed tasks remembered for idempotency, at most; beyond,
/// the oldest are forgotten (the mission book still knows them as done).
pub const MAX_DONE: usize = 65_536;
/// Dead letters kept, at most; beyond, the oldest is dropped and counted.
pub const MAX_DEAD: usize = 1_024;
/// Failures kept per task.
pub const MAX_HISTORY: usize = 16;

#[derive(Debug, Default)]
pub struct Board {
    config: BoardConfig,
    entries: BTreeMap<TaskKey, Entry>,
    /// Open tasks per partition, in admission order.
    open: BTreeMap<Partition, BTreeSet<(u64, u64, TaskKey)>>,
    live: BTreeMap<Partition, usize>,
    /// Completed keys, with the lease that completed each.
    done: BTreeMap<TaskKey, (String, u32)>,
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
            || self.done.contains_key(&key)
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

    /// `agent` did the task (lease `attempt`): the first `Done` of a lease
    /// the board granted completes it, whichever lease it was.
    pub fn complete(&mut self, key: TaskKey, agent: &str, attempt: u32) -> Completion {
        if let Some((by, n)) = self.done.get(&key) {
            if by == agent && *n == attempt {
                return Completion::Repeat;
            }
            self.stats.duplicates += 1;
            let detail = format!(
                "{agent}'s attempt {attempt} done too: already completed by {by}'s attempt {n}, ignored"
            );
            self.decide("idempotency", Some(key), Some(agent), detail);
            return Completion::Duplicate;
        }
        let Some(entry) = self.entries.get(&key) else {
            return Completion::Unknown;
        };
        let held_now = matches!(&entry.state, EntryState::Leased { agent: h, attempt: n, .. } if h == agent && *n == attempt);
        let held_before = entry
            .history
            .iter()
            .any(|f| f.agent == agent && f.attempt == attempt);
        if !held_now && !held_before {
            return Completion::NotHeld;
        }
        let entry = self.remove(key).expect("present");
        if let EntryState::Leased {
            agent: holder,
            attempt: current,
            ..
        } = &entry.state
            && !held_now
        {
            let detail = format!(
                "completed by {agent}'s attempt {attempt}; {holder}'s attempt {current} is superseded"
            );
            self.decide("idempotency", Some(key), Some(agent), detail);
        }
        self.remember_done(key, agent, attempt);
        self.stats.completed += 1;
        let detail = format!("completed by {agent}'s attempt {attempt}: its key is closed");
        self.decide("completion", Some(key), Some(agent), detail);
        if let Some(t) = self.breaker(&entry.posting.kind).succeeded() {
            self.breaker_changed(&entry.posting.kind, t);
        }
        Completion::Completed
    }

    /// Drops task `key`, whatever its state (the book has ended it).
    pub fn forget(&mut self, key: TaskKey) {
        self.remove(key);
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

    pub fn dead_letter(&self, key: TaskKey) -> Option<&Entry> {
        self.dead.get(&key)
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
            let capable = |e: &Entry| e.posting.needs.iter().all(|n| who.capabilities.contains(n));
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
            "granted to {agent} (attempt {attempt}, {kind}, cost {cost}; fair share: claim {} of tenant {tenant})",
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

    /// Where an open entry sits in its partition's queue.
    fn order_of(&self, entry: &Entry) -> (u64, u64, TaskKey) {
        let p = &entry.posting;
        let policy = self.config.admission.order(p.priority, p.cost);
        (policy, entry.seq, p.key)
    }

    fn insert(&mut self, entry: Entry) {
        let key = entry.posting.key;
        let partition = entry.posting.partition.clone();
        if entry.state == EntryState::Open {
            let order = self.order_of(&entry);
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
            let order = self.order_of(&entry);
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

    fn remember_done(&mut self, key: TaskKey, agent: &str, attempt: u32) {
        if self.done.len() >= MAX_DONE {
            self.done.pop_first();
        }
        self.done.insert(key, (agent.to_string(), attempt));
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
