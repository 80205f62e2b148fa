//! A supervisor's children in start order, found by id or by running actor
//! in O(log n): a supervisor of 10,000 agents pays for the child at hand,
//! not for its siblings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ractor::{ActorCell, ActorId};

use crate::child::ChildSpec;

/// A child's place in start order; never reused.
pub(crate) type Key = u64;

pub(crate) enum Status {
    Running(ActorCell),
    RestartPending,
    Terminated,
}

pub(crate) struct Child {
    pub(crate) spec: ChildSpec,
    status: Status,
    pub(crate) restarts: u32,
    pub(crate) last_failure: Option<String>,
}

impl Child {
    pub(crate) fn status(&self) -> &Status {
        &self.status
    }

    pub(crate) fn cell(&self) -> Option<&ActorCell> {
        match &self.status {
            Status::Running(cell) => Some(cell),
            _ => None,
        }
    }
}

#[derive(Default)]
pub(crate) struct Children {
    order: BTreeMap<Key, Child>,
    next_key: Key,
    by_id: HashMap<String, Key>,
    by_actor: HashMap<ActorId, Key>,
    pending: BTreeSet<Key>,
}

impl Children {
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Adds a terminated child after every other; its key.
    pub(crate) fn push(&mut self, spec: ChildSpec) -> Key {
        let key = self.next_key;
        self.next_key += 1;
        let previous = self.by_id.insert(spec.id.clone(), key);
        assert!(previous.is_none(), "child ids are unique");
        let child = Child {
            spec,
            status: Status::Terminated,
            restarts: 0,
            last_failure: None,
        };
        self.order.insert(key, child);
        self.check_invariants();
        key
    }

    pub(crate) fn remove(&mut self, key: Key) -> Option<Child> {
        self.set_status(key, Status::Terminated);
        let child = self.order.remove(&key)?;
        self.by_id.remove(&child.spec.id);
        self.check_invariants();
        Some(child)
    }

    pub(crate) fn key_of(&self, id: &str) -> Option<Key> {
        self.by_id.get(id).copied()
    }

    pub(crate) fn key_of_running(&self, actor: ActorId) -> Option<Key> {
        self.by_actor.get(&actor).copied()
    }

    pub(crate) fn get(&self, key: Key) -> Option<&Child> {
        self.order.get(&key)
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut Child> {
        self.order.get_mut(&key)
    }

    /// Moves a child to `status`, keeping the indexes true.
    pub(crate) fn set_status(&mut self, key: Key, status: Status) {
        let Some(child) = self.order.get_mut(&key) else {
            return;
        };
        if let Status::Running(cell) = &child.status {
            self.by_actor.remove(&cell.get_id());
        }
        self.pending.remove(&key);
        match &status {
            Status::Running(cell) => {
                self.by_actor.insert(cell.get_id(), key);
            }
            Status::RestartPending => {
                self.pending.insert(key);
            }
            Status::Terminated => {}
        }
        child.status = status;
        self.check_invariants();
    }

    /// Every key, in start order.
    pub(crate) fn keys(&self) -> Vec<Key> {
        self.order.keys().copied().collect()
    }

    /// `key` and every key started after it, in start order.
    pub(crate) fn keys_from(&self, key: Key) -> Vec<Key> {
        self.order.range(key..).map(|(k, _)| *k).collect()
    }

    /// Children marked for restart, in start order.
    pub(crate) fn pending(&self) -> Vec<Key> {
        self.pending.iter().copied().collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Child> {
        self.order.values()
    }

    /// Cheap enough to assert after every change.
    fn check_invariants(&self) {
        debug_assert_eq!(self.by_id.len(), self.order.len(), "one id per child");
        debug_assert!(self.by_actor.len() + self.pending.len() <= self.order.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str) -> ChildSpec {
        ChildSpec::new(id, |_| async { Err(ractor::SpawnErr::ActorAlreadyStarted) })
    }

    #[test]
    fn keys_keep_start_order_and_are_never_reused() {
        let mut children = Children::default();
        let (a, b, c) = (
            children.push(spec("a")),
            children.push(spec("b")),
            children.push(spec("c")),
        );
        assert_eq!(children.keys(), [a, b, c]);
        assert_eq!(children.keys_from(b), [b, c]);
        children.remove(b);
        let d = children.push(spec("b"));
        assert!(d > c, "a new child goes last, under a new key");
        assert_eq!(children.keys(), [a, c, d]);
        assert_eq!(children.key_of("b"), Some(d));
        assert_eq!(children.len(), 3);
    }

    #[test]
    fn pending_follows_status_changes() {
        let mut children = Children::default();
        let (a, b) = (children.push(spec("a")), children.push(spec("b")));
        children.set_status(b, Status::RestartPending);
        children.set_status(a, Status::RestartPending);
        assert_eq!(children.pending(), [a, b], "in start order");
        children.set_status(a, Status::Terminated);
        assert_eq!(children.pending(), [b]);
        children.remove(b);
        assert!(children.pending().is_empty());
    }
}
