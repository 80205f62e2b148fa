//! What the driver looks at every step: the world. Each look is a trace
//! line; the snapshot check runs on it (the world's own view of its floor).

use std::time::Duration;

use swarmd_actors::world::{WorldActorMsg, WorldSnapshot};

use swarmd_actors::missions::{MissionState, PlannerMsg};

use crate::check::{self, DeadlockWatch, Tally};
use crate::cluster::SimCluster;
use crate::trace::Trace;

async fn snapshot(cluster: &SimCluster) -> Option<WorldSnapshot> {
    let world = cluster
        .members()
        .filter_map(|(_, m)| m.node.as_ref())
        .find_map(|n| n.cloud.world.get())?;
    let asked = world
        .call(WorldActorMsg::Snapshot, Some(Duration::from_secs(1)))
        .await;
    asked.ok()?.success_or(()).ok()
}

/// One look at the world: positions into the trace, the one-agent-per-cell check.
pub async fn world(
    cluster: &SimCluster,
    trace: &mut Trace,
    violations: &mut Vec<String>,
    tally: &mut Tally,
) -> Option<WorldSnapshot> {
    let now_us = cluster.clock.elapsed_us();
    let Some(world) = snapshot(cluster).await else {
        trace.line(format!("{now_us}us world unreachable"));
        return None;
    };
    tally.snapshots += 1;
    tally.positions += world.agents.len() as u64;
    tally.refused_moves = world.refused_moves;
    let positions: Vec<String> = world
        .agents
        .iter()
        .map(|(n, c)| format!("{n}@{c}"))
        .collect();
    trace.line(format!(
        "{now_us}us world {} refused={}",
        positions.join(" "),
        world.refused_moves
    ));
    violations.extend(check::one_agent_per_cell(now_us, &world.agents));
    Some(world)
}

/// The deadlock check: is anyone moving while the planner's tasks wait?
pub async fn stillness(
    cluster: &SimCluster,
    world: &WorldSnapshot,
    watch: &mut DeadlockWatch,
) -> Option<String> {
    let planner = cluster
        .members()
        .filter_map(|(_, m)| m.node.as_ref())
        .find_map(|n| n.cloud.missions.get())?;
    let asked = planner
        .call(PlannerMsg::Missions, Some(Duration::from_secs(1)))
        .await;
    let missions = asked.ok()?.success_or(()).ok()?;
    let active = missions.iter().filter(|m| m.state == MissionState::Active);
    let waiting = active.map(|m| m.open_tasks()).sum();
    watch.look(cluster.clock.elapsed_us(), &world.agents, waiting)
}
