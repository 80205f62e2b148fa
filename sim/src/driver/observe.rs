//! What the driver looks at every step: the world. Each look is a trace
//! line; the snapshot check runs on it (the world's own view of its floor).

use std::time::Duration;

use ractor::{ActorRef, RpcReplyPort};
use swarmd_actors::missions::{MissionState, PlannerMsg};
use swarmd_node::Started;
use swarmd_warehouse::world::{WorldActorMsg, WorldSnapshot};

use crate::check::{self, DeadlockWatch, Tally};
use crate::cluster::SimCluster;
use crate::trace::Trace;

/// Asks the actor `of` the first live node that runs one, waiting at most
/// a second; `None` if none answers.
async fn ask<M: ractor::Message, T: Send + 'static>(
    cluster: &SimCluster,
    of: impl Fn(&Started) -> Option<ActorRef<M>>,
    msg: impl FnOnce(RpcReplyPort<T>) -> M,
) -> Option<T> {
    let actor = cluster
        .members()
        .filter_map(|(_, m)| m.node.as_ref())
        .find_map(of)?;
    let asked = actor.call(msg, Some(Duration::from_secs(1))).await;
    asked.ok()?.success_or(()).ok()
}

async fn snapshot(cluster: &SimCluster) -> Option<WorldSnapshot> {
    ask(cluster, |n| n.cloud.world.get(), WorldActorMsg::Snapshot).await
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
    let missions = ask(cluster, |n| n.cloud.missions.get(), PlannerMsg::Missions).await?;
    let active = missions.iter().filter(|m| m.state == MissionState::Active);
    let waiting = active.map(|m| m.open_tasks()).sum();
    watch.look(cluster.clock.elapsed_us(), &world.agents, waiting)
}
