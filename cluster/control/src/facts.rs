//! What several commands read of the node (its clock, the agents its
//! planner knows, the capabilities its cluster offers) and how they report
//! JSON they cannot use: shared here so the handlers need not call each other.

use swarmd_actors::missions::PlannerMsg;

use super::{ControlArgs, ControlError};

/// How long a command waits for the mission planner.
pub const PLANNER_TIMEOUT_MS: u64 = 5_000;

pub fn now_us(args: &ControlArgs) -> u64 {
    let now = args.ctx.clock.wall_now();
    let since_epoch = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX)
}

pub fn bad_json(what: &str, e: serde_path_to_error::Error<serde_json::Error>) -> ControlError {
    let at = e.path().to_string();
    ControlError::BadRequest(format!("{what}, at {at}: {}", e.inner()))
}

/// The planner's latest status of every agent, if this node plans.
pub async fn known_agents(args: &ControlArgs) -> Vec<swarmd_messages::swarm::AgentStatus> {
    let Some(planner) = args.missions.get() else {
        return Vec::new();
    };
    ractor::call_t!(planner, PlannerMsg::Agents, PLANNER_TIMEOUT_MS).unwrap_or_default()
}

/// The capabilities the nodes that run agents offer, this one and every
/// member (up or not: one that is down may come back).
pub async fn offered_capabilities(
    args: &ControlArgs,
) -> Result<std::collections::BTreeSet<String>, ControlError> {
    let members = args
        .cluster
        .members()
        .await
        .map_err(|e| ControlError::Unavailable(e.to_string()))?;
    // This node's own from its factory (its advert may not be out yet).
    let own = match args.role.runs_edge() {
        true => args.factory.admission.offered().unwrap_or_default(),
        false => &[],
    };
    let others = members
        .into_iter()
        .filter(|m| m.info.name != args.node && m.info.role.runs_edge())
        .filter_map(|m| m.advert)
        .flat_map(|a| a.profile.capabilities);
    Ok(own.iter().cloned().chain(others).collect())
}
