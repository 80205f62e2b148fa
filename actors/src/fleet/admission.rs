//! What a node admits besides `max_agents`: the capabilities its agents may
//! have (what the node offers), and whether its memory budget still allows
//! another agent. The factory asks it before every spawn, local or remote;
//! the node's governor sets the budget state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use swarmd_messages::{SpawnRejected, SpawnSpec};

/// Shared by the factory's clones and the governor.
#[derive(Clone, Default)]
pub struct Admission(Arc<Inner>);

#[derive(Default)]
struct Inner {
    node: String,
    /// `None`: any capability.
    offered: Option<Vec<String>>,
    /// `(rss_mb, budget_mb)` while the node is at its memory budget.
    over_budget: Mutex<Option<(u64, u64)>>,
    refused_by_budget: AtomicU64,
}

impl Admission {
    /// Admits agents of `offered` capabilities on `node`.
    pub fn new(node: &str, offered: Vec<String>) -> Self {
        Self(Arc::new(Inner {
            node: node.to_string(),
            offered: Some(offered),
            ..Inner::default()
        }))
    }

    /// The capabilities on offer; `None`: any.
    pub fn offered(&self) -> Option<&[String]> {
        self.0.offered.as_deref()
    }

    /// The governor's word: at the budget (`Some((rss_mb, budget_mb))`) or not.
    pub fn set_over_budget(&self, state: Option<(u64, u64)>) {
        *self.lock() = state;
    }

    pub fn over_budget(&self) -> Option<(u64, u64)> {
        *self.lock()
    }

    /// Spawns refused because of the memory budget so far.
    pub fn refused_by_budget(&self) -> u64 {
        self.0.refused_by_budget.load(Ordering::Relaxed)
    }

    /// Whether `spec` may start here now.
    pub fn check(&self, spec: &SpawnSpec) -> Result<(), SpawnRejected> {
        if let Some(offered) = &self.0.offered
            && let Some(missing) = spec.capabilities.iter().find(|c| !offered.contains(c))
        {
            return Err(SpawnRejected::MissingCapability {
                node: self.0.node.clone(),
                capability: missing.clone(),
                offered: offered.clone(),
            });
        }
        if let Some((rss_mb, budget_mb)) = self.over_budget() {
            self.0.refused_by_budget.fetch_add(1, Ordering::Relaxed);
            return Err(SpawnRejected::OverBudget { rss_mb, budget_mb });
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, u64)>> {
        self.0
            .over_budget
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(capabilities: &[&str]) -> SpawnSpec {
        let mut spec = SpawnSpec::new("a1", "grid", "t");
        spec.capabilities = capabilities.iter().map(|c| c.to_string()).collect();
        spec
    }

    #[test]
    fn a_capability_the_node_does_not_offer_is_refused_by_name() {
        let admission = Admission::new("edge-1", vec!["move".into()]);
        assert_eq!(admission.check(&spec(&["move"])), Ok(()));
        let refused = admission.check(&spec(&["move", "fly"])).unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains("\"edge-1\"") && text.contains("\"fly\""),
            "{text}"
        );
        assert!(Admission::default().check(&spec(&["fly"])).is_ok());
    }

    #[test]
    fn at_the_memory_budget_every_spawn_is_refused_with_the_budget_and_counted() {
        let admission = Admission::new("edge-1", vec![]);
        admission.set_over_budget(Some((130, 128)));
        let refused = admission.check(&spec(&[])).unwrap_err();
        assert_eq!(
            refused,
            SpawnRejected::OverBudget {
                rss_mb: 130,
                budget_mb: 128
            }
        );
        assert!(refused.to_string().contains("128 MB"), "{refused}");
        assert_eq!(admission.refused_by_budget(), 1);
        admission.set_over_budget(None);
        assert!(admission.check(&spec(&[])).is_ok());
    }
}
