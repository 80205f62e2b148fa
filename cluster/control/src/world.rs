//! `world`: the floor as the world host sees it, with each agent's node,
//! tasks and the waypoints it is heading for (from the planner, where this
//! node plans). What the dashboard draws.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use swarmd_actors::missions::{Mission, PlannerMsg, TaskState};
use swarmd_messages::SYSTEM_TENANT;
use swarmd_messages::swarm::{AgentStatus, Cell};
use swarmd_warehouse::world::WorldActorMsg;

use super::{ControlArgs, ControlError, ControlReply};

const WORLD_TIMEOUT_MS: u64 = 2_000;

pub async fn floor(args: &ControlArgs, tenant: &str) -> ControlReply {
    let world = args.world.get().ok_or_else(|| {
        ControlError::BadRequest(format!(
            "node {:?} does not host the world; ask the node named by world.host (or the cloud)",
            args.node
        ))
    })?;
    let snapshot = ractor::call_t!(world, WorldActorMsg::Snapshot, WORLD_TIMEOUT_MS)
        .map_err(|e| ControlError::Unavailable(format!("the world: {e}")))?;
    let statuses: BTreeMap<String, AgentStatus> = super::facts::known_agents(args)
        .await
        .into_iter()
        .map(|s| (s.agent.name.clone(), s))
        .collect();
    let waypoints = heading_for(args).await;
    let agents: Vec<Value> = snapshot
        .agents
        .iter()
        .filter_map(|(id, at)| {
            let status = statuses.get(id);
            let owner = status.map(|s| s.tenant.as_str());
            if tenant != SYSTEM_TENANT && owner != Some(tenant) {
                return None;
            }
            Some(json!({
                "id": id,
                "x": at.x,
                "y": at.y,
                "node": status.map(|s| s.agent.node.as_str()),
                "tenant": owner,
                "halted": status.is_some_and(|s| s.halted),
                "tasks": status.map_or(Vec::new(), |s| s.tasks.iter().map(|(m, t)| format!("{m}/{t}")).collect()),
                "waypoints": waypoints.get(id).map_or(Vec::new(), |w| cells(w)),
            }))
        })
        .collect();
    let plan = &snapshot.plan;
    let tags: Vec<Value> = args
        .peers
        .tags()
        .into_iter()
        .filter(|(t, _)| tenant == SYSTEM_TENANT || t == tenant)
        .flat_map(|(t, tags)| tags.into_iter().map(move |tag| json!({"tenant": t, "x": tag.x, "y": tag.y, "kind": tag.kind, "intensity": tag.intensity})))
        .collect();
    Ok(json!({
        "width": plan.width,
        "height": plan.height,
        "shelves": cells(&plan.obstacles),
        "docks": cells(&plan.docks),
        "hazards": cells(&snapshot.hazards),
        "refused_moves": snapshot.refused_moves,
        "agents": agents,
        "tags": tags,
    }))
}

fn cells(of: &[Cell]) -> Vec<[i32; 2]> {
    of.iter().map(|c| [c.x, c.y]).collect()
}

/// Each agent's assigned task's waypoints, where this node plans.
async fn heading_for(args: &ControlArgs) -> BTreeMap<String, Vec<Cell>> {
    let Some(planner) = args.missions.get() else {
        return BTreeMap::new();
    };
    let missions: Vec<Mission> =
        ractor::call_t!(planner, PlannerMsg::Missions, WORLD_TIMEOUT_MS).unwrap_or_default();
    let mut out = BTreeMap::new();
    for task in missions.iter().flat_map(|m| &m.tasks) {
        if let TaskState::Assigned { agent, .. } = &task.state {
            out.entry(agent.clone())
                .or_insert_with(|| task.waypoints.clone());
        }
    }
    out
}
