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
    /// Agents a cloud keeps on other nodes from its start, as
    /// `spawn KIND SPEC --supervised` would (`[[placement.agents]]`).
    pub agents: Vec<SupervisedAgent>,
}

/// One agent a cloud supervises on another node from its config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisedAgent {
    pub id: String,
    pub kind: String,
    /// Where it starts (and, for a kind that is not relocatable, stays);
    /// unset: the node that can host it best.
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default = "default_squad")]
    pub squad: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The kind's spawn parameters (a drone's `home`; `body = "remote"` for
    /// an external body), as at the console.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
}

fn default_squad() -> String {
    "default".into()
}

impl Default for PlacementSection {
    fn default() -> Self {
        Self {
            grace_ms: 5_000,
            relocatable: vec!["grid".into(), "probe".into()],
            max_restarts: 5,
            restart_period_ms: 30_000,
            agents: Vec::new(),
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

    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let mut seen = std::collections::BTreeSet::new();
        for agent in &self.agents {
            if agent.id.is_empty() || !seen.insert(agent.id.as_str()) {
                return Err((
                    "placement.agents",
                    format!("{:?}: ids must be unique and not empty", agent.id),
                ));
            }
            if agent.node.is_none() && !self.relocatable(&agent.kind) {
                let why = format!(
                    "{}: a kind that is not relocatable needs its node",
                    agent.id
                );
                return Err(("placement.agents", why));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    fn load(toml: &str) -> Result<crate::NodeConfig, crate::ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, toml).unwrap();
        crate::load_file(&path)
    }

    #[test]
    fn supervised_agents_from_config_are_checked() {
        let ok = load("[[placement.agents]]\nid = \"s1\"\nkind = \"grid\"\n").unwrap();
        assert_eq!(ok.placement.agents[0].squad, "default");
        assert_eq!(ok.placement.agents[0].node, None);
        let bound = "[placement]\nrelocatable = [\"grid\"]\n[[placement.agents]]\nid = \"r1\"\nkind = \"probe\"\n";
        let err = load(bound).unwrap_err().to_string();
        assert!(
            err.contains("placement.agents") && err.contains("needs its node"),
            "{err}"
        );
        let twice = "[[placement.agents]]\nid = \"s1\"\nkind = \"grid\"\n[[placement.agents]]\nid = \"s1\"\nkind = \"grid\"\n";
        assert!(load(twice).unwrap_err().to_string().contains("unique"));
    }
}
