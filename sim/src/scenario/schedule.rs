//! Each scenario's seeded schedule of faults.

use std::time::Duration;

use swarmd_actors::ctx::Entropy;

use super::Scenario;
use crate::driver::Fault;

/// A burst: this many reflex kills of one agent, this far apart — more than
/// an agent's intensity (5 restarts in 10 s) allows.
const BURST_KILLS: u64 = 7;
const BURST_GAP_MS: u64 = 500;

/// How long the relocate scenario cuts edge-1 off: past the placement
/// grace, so the cloud moves its agent while edge-1 still runs it unless
/// edge-1 fences it.
const RELOCATE_CUT: Duration = Duration::from_secs(20);

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
        Scenario::Hallway | Scenario::Warehouse => {}
        Scenario::Relocate => {
            let cut = between(rng, end / 6, end / 3);
            let heal = cut + RELOCATE_CUT;
            let others = std::iter::once("cloud".to_string()).chain(edges.iter().skip(1).cloned());
            for other in others {
                out.push((cut, Fault::Partition(edges[0].clone(), other.clone())));
                out.push((heal, Fault::Heal(edges[0].clone(), other)));
            }
        }
        Scenario::Failover => {
            // The first cloud takes the lease first: it crashes, and comes
            // back as a standby.
            let crash = between(rng, end / 8, end / 4);
            out.push((crash, Fault::Crash("cloud".into())));
            let back = crash + between(rng, 2_000, 5_000);
            out.push((back, Fault::Restart("cloud".into())));
            // Whoever leads then is deposed without noticing in time.
            let depose = between(rng, end * 2 / 5, end / 2);
            let slow_ms = 3_500 + rng.next_u64() % 1_500;
            let hold_ms = 4_000;
            out.push((depose, Fault::DeposeLeader { slow_ms, hold_ms }));
            // The clouds cut from each other (both still reach the tier).
            let cut = between(rng, end * 2 / 3, end * 5 / 6);
            let standby = super::STANDBY.to_string();
            out.push((cut, Fault::Partition("cloud".into(), standby.clone())));
            let heal = cut + between(rng, 2_000, 5_000);
            out.push((heal, Fault::Heal("cloud".into(), standby)));
        }
        Scenario::Partition => {
            let cut = between(rng, end / 6, end / 3);
            let heal = cut + between(rng, end / 6, end / 3);
            for edge in edges {
                out.push((cut, Fault::Partition("cloud".into(), edge.clone())));
                out.push((heal, Fault::Heal("cloud".into(), edge.clone())));
            }
        }
        Scenario::Crash | Scenario::Recipe => {
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
        // Clocks are the fault (see `scenario::skew`); partitions on top, so
        // forwarding and membership work across skewed timestamps.
        Scenario::Skew => {
            let edge = pick(rng, edges).clone();
            let cut = between(rng, end / 6, end / 3);
            out.push((cut, Fault::Partition("cloud".into(), edge.clone())));
            let heal = cut + between(rng, 3_000, 10_000);
            out.push((heal, Fault::Heal("cloud".into(), edge)));
        }
        Scenario::SlowDisk => {
            // fsync latency spikes of 100s of ms, on every node, the hub's too.
            let mut nodes = vec!["cloud".to_string()];
            nodes.extend(edges.iter().cloned());
            let mut at = between(rng, 1_000, 3_000);
            while at.as_millis() < u128::from(end) {
                let node = pick(rng, &nodes).clone();
                let flushes = 1 + (rng.next_u64() % 8) as u32;
                let ms = 100 + rng.next_u64() % 900;
                out.push((at, Fault::SlowFlushes(node, flushes, ms)));
                at += between(rng, 500, 3_000);
            }
        }
        Scenario::Rogue => {
            // A cookie holder that is no member attacks the hub, again and
            // again, each time claiming to be a seeded edge.
            let mut at = between(rng, 2_000, 5_000);
            while at.as_millis() < u128::from(end) {
                let victim = pick(rng, edges).clone();
                let target = "cloud".to_string();
                out.push((at, Fault::Rogue { target, victim }));
                at += between(rng, 3_000, 8_000);
            }
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
