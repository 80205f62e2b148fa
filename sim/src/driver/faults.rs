//! The faults a simulation can schedule, and how each is applied.

use std::time::Duration;

use ractor::{ActorCell, ActorRef};
use swarmd_actors::ctx::Entropy;
use swarmd_supervisor::{Description, SupervisorMsg};

use crate::check::Tally;
use crate::cluster::{SimCluster, SimError};

#[derive(Debug, Clone)]
pub enum Fault {
    Partition(String, String),
    Heal(String, String),
    Crash(String),
    Restart(String),
    /// The next `n` flushes of the node's disk fail.
    FailFlushes(String, u32),
    /// The node's next `n` flushes each take up to this many ms longer.
    SlowFlushes(String, u32, u64),
    /// The node's disk is full (every write fails with `NoSpace`), or no longer.
    DiskFull(String, bool),
    /// A crashed node's disk is replaced by an empty one.
    Wipe(String),
    /// Kill one layer actor of one agent on the node, picked by the driver.
    PanicAgent(String),
    /// Kill the reflex of the node's agent at this index (in start order):
    /// repeated, the agent's restart intensity runs out and it escalates.
    PanicReflex(String, usize),
    /// The rogue (see `rogue`) writes forged, oversized and garbage frames
    /// to `target`, claiming to be `victim`.
    Rogue {
        target: String,
        victim: String,
    },
    /// Every write between the two nodes arrives this many ms later (0 ends it).
    SlowLink(String, String, u64),
    /// The node cannot reach the cloud tier's store (`true`), or can again.
    TierCut(String, bool),
    /// Whichever cloud holds the lease now is deposed without noticing in
    /// time: its links to the edges slow by `slow_ms`, then, `slow_ms`
    /// later, it loses the tier's store for `hold_ms` (the driver resolves
    /// the leader and schedules the rest).
    DeposeLeader {
        slow_ms: u64,
        hold_ms: u64,
    },
}

impl Fault {
    /// The nodes the fault is aimed at.
    pub fn nodes(&self) -> Vec<&str> {
        match self {
            Fault::Partition(a, b) | Fault::Heal(a, b) => vec![a, b],
            Fault::Crash(n)
            | Fault::Restart(n)
            | Fault::FailFlushes(n, _)
            | Fault::SlowFlushes(n, _, _)
            | Fault::DiskFull(n, _)
            | Fault::Wipe(n)
            | Fault::PanicAgent(n)
            | Fault::PanicReflex(n, _) => vec![n],
            Fault::Rogue { target, victim } => vec![target, victim],
            Fault::SlowLink(a, b, _) => vec![a, b],
            Fault::TierCut(n, _) => vec![n],
            Fault::DeposeLeader { .. } => vec![],
        }
    }
}

pub async fn apply(
    cluster: &mut SimCluster,
    fault: &Fault,
    rng: &dyn Entropy,
    tally: &mut Tally,
) -> Result<(), SimError> {
    // A fault aimed at no node is the schedule's error, never a no-op.
    for node in fault.nodes() {
        if cluster.member(node).is_none() {
            return Err(SimError::NoSuchNode(node.to_string()));
        }
    }
    match fault {
        Fault::Partition(a, b) => cluster.partition(a, b),
        Fault::Heal(a, b) => cluster.heal(a, b),
        Fault::Crash(node) => cluster.crash(node).await,
        Fault::Restart(node) => cluster.restart(node).await?,
        Fault::Wipe(node) => cluster.wipe(node)?,
        Fault::DiskFull(node, full) => match cluster.member(node) {
            Some(m) => m.storage.set_full(*full),
            None => return Err(SimError::NoSuchNode(node.clone())),
        },
        Fault::SlowFlushes(node, n, ms) => match cluster.member(node) {
            Some(m) => m.storage.slow_next_flushes(*n, Duration::from_millis(*ms)),
            None => return Err(SimError::NoSuchNode(node.clone())),
        },
        Fault::FailFlushes(node, n) => match cluster.member(node) {
            Some(m) => m.storage.fail_next_flushes(*n),
            None => return Err(SimError::NoSuchNode(node.clone())),
        },
        Fault::PanicAgent(node) => {
            let hit = kill_a_layer(cluster, node, rng).await;
            count_kill(tally, hit);
        }
        Fault::PanicReflex(node, agent) => {
            let hit = kill_a_reflex(cluster, node, *agent).await;
            count_kill(tally, hit);
        }
        Fault::SlowLink(a, b, ms) => cluster.net.slow(a, b, Duration::from_millis(*ms)),
        Fault::TierCut(node, cut) => cluster.tier.cut(node, *cut),
        Fault::Rogue { .. } | Fault::DeposeLeader { .. } => {
            unreachable!("the driver applies {fault:?} itself")
        }
    }
    Ok(())
}

/// A kill that found nothing to kill is counted: the agent may be mid
/// restart after an escalation; a run where none found its target fails.
fn count_kill(tally: &mut Tally, hit: bool) {
    tally.kills += 1;
    tally.kills_missed += u64::from(!hit);
}

/// After the faults: every cut healed, every disk with room, every crashed node back.
pub async fn heal_all(cluster: &mut SimCluster) -> Result<(), SimError> {
    let names: Vec<String> = cluster.members().map(|(n, _)| n.clone()).collect();
    for (i, a) in names.iter().enumerate() {
        for b in &names[i + 1..] {
            cluster.heal(a, b);
        }
    }
    for (name, member) in cluster.members() {
        member.storage.set_full(false);
        cluster.tier.cut(name, false);
    }
    cluster.net.slow_none();
    let down: Vec<String> = cluster
        .members()
        .filter(|(_, m)| m.node.is_none())
        .map(|(n, _)| n.clone())
        .collect();
    for node in down {
        cluster.restart(&node).await?;
    }
    Ok(())
}

async fn describe(sup: &ActorRef<SupervisorMsg>) -> Option<Description> {
    let asked = sup
        .call(SupervisorMsg::Describe, Some(Duration::from_secs(1)))
        .await;
    asked.ok()?.success_or(()).ok()
}

fn running(d: Description) -> Vec<ActorCell> {
    d.children
        .into_iter()
        .filter_map(|(_, cell)| cell)
        .collect()
}

/// The node's running agent subtrees, in start order.
async fn agents_of(cluster: &SimCluster, node: &str) -> Vec<ActorCell> {
    let agents = cluster
        .member(node)
        .and_then(|m| m.node.as_ref())
        .and_then(|n| n.factory.agents.get());
    match agents {
        Some(agents) => describe(&agents).await.map(running).unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Kills the reflex (the first layer) of the node's `index`-th agent.
async fn kill_a_reflex(cluster: &SimCluster, node: &str, index: usize) -> bool {
    let Some(agent) = agents_of(cluster, node).await.get(index).cloned() else {
        return false;
    };
    let reflex = describe(&agent.into())
        .await
        .map(running)
        .and_then(|l| l.into_iter().next());
    reflex.map(|r| r.kill()).is_some()
}

/// Kills a seeded pick among the node's agents' layer actors, as a panic would.
async fn kill_a_layer(cluster: &SimCluster, node: &str, rng: &dyn Entropy) -> bool {
    let agents = agents_of(cluster, node).await;
    if agents.is_empty() {
        return false;
    }
    let agent: ActorRef<SupervisorMsg> = agents[(rng.next_u64() % agents.len() as u64) as usize]
        .clone()
        .into();
    let Some(layers) = describe(&agent).await.map(running) else {
        return false;
    };
    let layer = layers.get((rng.next_u64() % layers.len().max(1) as u64) as usize);
    layer.map(|l| l.kill()).is_some()
}
