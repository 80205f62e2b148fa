//! What the planner asks of its book, and how it reaches agents.

use std::collections::BTreeMap;

use swarmd_messages::swarm::{Address, AgentMsg};
use tracing::{info, warn};

use super::PlannerState;
use crate::missions::book::{MissionState, TaskState};
use crate::router;

impl PlannerState {
    /// How many tasks of active missions the book gives each agent.
    pub(super) fn assigned_by_agent(&self) -> BTreeMap<&str, usize> {
        let mut given = BTreeMap::new();
        let active = self
            .missions
            .values()
            .filter(|m| m.state == MissionState::Active);
        for task in active.flat_map(|m| &m.tasks) {
            if let TaskState::Assigned { agent, .. } = &task.state {
                *given.entry(agent.as_str()).or_default() += 1;
            }
        }
        given
    }

    pub(super) fn open_tasks(&self) -> usize {
        let active = self
            .missions
            .values()
            .filter(|m| m.state == MissionState::Active);
        let tasks = active.flat_map(|m| &m.tasks);
        tasks.filter(|t| t.state == TaskState::Open).count()
    }

    pub(super) fn any_active(&self) -> bool {
        self.missions
            .values()
            .any(|m| m.state == MissionState::Active)
    }

    pub(super) fn active_ids(&self) -> Vec<u64> {
        self.missions
            .iter()
            .filter(|(_, m)| m.state == MissionState::Active)
            .map(|(id, _)| *id)
            .collect()
    }

    pub(super) fn broadcast(&self, msg: &AgentMsg) {
        info!(agents = self.agents.len(), ?msg, "broadcast to the swarm");
        for agent in self.agents.values() {
            self.send(&agent.status.agent, msg);
        }
    }

    pub(super) fn send(&self, to: &Address, msg: &AgentMsg) {
        if let Err(why) = router::cast(self.args.router.as_ref(), to, msg) {
            warn!(agent = %to.name, %why, "cannot reach agent");
        }
    }
}
