//! Leases ending: renewed by the holder's statuses, failed, expired, or
//! given back; a task whose attempts are spent goes to the dead letters.

use super::*;

impl Board {
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

    /// Takes `key` back from `agent` (it left, or lost the task): an attempt
    /// spent like a failure, without counting against the task's type.
    pub fn lose(
        &mut self,
        key: TaskKey,
        agent: &str,
        reason: &str,
        now_us: u64,
    ) -> Option<Returned> {
        let entry = self.entries.get(&key)?;
        if !matches!(&entry.state, EntryState::Leased { agent: a, .. } if a == agent) {
            return None;
        }
        Some(self.take_back(key, reason, now_us))
    }

    /// Every task `agent` holds.
    pub fn held_by(&self, agent: &str) -> Vec<TaskKey> {
        let held = self
            .entries
            .iter()
            .filter(|(_, e)| matches!(&e.state, EntryState::Leased { agent: a, .. } if a == agent));
        held.map(|(k, _)| *k).collect()
    }

    /// The lease on `key` ended without the task done: open again, or dead.
    pub(super) fn take_back(&mut self, key: TaskKey, reason: &str, now_us: u64) -> Returned {
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
}
