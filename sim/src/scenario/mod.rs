//! Scenarios: a cluster (one cloud, edges with agents), a seeded schedule of
//! faults, then a quiet drain; every 250 ms the world is looked at, and at
//! the end the checkers read what the run left behind. One seed, one trace.

mod faults;
mod observe;

use std::str::FromStr;
use std::time::Duration;

use swarmd_config::{NodeConfig, Role};

use crate::SeededEntropy;
use crate::check::Tally;
use crate::cluster::{SimCluster, SimError, address_of, node_config};
use crate::net::NetFaults;
use crate::trace::Trace;
use swarmd_messages::stable_hash;

/// How often the driver looks at the world.
const STEP: Duration = Duration::from_millis(250);
/// After the faults: everything healed and restarted, backlogs drain.
const DRAIN: Duration = Duration::from_secs(60);
/// Missions planned this long before the end must have ended by then.
const MISSION_GRACE: Duration = Duration::from_secs(75);
/// Agents each edge starts.
const AGENTS_PER_EDGE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Hallway,
    Partition,
    Crash,
    Disk,
    Panic,
    Reprovision,
    Flap,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Hallway,
        Scenario::Partition,
        Scenario::Crash,
        Scenario::Disk,
        Scenario::Panic,
        Scenario::Reprovision,
        Scenario::Flap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Hallway => "hallway",
            Scenario::Partition => "partition",
            Scenario::Crash => "crash",
            Scenario::Disk => "disk",
            Scenario::Panic => "panic",
            Scenario::Reprovision => "reprovision",
            Scenario::Flap => "flap",
        }
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario {s:?}; known: {}", names.join(", "))
            })
    }
}

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub seed: u64,
    pub scenario: Scenario,
    /// The cloud and `nodes - 1` edges.
    pub nodes: usize,
    /// Simulated seconds of faults, before the drain.
    pub sim_secs: u64,
    /// Keep every trace line (for `--trace`), not only the hash.
    pub keep_trace: bool,
}

pub struct Outcome {
    pub trace: Trace,
    pub violations: Vec<String>,
    /// What the checkers looked at.
    pub tally: Tally,
    /// Simulated time the run covered.
    pub simulated: Duration,
}

/// Runs one seed of one scenario to its verdict.
pub async fn run(config: &RunConfig) -> Result<Outcome, SimError> {
    assert!(config.nodes >= 2, "a scenario needs a cloud and an edge");
    let mut trace = Trace::new(config.keep_trace);
    let mut cluster = SimCluster::new(config.seed, net_faults(config.scenario));
    for node in configs(config) {
        cluster.add(node).await?;
    }
    let driver = SeededEntropy::new(config.seed ^ stable_hash("driver"));
    let edges: Vec<String> = (1..config.nodes).map(|i| format!("edge-{i}")).collect();
    let schedule = faults::schedule(config.scenario, &driver, &edges, config.sim_secs);
    let mut violations = Vec::new();
    let mut tally = Tally::default();
    let started = tokio::time::Instant::now();
    let end = Duration::from_secs(config.sim_secs);
    let mut pending = schedule.into_iter().peekable();
    while started.elapsed() < end {
        while let Some((at, _)) = pending.peek()
            && *at <= started.elapsed()
        {
            let (at, fault) = pending.next().expect("peeked");
            trace.line(format!("{}ms fault {fault:?}", at.as_millis()));
            faults::apply(&mut cluster, &fault, &driver, &mut tally).await?;
        }
        observe::world(&cluster, &mut trace, &mut violations, &mut tally).await;
        tokio::time::sleep(STEP).await;
    }
    faults::heal_all(&mut cluster, &edges).await?;
    let drained = tokio::time::Instant::now();
    while drained.elapsed() < DRAIN {
        observe::world(&cluster, &mut trace, &mut violations, &mut tally).await;
        tokio::time::sleep(STEP).await;
    }
    let simulated = started.elapsed();
    let deadline = simulated.saturating_sub(MISSION_GRACE);
    observe::ledgers(
        &cluster,
        &edges,
        deadline,
        &mut trace,
        &mut violations,
        &mut tally,
    );
    cluster.shutdown().await;
    trace.line(tally.line());
    violations.extend(shortfalls(config.scenario, &tally));
    Ok(Outcome {
        trace,
        violations,
        tally,
        simulated,
    })
}

/// What every run must have checked, and what each scenario guarantees on
/// top: a checker that looked at nothing would pass vacuously.
fn shortfalls(scenario: Scenario, tally: &Tally) -> Vec<String> {
    let mut minimums = vec![
        ("world snapshots", tally.snapshots),
        ("agent positions checked", tally.positions),
        ("acked events verified at the hub", tally.acked_at_hub),
        ("missions planned", tally.missions_planned),
        ("missions ended", tally.missions_ended),
    ];
    if scenario == Scenario::Reprovision {
        minimums.push((
            "acked events of a retired disk verified",
            tally.retired_acked,
        ));
    }
    if scenario == Scenario::Panic {
        minimums.push((
            "layer kills that found their target",
            tally.kills - tally.kills_missed,
        ));
        minimums.push(("restarts counted", tally.restarts));
    }
    minimums
        .into_iter()
        .filter(|(_, n)| *n == 0)
        .map(|(what, _)| format!("vacuous: no {what}"))
        .collect()
}

fn net_faults(scenario: Scenario) -> NetFaults {
    let mut faults = NetFaults::default();
    if matches!(scenario, Scenario::Crash | Scenario::Partition) {
        // A reset now and then on every link, on top of the scheduled faults.
        faults.reset_ppm = 200;
    }
    faults
}

/// The cloud plans; with `partition` the world lives on edge-1, so the edges
/// keep working while the cloud is cut off.
fn configs(config: &RunConfig) -> Vec<NodeConfig> {
    let mut cloud = node_config("cloud", Role::Cloud, &[]);
    if config.scenario == Scenario::Partition {
        cloud.world.host = "edge-1".into();
    }
    if config.scenario == Scenario::Hallway {
        cloud.world.layout = swarmd_config::Layout::Hallway;
    }
    let seed = address_of(&cloud);
    let mut all = vec![cloud.clone()];
    for i in 1..config.nodes {
        let mut edge = node_config(
            &format!("edge-{i}"),
            Role::Edge,
            std::slice::from_ref(&seed),
        );
        edge.agents.boot = AGENTS_PER_EDGE;
        edge.world = cloud.world.clone();
        all.push(edge);
    }
    all
}
