//! Scenarios: a cluster (one cloud, edges with agents), a seeded schedule of
//! faults, then a quiet drain, driven by [`Sim`]; at the end the checkers
//! read what the disks kept. One seed, one trace.

mod schedule;

use std::str::FromStr;
use std::time::Duration;

use swarmd_config::{NodeConfig, Role};

use crate::SeededEntropy;
use crate::check::Tally;
use crate::cluster::{SimError, address_of, node_config};
use crate::driver::Sim;
use crate::net::NetFaults;
use crate::trace::Trace;
use swarmd_messages::swarm::FloorPlan;
use swarmd_messages::{EventKind, MemberState, stable_hash};

/// After the faults: everything healed and restarted, backlogs drain.
const DRAIN: Duration = Duration::from_secs(60);
/// Agents the cloud supervises in the relocate scenario: the least-loaded
/// placement puts one on each edge.
const SUPERVISED: [&str; 2] = ["roam-1", "roam-2"];
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
    Skew,
    SlowDisk,
    Rogue,
    /// The cloud runs the bundled diamond recipe over and over while an
    /// edge and the cloud crash and restart.
    Recipe,
    /// The cloud supervises two agents on the edges; edge-1 is cut off from
    /// every node for 20 s: its agent moves, and edge-1 stops its own copy.
    Relocate,
    /// Two clouds share the cloud tier (`[cloud] ha`): the leader crashes
    /// and comes back as a standby; later the leader of the time is
    /// deposed without noticing in time (its links to the edges slow, then
    /// the tier unreachable), and the clouds are cut from each other.
    Failover,
    /// The coordination benchmark's floor (not in the sweep): a MovingAI map
    /// of a warehouse, a continuous fetch workload, no faults.
    Warehouse,
}

impl Scenario {
    pub const ALL: [Scenario; 13] = [
        Scenario::Hallway,
        Scenario::Partition,
        Scenario::Crash,
        Scenario::Disk,
        Scenario::Panic,
        Scenario::Reprovision,
        Scenario::Flap,
        Scenario::Skew,
        Scenario::SlowDisk,
        Scenario::Rogue,
        Scenario::Recipe,
        Scenario::Relocate,
        Scenario::Failover,
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
            Scenario::Skew => "skew",
            Scenario::SlowDisk => "slowdisk",
            Scenario::Rogue => "rogue",
            Scenario::Recipe => "recipe",
            Scenario::Relocate => "relocate",
            Scenario::Failover => "failover",
            Scenario::Warehouse => "warehouse",
        }
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .chain([Scenario::Warehouse])
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
    /// Agents booted on each edge.
    pub agents_per_edge: usize,
    /// Right of way and yield requests between agents (`agents.negotiate`).
    pub negotiation: bool,
    /// Stigmergic tags (`agents.stigmergy`).
    pub stigmergy: bool,
    /// The `warehouse` scenario's floor, named, instead of the bundled map.
    pub map: Option<(String, FloorPlan)>,
    /// A LoRR instance for the `warehouse` scenario: its floor, its team
    /// (shared by the edges, `agents_per_edge` ignored) at its start cells,
    /// and its tasks instead of seeded fetches.
    pub lorr: Option<std::sync::Arc<crate::lorr::Instance>>,
}

impl RunConfig {
    /// `scenario` of `seed` as the sweep runs it.
    pub fn new(seed: u64, scenario: Scenario, nodes: usize, sim_secs: u64) -> Self {
        Self {
            seed,
            scenario,
            nodes,
            sim_secs,
            keep_trace: false,
            agents_per_edge: AGENTS_PER_EDGE,
            negotiation: true,
            stigmergy: true,
            map: None,
            lorr: None,
        }
    }
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
    let mut sim = Sim::new(config.seed, net_faults(config.scenario), config.keep_trace);
    let skews = SeededEntropy::new(config.seed ^ stable_hash("skew"));
    for node in configs(config) {
        let (offset_us, drift_ppm) = skew(config.scenario, &node, &skews);
        sim.add(node, offset_us, drift_ppm).await?;
    }
    let edges: Vec<String> = (1..config.nodes).map(|i| format!("edge-{i}")).collect();
    if config.scenario == Scenario::Relocate {
        for id in SUPERVISED {
            sim.supervise(id, swarmd_warehouse::agent::GRID_AGENT_KIND)
                .await?;
        }
    }
    for (at, fault) in schedule::schedule(config.scenario, &sim.entropy, &edges, config.sim_secs) {
        sim.at(at, fault);
    }
    sim.run_for(Duration::from_secs(config.sim_secs)).await?;
    sim.drain(DRAIN).await?;
    let mut verdict = sim.verdict().await;
    let short = shortfalls(config.scenario, &verdict.tally);
    verdict.violations.extend(short);
    if config.scenario == Scenario::Rogue {
        let disturbed = members_disturbed(&verdict, &edges);
        verdict.violations.extend(disturbed);
    }
    Ok(Outcome {
        violations: verdict.violations,
        tally: verdict.tally,
        simulated: verdict.simulated,
        trace: verdict.trace,
    })
}

/// What every run must have checked, and what each scenario guarantees on
/// top: a checker that looked at nothing would pass vacuously.
fn shortfalls(scenario: Scenario, tally: &Tally) -> Vec<String> {
    let mut minimums = vec![
        ("world snapshots", tally.snapshots),
        ("agents' stays in a cell judged", tally.stays),
        ("agent positions checked", tally.positions),
        ("acked events verified at the hub", tally.acked_at_hub),
        ("acked appends verified", tally.appends_verified),
        ("missions planned", tally.missions_planned),
        ("missions ended", tally.missions_ended),
    ];
    if scenario == Scenario::Reprovision {
        minimums.push((
            "acked events of a retired disk verified",
            tally.retired_acked,
        ));
    }
    if scenario == Scenario::Rogue {
        minimums.push(("rogue frames sent", tally.rogue_frames));
        minimums.push(("rogue garbage links opened", tally.rogue_links));
    }
    if scenario == Scenario::Recipe {
        minimums.push(("recipe steps started", tally.recipe_steps));
    }
    if scenario == Scenario::Relocate {
        minimums.push(("agents' stretches on a node compared", tally.placements));
        minimums.push(("supervised agents moved", tally.moves));
        minimums.push(("agents fenced by their own node", tally.fenced));
    }
    if scenario == Scenario::Failover {
        // The first lease, and the standby's after the leader's crash.
        minimums.push((
            "a takeover after the first lease",
            tally.takeovers.saturating_sub(1),
        ));
        minimums.push(("assignments accepted under a token", tally.leader_accepts));
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

/// With no fault but the rogue, no edge may ever leave `up` at the cloud:
/// what the rogue claims about them must change nothing.
fn members_disturbed(verdict: &crate::driver::Verdict, edges: &[String]) -> Vec<String> {
    let Some(hub) = verdict.ledger("cloud") else {
        return vec!["the cloud's ledger is gone".into()];
    };
    let log = match hub.node_log("cloud", 0, 1_000_000) {
        Ok(log) => log,
        Err(e) => return vec![format!("the cloud's log cannot be read: {e}")],
    };
    log.iter()
        .filter_map(|e| match &e.kind {
            EventKind::Membership { node, state }
                if edges.contains(node) && *state != MemberState::Up =>
            {
                Some(format!(
                    "{node} went {state} at the cloud during the rogue's attacks"
                ))
            }
            _ => None,
        })
        .collect()
}

/// With `skew`, every edge's wall clock is off the cloud's by up to 5 s
/// either way and drifts by up to 2000 ppm (a poorly kept clock); the
/// cloud's is true. Otherwise every clock agrees.
fn skew(scenario: Scenario, node: &NodeConfig, rng: &SeededEntropy) -> (i64, i64) {
    use swarmd_actors::ctx::Entropy;
    if scenario != Scenario::Skew || node.node.role == Role::Cloud {
        return (0, 0);
    }
    let offset_us = (rng.next_u64() % 10_000_001) as i64 - 5_000_000;
    let drift_ppm = (rng.next_u64() % 4_001) as i64 - 2_000;
    (offset_us, drift_ppm)
}

fn net_faults(scenario: Scenario) -> NetFaults {
    let mut faults = NetFaults::default();
    if matches!(
        scenario,
        Scenario::Crash | Scenario::Partition | Scenario::Recipe
    ) {
        // A reset now and then on every link, on top of the scheduled faults.
        faults.reset_ppm = 200;
    }
    faults
}

/// The `recipe` scenario's recipe: the bundled diamond (two covers side by
/// side between waits, a cover after both).
pub fn recipe() -> swarmd_messages::recipe::RecipePlan {
    let (file, text) = (
        "diamond.toml",
        include_str!("../../../config/recipes/diamond.toml"),
    );
    let recipe =
        swarmd_config::recipe::Recipe::parse(file, text).expect("the bundled recipe parses");
    recipe.plan(file).expect("the bundled recipe runs")
}

/// The bundled narrow-aisle warehouse map.
pub const WAREHOUSE_MAP: (&str, &str) = (
    "warehouse-narrow.map",
    include_str!("../../../config/maps/warehouse-narrow.map"),
);

/// `map` (else the bundled MovingAI map), and work for every agent at once.
fn warehouse(cloud: &mut NodeConfig, map: Option<&(String, FloorPlan)>) {
    let (name, floor) = map.cloned().unwrap_or_else(|| {
        let (name, text) = WAREHOUSE_MAP;
        let floor = swarmd_config::map_file::parse(text, &[]).expect("the bundled map parses");
        (name.into(), floor)
    });
    let w = &mut cloud.world;
    (w.width, w.height, w.map) = (floor.width, floor.height, name);
    w.floor = Some(floor);
    w.hazard_every_ms = 0;
    cloud.missions.demo = false;
    cloud.missions.continuous = true;
}

/// The second cloud of the `failover` scenario.
pub const STANDBY: &str = "cloud-2";

/// Both clouds contend for the cloud tier's lease (the simulator's store),
/// under a continuous workload so that assignments are always in flight. A
/// deposed leader's links to the edges are slowed by up to 5 s: nodes are
/// declared down only after 12 s of silence, so those links stay up and
/// carry its last assignments past its successor's.
fn high_availability(cloud: &mut NodeConfig) {
    cloud.cloud.ha = true;
    cloud.cloud.lease_ttl_ms = 1_500;
    cloud.cluster.down_after_ms = 12_000;
    cloud.missions.demo = false;
    cloud.missions.continuous = true;
}

/// The cloud plans; with `partition` the world lives on edge-1, so the edges
/// keep working while the cloud is cut off.
fn configs(config: &RunConfig) -> Vec<NodeConfig> {
    let mut cloud = node_config("cloud", Role::Cloud, &[]);
    if matches!(config.scenario, Scenario::Partition | Scenario::Failover) {
        cloud.world.host = "edge-1".into();
    }
    if config.scenario == Scenario::Failover {
        high_availability(&mut cloud);
    }
    if config.scenario == Scenario::Hallway {
        cloud.world.layout = swarmd_config::Layout::Hallway;
    }
    if config.scenario == Scenario::Warehouse {
        let lorr = config
            .lorr
            .as_ref()
            .map(|l| (l.map.clone(), l.floor.clone()));
        warehouse(&mut cloud, lorr.as_ref().or(config.map.as_ref()));
        if let Some(instance) = &config.lorr {
            cloud.world.starts = instance.starts.clone();
            cloud.missions.workload = Some(instance.workload.clone());
        }
    }
    if config.scenario == Scenario::Recipe {
        cloud.missions.demo = false;
        cloud.missions.recipe_plan = Some(recipe());
    }
    cloud.agents.negotiate = config.negotiation;
    cloud.agents.stigmergy = config.stigmergy;
    let mut seeds = vec![address_of(&cloud)];
    let mut all = vec![cloud.clone()];
    if config.scenario == Scenario::Failover {
        let mut standby = cloud.clone();
        standby.node.name = STANDBY.into();
        let own = node_config(STANDBY, Role::Cloud, &seeds);
        (standby.cluster.advertise, standby.cluster.seeds) =
            (own.cluster.advertise, own.cluster.seeds);
        seeds.push(address_of(&standby));
        all.push(standby);
    }
    for i in 1..config.nodes {
        let mut edge = node_config(&format!("edge-{i}"), Role::Edge, &seeds);
        edge.cluster.down_after_ms = cloud.cluster.down_after_ms;
        edge.agents.boot = agents_on(config, i);
        edge.agents.max_agents = edge.agents.max_agents.max(edge.agents.boot);
        edge.agents.negotiate = config.negotiation;
        edge.agents.stigmergy = config.stigmergy;
        edge.world = cloud.world.clone();
        all.push(edge);
    }
    all
}

/// Agents edge `i` (from 1) boots: a LoRR team shared out, the first edges
/// taking one more where it does not divide; else `agents_per_edge`.
fn agents_on(config: &RunConfig, i: usize) -> usize {
    let Some(instance) = &config.lorr else {
        return config.agents_per_edge;
    };
    let (team, edges) = (instance.starts.len(), config.nodes - 1);
    team / edges + usize::from(i - 1 < team % edges)
}
