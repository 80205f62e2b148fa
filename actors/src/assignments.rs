//! What every kind of agent does with the mission planner's assignments,
//! whatever its layers: name the task an assignment is about, refuse a
//! deposed leader's, and send statuses and reports to the planner.

use swarmd_messages::swarm::{Address, Assignment, MISSIONS_ACTOR, MissionMsg};
use swarmd_messages::{EventKind, LeadershipChange, TaskRef};
use tracing::warn;

use crate::journal::Journal;
use crate::router::{self, Router};

/// The task `a` assigns, as the ledger names it.
pub fn task_of(a: &Assignment) -> TaskRef {
    TaskRef {
        mission: a.mission,
        task: a.task,
    }
}

/// A deposed leader's assignment: refused, journaled, never worked.
pub async fn refuse_stale(journal: &Journal, agent: &str, a: &Assignment, newest: u64) {
    let task = format!("{}/{}", a.mission, a.task);
    warn!(%agent, %task, token = a.token, newest, "assignment of a deposed leader refused");
    let change = LeadershipChange::StaleRefused {
        task,
        token: a.token,
        newest,
    };
    journal.record(EventKind::Leadership { change }).await;
}

/// To the mission planner, wherever it runs. Lost when the cloud is
/// unreachable: the agent's next status repeats what matters.
pub fn to_cloud(router: &dyn Router, msg: &MissionMsg) {
    let Some(node) = router.cloud() else {
        return;
    };
    let to = Address {
        node,
        name: MISSIONS_ACTOR.to_string(),
    };
    let _ = router::cast(router, &to, msg);
}
