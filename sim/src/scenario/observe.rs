//! What the driver looks at: the world every step, and at the end every
//! node's ledger, the hub's copies and the forwarders' cursors. Each
//! observation is a trace line; the checkers judge them.

use std::time::Duration;

use swarmd_actors::agent::{INTENSITY_PERIOD, MAX_RESTARTS};
use swarmd_actors::world::{WorldActorMsg, WorldSnapshot};
use swarmd_messages::{Event, stable_hash};
use swarmd_storage::ledger::{LedgerReader, persisted_cursor, persisted_first_seq};
use swarmd_supervisor::Intensity;

use crate::check::{self, Forwarded, Limit};
use crate::cluster::SimCluster;
use crate::trace::Trace;

/// No node's log in a run is longer than this.
const MAX_LOG: usize = 1_000_000;

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
pub async fn world(cluster: &SimCluster, trace: &mut Trace, violations: &mut Vec<String>) {
    let now_us = cluster.clock.elapsed_us();
    let Some(world) = snapshot(cluster).await else {
        return trace.line(format!("{now_us}us world unreachable"));
    };
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
}

fn log(reader: &LedgerReader, node: &str) -> Vec<Event> {
    reader.node_log(node, 0, MAX_LOG).unwrap_or_default()
}

/// Every node's ledger into the trace, then the ledger checkers.
pub fn ledgers(
    cluster: &SimCluster,
    edges: &[String],
    mission_deadline: Duration,
    trace: &mut Trace,
    violations: &mut Vec<String>,
) {
    let reader =
        |name: &str| LedgerReader::new(cluster.member(name).expect("a member").storage.clone());
    let hub = reader("cloud");
    let mut forwarded = Vec::new();
    for (name, _) in cluster.members() {
        let own = log(&reader(name), name);
        for e in &own {
            let kind = stable_hash(&format!("{:?}", e.kind));
            trace.line(format!(
                "{name} #{} {}us {:?} {} {kind:016x}",
                e.id.seq,
                e.time_us,
                e.agent,
                e.kind.name()
            ));
        }
        violations.extend(check::intensity_respected(&own, limit_of));
        if edges.contains(name) {
            let storage = cluster.member(name).expect("a member").storage.clone();
            forwarded.push(Forwarded {
                node: name.clone(),
                first_seq: persisted_first_seq(storage.as_ref(), name).unwrap_or(0),
                acked_below: persisted_cursor(storage.as_ref(), name).unwrap_or(0),
                at_hub: log(&hub, name),
                own,
            });
        }
    }
    for f in &forwarded {
        trace.line(format!(
            "{} acked below #{}, {} at the hub",
            f.node,
            f.acked_below,
            f.at_hub.len()
        ));
    }
    violations.extend(check::acked_events_at_hub(&forwarded));
    let missions = check::missions(&log(&hub, "cloud"));
    let deadline_us = cluster.clock.epoch_us() + mission_deadline.as_micros() as u64;
    for (id, m) in &missions {
        trace.line(format!(
            "mission {id} planned {}us: {:?}",
            m.planned_us, m.outcome
        ));
    }
    violations.extend(check::missions_end(&missions, deadline_us));
}

/// The intensity each supervisor of a node runs with.
fn limit_of(supervisor: &str) -> Limit {
    let (max_restarts, period) = match supervisor {
        "node" => (3, Duration::from_secs(30)),
        "dialers" => (10, Duration::from_secs(10)),
        "storage" | "cluster" | "agents" | "cloud" => {
            let default = Intensity::default();
            (default.max_restarts, default.period)
        }
        // Every other supervisor is an agent's.
        _ => (MAX_RESTARTS, INTENSITY_PERIOD),
    };
    Limit {
        max_restarts,
        period,
    }
}
