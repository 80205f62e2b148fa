//! `[placement]`: agents the cloud supervises on other nodes (`spawn KIND
//! SPEC --place --supervised`). Their exits restart them under the cloud's
//! restart intensity; when their node stays down past `grace_ms`, a
//! relocatable kind starts again on another node that can host it, and any
//! other kind (bound to its node, like a robot's) is reported lost, its tasks
//! released. An edge cut off from its supervising cloud and from a majority
//! of members stops such agents after half the grace, so an agent never runs
//! on two nodes at once (DESIGN §6).

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlacementSection {
    /// How long a supervised agent's node may be down before the agent is
    /// moved (relocatable kinds) or reported lost (others).
    pub grace_ms: u64,
    /// Agent kinds that may run on any node that can host them.
    pub relocatable: Vec<String>,
    /// Restarts of supervised agents within `restart_period_ms` before the
    /// cloud's remote supervisor gives up (and escalates).
    pub max_restarts: u64,
    pub restart_period_ms: u64,
}

impl Default for PlacementSection {
    fn default() -> Self {
        Self {
            grace_ms: 5_000,
            relocatable: vec!["grid".into(), "probe".into()],
            max_restarts: 5,
            restart_period_ms: 30_000,
        }
    }
}

impl PlacementSection {
    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms)
    }

    pub fn restart_period(&self) -> Duration {
        Duration::from_millis(self.restart_period_ms)
    }

    pub fn relocatable(&self, kind: &str) -> bool {
        self.relocatable.iter().any(|k| k == kind)
    }
}
