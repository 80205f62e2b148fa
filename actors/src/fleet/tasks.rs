//! The task kinds a node's program knows (DESIGN §16): the mission planner
//! asks the kind's domain to check a task's payload and split a mission into
//! tasks, without knowing the domain itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use swarmd_messages::task::TaskSpec;

/// One task of a split mission: the domain's task as JSON, and its work
/// (what the board's shortest-first order compares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitTask {
    pub payload: String,
    pub cost: u32,
}

/// What the planner needs of a domain to carry its tasks.
pub trait TaskKind: Send + Sync + 'static {
    /// The mission `spec` as tasks for `workers` agents; `Err` says why its
    /// payload is not a task of this kind.
    fn split(&self, spec: &TaskSpec, workers: usize) -> Result<Vec<SplitTask>, String>;
}

/// Tasks of one mission at most, whatever a splitter makes.
pub const MAX_SPLIT_TASKS: usize = 1024;

/// Task kinds by name.
#[derive(Clone, Default)]
pub struct TaskKinds(BTreeMap<String, Arc<dyn TaskKind>>);

impl TaskKinds {
    pub fn with(mut self, name: &str, kind: Arc<dyn TaskKind>) -> Self {
        self.0.insert(name.to_string(), kind);
        self
    }

    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// These kinds and `more`, unless `more` names one of these again.
    pub fn extend(mut self, more: TaskKinds) -> Result<Self, String> {
        for (name, kind) in more.0 {
            if self.0.contains_key(&name) {
                return Err(format!("task kind {name:?} is registered twice"));
            }
            self.0.insert(name, kind);
        }
        Ok(self)
    }

    /// `spec` checked (bounds, then its domain) and split into tasks.
    pub fn split(&self, spec: &TaskSpec, workers: usize) -> Result<Vec<SplitTask>, String> {
        if let Some(why) = spec.violation() {
            return Err(why);
        }
        let kind = self.0.get(&spec.kind).ok_or_else(|| {
            let known = self.names().join(", ");
            format!("unknown task kind {:?}; known: [{known}]", spec.kind)
        })?;
        let tasks = kind
            .split(spec, workers)
            .map_err(|why| format!("{} payload: {why}", spec.kind))?;
        if tasks.is_empty() || tasks.len() > MAX_SPLIT_TASKS {
            let n = tasks.len();
            return Err(format!("split into {n} tasks (1..={MAX_SPLIT_TASKS})"));
        }
        Ok(tasks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Halves;
    impl TaskKind for Halves {
        fn split(&self, spec: &TaskSpec, _: usize) -> Result<Vec<SplitTask>, String> {
            let n: u32 = spec.payload.parse().map_err(|_| "not a number")?;
            Ok((0..n)
                .map(|i| SplitTask {
                    payload: i.to_string(),
                    cost: i,
                })
                .collect())
        }
    }

    #[test]
    fn a_mission_splits_by_its_kind_and_bad_ones_say_why() {
        let kinds = TaskKinds::default().with("halves", Arc::new(Halves));
        let split = kinds.split(&TaskSpec::new("halves", "3"), 2).unwrap();
        assert_eq!(split.len(), 3);
        let unknown = kinds.split(&TaskSpec::new("other", "3"), 2).unwrap_err();
        assert!(unknown.contains("unknown task kind \"other\""), "{unknown}");
        assert!(unknown.contains("halves"), "{unknown}");
        let bad = kinds.split(&TaskSpec::new("halves", "x"), 2).unwrap_err();
        assert_eq!(bad, "halves payload: not a number");
        let none = kinds.split(&TaskSpec::new("halves", "0"), 2).unwrap_err();
        assert!(none.contains("split into 0 tasks"), "{none}");
        let twice = TaskKinds::default().with("halves", Arc::new(Halves));
        assert!(kinds.extend(twice).is_err());
    }
}
