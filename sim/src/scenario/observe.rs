//! What the driver looks at: the world every step, and at the end every
//! node's ledger, the hub's copies and the forwarders' cursors. Each
//! observation is a trace line; the checkers judge them.

use std::time::Duration;

use swarmd_actors::agent::{INTENSITY_PERIOD, MAX_RESTARTS};
use swarmd_actors::world::{WorldActorMsg, WorldSnapshot};
use swarmd_messages::{Event, stable_hash};
use swarmd_storage::ledger::{LedgerReader, persisted_cursor, persisted_first_seq};
use swarmd_supervisor::Intensity;

use crate::check::{self, Forwarded, Limit, Tally};
use crate::cluster::SimCluster;
use crate::trace::Trace;

/// Events younger than this at the end may still be on their way to the hub.
const FORWARD_GRACE_US: u64 = 5_000_000;
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
pub async fn world(
    cluster: &SimCluster,
    trace: &mut Trace,
    violations: &mut Vec<String>,
    tally: &mut Tally,
) {
    let now_us = cluster.clock.elapsed_us();
    let Some(world) = snapshot(cluster).await else {
        return trace.line(format!("{now_us}us world unreachable"));
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
}

/// A node's log; a read error is a violation, never an empty log.
fn log(reader: &LedgerReader, node: &str, violations: &mut Vec<String>) -> Vec<Event> {
    match reader.node_log(node, 0, MAX_LOG) {
        Ok(events) => events,
        Err(e) => {
            violations.push(format!("{node}'s log cannot be read: {e}"));
            Vec::new()
        }
    }
}

/// A persisted seq; a read error is a violation, never 0.
fn read_seq(
    what: &str,
    node: &str,
    read: Result<u64, swarmd_storage::StorageError>,
    violations: &mut Vec<String>,
) -> u64 {
    read.unwrap_or_else(|e| {
        violations.push(format!("{node}'s {what} cannot be read: {e}"));
        0
    })
}

/// Every node's ledger into the trace, then the ledger checkers.
pub fn ledgers(
    cluster: &SimCluster,
    edges: &[String],
    mission_deadline: Duration,
    trace: &mut Trace,
    violations: &mut Vec<String>,
    tally: &mut Tally,
) {
    let reader =
        |name: &str| LedgerReader::new(cluster.member(name).expect("a member").storage.clone());
    let hub = reader("cloud");
    let mut forwarded = Vec::new();
    for (name, _) in cluster.members() {
        let own = log(&reader(name), name, violations);
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
        let (wrong, restarts) = check::intensity_respected(&own, limit_of);
        violations.extend(wrong);
        tally.restarts += restarts;
        if edges.contains(name) {
            let storage = cluster.member(name).expect("a member").storage.clone();
            let first = persisted_first_seq(storage.as_ref(), name);
            let cursor = persisted_cursor(storage.as_ref(), name);
            forwarded.push(Forwarded {
                node: name.clone(),
                first_seq: read_seq("first seq", name, first, violations),
                acked_below: read_seq("forward cursor", name, cursor, violations),
                at_hub: log(&hub, name, violations),
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
    let (wrong, verified) = check::acked_events_at_hub(&forwarded);
    violations.extend(wrong);
    tally.acked_at_hub = verified;
    // Wiped disks: what those incarnations had acked must be at the hub too
    // (what they had not is gone with the disk, as on real hardware).
    let mut retired = Vec::new();
    for (name, storage) in &cluster.retired {
        let first = persisted_first_seq(storage.as_ref(), name);
        let cursor = persisted_cursor(storage.as_ref(), name);
        retired.push(Forwarded {
            node: format!("{name} (wiped disk)"),
            own: log(&LedgerReader::new(storage.clone()), name, violations),
            first_seq: read_seq("first seq", name, first, violations),
            acked_below: read_seq("forward cursor", name, cursor, violations),
            at_hub: log(&hub, name, violations),
        });
    }
    for r in &retired {
        trace.line(format!("{} acked below #{}", r.node, r.acked_below));
    }
    let (wrong, verified) = check::acked_events_at_hub(&retired);
    violations.extend(wrong);
    tally.retired_acked = verified;
    let recent = cluster.clock.elapsed_us().saturating_sub(FORWARD_GRACE_US);
    let (wrong, backlog) = check::backlog(&forwarded, cluster.clock.epoch_us() + recent);
    violations.extend(wrong);
    tally.backlog = backlog;
    let missions = check::missions(&log(&hub, "cloud", violations));
    tally.missions_planned = missions.len() as u64;
    tally.missions_ended = missions.values().filter(|m| m.outcome.is_some()).count() as u64;
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
