//! Each scenario's seeded schedule of faults, and how a fault is applied.

use std::time::Duration;

use ractor::{ActorCell, ActorRef};
use swarmd_actors::ctx::Entropy;
use swarmd_supervisor::{Description, SupervisorMsg};

use super::Scenario;
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
    /// The node's disk is full (every write fails with `NoSpace`), or no longer.
    DiskFull(String, bool),
    /// A crashed node's disk is replaced by an empty one.
    Wipe(String),
    /// Kill one layer actor of one agent on the node, picked by the driver.
    PanicAgent(String),
    /// Kill the reflex of the node's agent at this index (in start order):
    /// repeated, the agent's restart intensity runs out and it escalates.
    PanicReflex(String, usize),
}

/// A burst: this many reflex kills of one agent, this far apart — more than
/// an agent's intensity (5 restarts in 10 s) allows.
const BURST_KILLS: u64 = 7;
const BURST_GAP_MS: u64 = 500;

fn between(rng: &dyn Entropy, from_ms: u64, to_ms: u64) -> Duration {
    Duration::from_millis(from_ms + rng.next_u64() % (to_ms - from_ms).max(1))
}

fn pick<'a>(rng: &dyn Entropy, of: &'a [String]) -> &'a String {
    &of[(rng.next_u64() % of.len() as u64) as usize]
}

/// The faults of one run, in time order, all within `secs`.
pub fn schedule(
    scenario: Scenario,
    rng: &dyn Entropy,
    edges: &[String],
    secs: u64,
) -> Vec<(Duration, Fault)> {
    let end = secs * 1000;
    let mut out = Vec::new();
    match scenario {
        // The corridor is the fault: agents of both edges cross it.
        Scenario::Hallway => {}
        Scenario::Partition => {
            let cut = between(rng, end / 6, end / 3);
            let heal = cut + between(rng, end / 6, end / 3);
            for edge in edges {
                out.push((cut, Fault::Partition("cloud".into(), edge.clone())));
                out.push((heal, Fault::Heal("cloud".into(), edge.clone())));
            }
        }
        Scenario::Crash => {
            let edge = pick(rng, edges).clone();
            let crash = between(rng, end / 8, end / 3);
            out.push((crash, Fault::Crash(edge.clone())));
            out.push((crash + between(rng, 2_000, 8_000), Fault::Restart(edge)));
            let cloud_crash = between(rng, end / 2, end * 2 / 3);
            out.push((cloud_crash, Fault::Crash("cloud".into())));
            out.push((
                cloud_crash + between(rng, 2_000, 8_000),
                Fault::Restart("cloud".into()),
            ));
        }
        Scenario::Disk => {
            // Every node's disk fails now and then, the hub's included.
            let mut nodes = vec!["cloud".to_string()];
            nodes.extend(edges.iter().cloned());
            let mut at = between(rng, 1_000, 3_000);
            while at.as_millis() < u128::from(end) {
                let node = pick(rng, &nodes).clone();
                out.push((
                    at,
                    Fault::FailFlushes(node, 1 + (rng.next_u64() % 3) as u32),
                ));
                at += between(rng, 1_000, 4_000);
            }
            let edge = pick(rng, edges).clone();
            let crash = between(rng, end / 3, end * 2 / 3);
            out.push((crash, Fault::Crash(edge.clone())));
            out.push((crash + between(rng, 1_000, 5_000), Fault::Restart(edge)));
            // A full disk for a while, on a seeded node.
            let full = pick(rng, &nodes).clone();
            let from = between(rng, end / 6, end / 2);
            out.push((from, Fault::DiskFull(full.clone(), true)));
            out.push((
                from + between(rng, 2_000, 6_000),
                Fault::DiskFull(full, false),
            ));
        }
        Scenario::Flap => {
            // One edge's link to the cloud goes down and up, again and again,
            // for a third of the run: sessions, gossip and forwarding churn.
            let edge = pick(rng, edges).clone();
            let mut at = between(rng, end / 6, end / 3);
            let until = at + Duration::from_millis(end / 3);
            while at < until {
                out.push((at, Fault::Partition("cloud".into(), edge.clone())));
                at += between(rng, 100, 1_500);
                out.push((at, Fault::Heal("cloud".into(), edge.clone())));
                at += between(rng, 100, 1_500);
            }
        }
        Scenario::Reprovision => {
            // An edge dies and comes back on a new, empty disk, same name.
            let edge = pick(rng, edges).clone();
            let crash = between(rng, end / 4, end / 2);
            out.push((crash, Fault::Crash(edge.clone())));
            out.push((crash + Duration::from_millis(1), Fault::Wipe(edge.clone())));
            out.push((crash + between(rng, 2_000, 8_000), Fault::Restart(edge)));
        }
        Scenario::Panic => {
            let mut at = between(rng, 1_000, 2_000);
            while at.as_millis() < u128::from(end) {
                out.push((at, Fault::PanicAgent(pick(rng, edges).clone())));
                at += between(rng, 1_000, 4_000);
            }
            let (edge, agent) = (pick(rng, edges).clone(), (rng.next_u64() % 3) as usize);
            let burst = between(rng, end / 4, end / 2);
            for n in 0..BURST_KILLS {
                let when = burst + Duration::from_millis(n * BURST_GAP_MS);
                out.push((when, Fault::PanicReflex(edge.clone(), agent)));
            }
        }
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

pub async fn apply(
    cluster: &mut SimCluster,
    fault: &Fault,
    rng: &dyn Entropy,
    tally: &mut Tally,
) -> Result<(), SimError> {
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
pub async fn heal_all(cluster: &mut SimCluster, edges: &[String]) -> Result<(), SimError> {
    for edge in edges {
        cluster.heal("cloud", edge);
    }
    for (_, member) in cluster.members() {
        member.storage.set_full(false);
    }
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
