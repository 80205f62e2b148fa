//! [`Sim`]: a simulated cluster with a driver. Build the cluster (a cloud,
//! edges with agents, a world), schedule faults on the virtual clock, give
//! it missions, run it; every 250 ms the driver looks at the world and
//! appends an event of its own to every running node. [`Sim::verdict`] cuts
//! every node's power and runs the invariant checkers over what the disks
//! kept. The scenarios of `swarm-sim` and users' own tests
//! ([`crate::check`]) both drive clusters this way.

mod disks;
pub mod faults;
mod observe;
mod probe;
pub mod rogue;

use std::time::Duration;

use swarmd_actors::missions::PlannerMsg;
use swarmd_cluster::gateway::{Placement, RemoteChild, RemoteSupervisorMsg};
use swarmd_config::{NodeConfig, Role};
use swarmd_messages::SpawnSpec;
use swarmd_messages::stable_hash;
use swarmd_messages::swarm::Goal;
use swarmd_storage::ledger::LedgerReader;
use swarmd_supervisor::Restart;

use crate::SeededEntropy;
use crate::check::Tally;
use crate::cluster::{SimCluster, SimError, address_of, node_config};
use crate::net::NetFaults;
use crate::trace::Trace;
pub use faults::Fault;

/// How often the driver looks at the world and appends.
const STEP: Duration = Duration::from_millis(250);
/// The driver's last appends come this long before the end of a drain, so
/// every acked one has had time to reach the hub.
const PROBE_QUIET: Duration = Duration::from_secs(20);
/// Missions planned this long before the end must have ended by then.
const MISSION_GRACE: Duration = Duration::from_secs(75);

pub struct Sim {
    pub cluster: SimCluster,
    seed: u64,
    /// The driver's own seeded choices (which agent a fault hits).
    pub entropy: SeededEntropy,
    trace: Trace,
    tally: Tally,
    violations: Vec<String>,
    probe: probe::Probe,
    /// Scheduled faults not applied yet, in time order.
    faults: Vec<(Duration, Fault)>,
    started: tokio::time::Instant,
    hub: Option<String>,
    /// Every node that runs a cloud, in the order added (the hub first).
    clouds: Vec<String>,
    edges: Vec<String>,
    /// Under [`crate::check`]: print the verdict, and write the trace here.
    report: Option<Option<String>>,
    rogue: Option<rogue::Rogue>,
    /// Deadlocks are judged while no fault is in effect (from the start
    /// until the first fault, and from the drain's healing on).
    deadlock: crate::check::DeadlockWatch,
    disturbed: bool,
    /// When the first drain began (µs since the Unix epoch, as events are stamped).
    drained_from_us: Option<u64>,
}

/// What the checkers found, what they looked at, and the run's trace.
pub struct Verdict {
    pub seed: u64,
    pub violations: Vec<String>,
    pub tally: Tally,
    pub trace: Trace,
    /// Simulated time the run covered.
    pub simulated: Duration,
    /// The powered-off cluster, for the test's own questions to its disks.
    pub cluster: SimCluster,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// Panics with every violation when the run did not pass.
    pub fn assert_passed(&self) {
        assert!(
            self.passed(),
            "seed {}: {} violations:\n  {}\n  {}",
            self.seed,
            self.violations.len(),
            self.violations.join("\n  "),
            self.tally.line()
        );
    }

    /// A node's ledger as its disk kept it.
    pub fn ledger(&self, node: &str) -> Option<LedgerReader> {
        let member = self.cluster.member(node)?;
        Some(LedgerReader::new(member.storage.clone()))
    }
}

impl Sim {
    /// An empty cluster; `keep_trace` keeps every trace line, not only the hash.
    pub fn new(seed: u64, net: NetFaults, keep_trace: bool) -> Self {
        Self {
            cluster: SimCluster::new(seed, net),
            seed,
            entropy: SeededEntropy::new(seed ^ stable_hash("driver")),
            trace: Trace::new(keep_trace),
            tally: Tally::default(),
            violations: Vec::new(),
            probe: probe::Probe::default(),
            faults: Vec::new(),
            started: tokio::time::Instant::now(),
            hub: None,
            clouds: Vec::new(),
            edges: Vec::new(),
            report: None,
            rogue: None,
            deadlock: crate::check::DeadlockWatch::new(crate::check::DEADLOCK_AFTER),
            disturbed: false,
            drained_from_us: None,
        }
    }

    /// Prints the verdict's summary when it is reached, and writes the full
    /// trace to `trace_file` (the harness's seed processes).
    pub fn reporting(mut self, trace_file: Option<String>) -> Self {
        self.report = Some(trace_file);
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Virtual time since the simulation was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Agents of `kind` can be spawned as `name` on every node added (or
    /// restarted) from now on: a program's own kinds, as it registers them
    /// on its node (`swarmd::Node::builder(…).kind(…)`).
    pub fn kind(&mut self, name: &str, kind: impl swarmd_actors::fleet::AgentKind) {
        let kinds = std::mem::take(&mut self.cluster.kinds);
        self.cluster.kinds = kinds.with(name, kind);
    }

    /// Adds the cloud node: the hub, the planner, and the world (unless
    /// `config.world.host` names an edge).
    pub async fn cloud(&mut self, name: &str) -> Result<(), SimError> {
        self.add(node_config(name, Role::Cloud, &[]), 0, 0).await
    }

    /// Adds an edge that joins the cloud and starts `agents` agents.
    pub async fn edge(&mut self, name: &str, agents: usize) -> Result<(), SimError> {
        let hub = self.hub.clone().ok_or(SimError::NoCloud)?;
        let cloud = &self.cluster.member(&hub).expect("the hub").config;
        let mut edge = node_config(name, Role::Edge, &[address_of(cloud)]);
        edge.world = cloud.world.clone();
        edge.agents.boot = agents;
        self.add(edge, 0, 0).await
    }

    /// Adds any node; its wall clock is `offset_us` off and drifts by `drift_ppm`.
    pub async fn add(
        &mut self,
        config: NodeConfig,
        offset_us: i64,
        drift_ppm: i64,
    ) -> Result<(), SimError> {
        let name = config.node.name.clone();
        let role = config.node.role;
        self.trace.line(format!(
            "{name} {role:?} clock offset {offset_us}us drift {drift_ppm}ppm"
        ));
        self.cluster
            .add_skewed(config, offset_us, drift_ppm)
            .await?;
        if role.runs_cloud() {
            self.clouds.push(name.clone());
        }
        match role {
            Role::Edge => self.edges.push(name),
            _ if self.hub.is_none() => self.hub = Some(name),
            _ => {}
        }
        Ok(())
    }

    /// `fault` happens `after` the simulation's start (virtual time).
    pub fn at(&mut self, after: Duration, fault: Fault) {
        let at = self.faults.partition_point(|(t, _)| *t <= after);
        self.faults.insert(at, (after, fault));
    }

    /// Hands the cloud's planner a mission; its id.
    pub async fn mission(&mut self, goal: Goal, squad: &str) -> Result<u64, SimError> {
        let planner = self
            .hub
            .as_ref()
            .and_then(|hub| {
                self.cluster
                    .member(hub)?
                    .node
                    .as_ref()?
                    .cloud
                    .missions
                    .get()
            })
            .ok_or(SimError::NoCloud)?;
        let squad = squad.to_string();
        let asked = planner
            .call(
                |reply| PlannerMsg::Submit { goal, squad, reply },
                Some(Duration::from_secs(5)),
            )
            .await;
        let id = match asked {
            Ok(ractor::rpc::CallResult::Success(Ok(id))) => id,
            Ok(ractor::rpc::CallResult::Success(Err(why))) => return Err(SimError::Refused(why)),
            _ => {
                return Err(SimError::Refused(
                    "the planner did not take the mission".into(),
                ));
            }
        };
        self.trace
            .line(format!("{}ms mission {id}", self.elapsed().as_millis()));
        Ok(id)
    }

    /// Hands the cloud's remote supervisor an agent of `kind` to keep on any
    /// edge that can host it (`spawn … --place --supervised`).
    /// Agents of `domain` can be started on every node (started or
    /// restarted) from now on, and missions of its tasks planned.
    pub fn domain<D: swarmd_actors::domain::Domain>(&mut self, domain: D) {
        let kinds = std::mem::take(&mut self.cluster.kinds);
        let kind = swarmd_actors::domain::DomainKind::new(domain);
        self.cluster.kinds = kind.register(kinds);
    }

    pub async fn supervise(&mut self, id: &str, kind: &str) -> Result<(), SimError> {
        let tenant = self.hub_tenant();
        self.supervise_spec(SpawnSpec::new(id, kind, tenant)).await
    }

    fn hub_tenant(&self) -> String {
        let hub = self.hub.as_ref().and_then(|hub| self.cluster.member(hub));
        hub.map_or("default".into(), |m| {
            swarmd_node::swarm::swarm_tenant(&m.config)
        })
    }

    /// Hands the cloud's remote supervisor the agent of `spec` to keep on
    /// any edge (its tenant: the cloud's).
    pub async fn supervise_spec(&mut self, mut spec: SpawnSpec) -> Result<(), SimError> {
        spec.tenant = self.hub_tenant();
        let id = spec.id.clone();
        let hub = self.hub.as_ref().and_then(|hub| self.cluster.member(hub));
        let remote = hub
            .and_then(|m| m.node.as_ref()?.cloud.remote.get())
            .ok_or(SimError::NoCloud)?;
        let child = RemoteChild {
            spec,
            node: String::new(),
            restart: Restart::Permanent,
            placement: Placement::AnyEdge,
        };
        let adopt = |reply| RemoteSupervisorMsg::Adopt(child, reply);
        match remote.call(adopt, Some(Duration::from_secs(5))).await {
            Ok(ractor::rpc::CallResult::Success(Ok(()))) => {}
            _ => return Err(SimError::Refused(format!("the cloud did not adopt {id}"))),
        }
        self.trace
            .line(format!("{}ms supervise {id}", self.elapsed().as_millis()));
        Ok(())
    }

    /// Runs for `duration` of virtual time: faults as scheduled, a look at
    /// the world and an append to every node every step.
    pub async fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        self.run(duration, Duration::ZERO).await
    }

    /// Heals every link, empties every full disk, restarts every crashed
    /// node, then runs for `duration` with no faults; the driver stops
    /// appending 20 s before the end, so what it was acked can reach the hub.
    pub async fn drain(&mut self, duration: Duration) -> Result<(), SimError> {
        faults::heal_all(&mut self.cluster).await?;
        self.disturbed = false;
        let clock = &self.cluster.clock;
        let now_us = clock.epoch_us() + clock.elapsed_us();
        self.drained_from_us.get_or_insert(now_us);
        self.deadlock.reset(self.cluster.clock.elapsed_us());
        self.trace
            .line(format!("{}ms drain", self.elapsed().as_millis()));
        self.run(duration, PROBE_QUIET.min(duration)).await
    }

    async fn run(&mut self, duration: Duration, quiet: Duration) -> Result<(), SimError> {
        let from = tokio::time::Instant::now();
        while from.elapsed() < duration {
            self.apply_due().await?;
            if from.elapsed() < duration - quiet {
                self.probe.append(&self.cluster);
            }
            let (trace, violations, tally) =
                (&mut self.trace, &mut self.violations, &mut self.tally);
            let world = observe::world(&self.cluster, trace, violations, tally).await;
            if let Some(world) = world.filter(|_| !self.disturbed) {
                let found = observe::stillness(&self.cluster, &world, &mut self.deadlock).await;
                self.violations.extend(found);
            }
            self.tally.deadlocks = self.deadlock.deadlocks;
            tokio::time::sleep(STEP).await;
        }
        Ok(())
    }

    async fn apply_due(&mut self) -> Result<(), SimError> {
        let now = self.elapsed();
        let due = self.faults.partition_point(|(t, _)| *t <= now);
        for (at, fault) in self.faults.drain(..due).collect::<Vec<_>>() {
            self.disturbed = true;
            self.trace
                .line(format!("{}ms fault {fault:?}", at.as_millis()));
            if let Fault::Rogue { target, victim } = &fault {
                self.rogue_attack(target, victim).await?;
                continue;
            }
            if let Fault::DeposeLeader { slow_ms, hold_ms } = fault {
                self.depose_leader(at, slow_ms, hold_ms);
                continue;
            }
            faults::apply(&mut self.cluster, &fault, &self.entropy, &mut self.tally).await?;
            if let Fault::Wipe(node) = &fault {
                self.probe.retire(node);
            }
        }
        Ok(())
    }

    fn print_verdict(&self, simulated: Duration, trace_file: Option<&str>) {
        let verdict = if self.violations.is_empty() {
            "PASS"
        } else {
            "FAIL"
        };
        println!(
            "seed={} simulated_ms={} trace={} verdict={verdict}",
            self.seed,
            simulated.as_millis(),
            self.trace.hash()
        );
        println!("  {}", self.tally.line());
        for v in &self.violations {
            println!("  violation: {v}");
        }
        if let Some(path) = trace_file
            && let Err(e) = std::fs::write(path, self.trace.lines().join("\n") + "\n")
        {
            eprintln!("cannot write the trace to {path}: {e}");
        }
    }

    async fn rogue_attack(&mut self, target: &str, victim: &str) -> Result<(), SimError> {
        for node in [target, victim] {
            if self.cluster.member(node).is_none() {
                return Err(SimError::NoSuchNode(node.into()));
            }
        }
        if self.rogue.is_none() {
            self.rogue = Some(rogue::Rogue::start().await?);
        }
        let rogue = self.rogue.as_mut().expect("started");
        rogue
            .attack(&self.cluster, target, victim, &self.entropy)
            .await?;
        (self.tally.rogue_frames, self.tally.rogue_links) = (rogue.forged, rogue.garbage_links);
        Ok(())
    }

    /// Slows the leader's links to the edges now, cuts it off from the tier
    /// `slow_ms` later, and ends both `hold_ms` after that: what it sent
    /// just before the cut arrives after its successor took over.
    fn depose_leader(&mut self, at: Duration, slow_ms: u64, hold_ms: u64) {
        let Some(leader) = self.cluster.tier.holder() else {
            self.trace
                .line(format!("{}ms no leader to depose", at.as_millis()));
            return;
        };
        self.trace
            .line(format!("{}ms deposing {leader}", at.as_millis()));
        let (cut, end) = (
            at + Duration::from_millis(slow_ms),
            at + Duration::from_millis(slow_ms + hold_ms),
        );
        for edge in self.edges.clone() {
            let slow = Duration::from_millis(slow_ms);
            self.cluster.net.slow(&leader, &edge, slow);
            self.at(end, Fault::SlowLink(leader.clone(), edge, 0));
        }
        self.at(cut, Fault::TierCut(leader.clone(), true));
        self.at(end, Fault::TierCut(leader, false));
    }

    /// How many frames the hub's gateway refused or could not decode.
    async fn frames_refused(&self) -> u64 {
        let hub = self.hub.as_ref().and_then(|h| self.cluster.member(h));
        let Some(node) = hub.and_then(|m| m.node.as_ref()) else {
            return 0;
        };
        match node.cluster.stats().await {
            Ok(stats) => stats.refused_frames + stats.undecodable_frames,
            Err(_) => 0,
        }
    }

    /// Cuts every node's power, then runs the checkers over what the disks kept.
    pub async fn verdict(mut self) -> Verdict {
        let simulated = self.elapsed();
        if self.rogue.is_some() {
            self.tally.rogue_refused = self.frames_refused().await;
            if self.tally.rogue_refused < self.tally.rogue_frames {
                let (sent, refused) = (self.tally.rogue_frames, self.tally.rogue_refused);
                self.violations.push(format!(
                    "the rogue sent {sent} frames that must be refused; the hub refused {refused}"
                ));
            }
        }
        self.cluster.power_off().await;
        let hubs = match self.clouds.is_empty() {
            true => vec![String::new()],
            false => self.clouds.clone(),
        };
        let deadline = simulated.saturating_sub(MISSION_GRACE);
        let on_disks = disks::OnDisks {
            cluster: &self.cluster,
            hubs: &hubs,
            edges: &self.edges,
            probe: &self.probe,
            drained_from_us: self.drained_from_us.unwrap_or(u64::MAX),
        };
        let mut found = disks::Findings {
            trace: &mut self.trace,
            violations: &mut self.violations,
            tally: &mut self.tally,
        };
        on_disks.check(deadline, &mut found);
        self.trace.line(self.tally.line());
        if let Some(trace_file) = &self.report {
            self.print_verdict(simulated, trace_file.as_deref());
        }
        Verdict {
            seed: self.seed,
            violations: self.violations,
            tally: self.tally,
            trace: self.trace,
            simulated,
            cluster: self.cluster,
        }
    }
}
