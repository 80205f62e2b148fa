//! The swarm on a node: the router agents use to reach the world and the
//! cloud across the cluster, the `cloud` subtree (world host, mission
//! planner), the agent kinds, and the agents started at boot.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use swarmd_actors::NodeCtx;
use swarmd_actors::board::BoardConfig;
use swarmd_actors::fencing::Fence;
use swarmd_actors::fleet::{AgentKinds, LocalDirectory};
use swarmd_actors::missions::{PlannerArgs, PlannerMsg, planner_child};
use swarmd_actors::router::{Router, SendError};
use swarmd_config::NodeConfig;
use swarmd_messages::SpawnSpec;
use swarmd_messages::swarm::Address;
use swarmd_supervisor::{ActorSlot, EventSender, Strategy, SupervisorSpec};
use swarmd_warehouse::agent::{
    AgentSettings, AgentStats, GRID_AGENT_KIND, GridAgentKind, PeerLinks,
};
use swarmd_warehouse::world::{GridConfig, WorldActorMsg, WorldArgs, floor_plan, world_child};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use swarmd_cluster::gateway::{ClusterHandle, MemberState};

/// Reaches local actors through the directory and remote ones through the
/// gateway. Which node is the cloud (and the world host) follows membership.
pub struct ClusterRouter {
    me: String,
    cluster: ClusterHandle,
    directory: LocalDirectory,
    runs_cloud: bool,
    /// The configured world host; empty: the cloud node.
    world_host: String,
    /// Up members running the cloud role, by name; with `[cloud] ha` the
    /// one whose advert holds the newest lease first.
    clouds: RwLock<Vec<String>>,
    fence: Fence,
}

/// Adverts carry the cloud tier's lease; membership changes do not say when
/// it changes hands, so the router looks this often too.
const LEADER_REFRESH: Duration = Duration::from_millis(250);

impl ClusterRouter {
    pub fn new(config: &NodeConfig, cluster: ClusterHandle, directory: LocalDirectory) -> Self {
        Self {
            me: config.node.name.clone(),
            cluster,
            directory,
            runs_cloud: config.node.role.runs_cloud(),
            world_host: config.world.host.clone(),
            clouds: RwLock::new(Vec::new()),
            fence: Fence::default(),
        }
    }

    /// Keeps the list of up cloud members current, until the node stops.
    pub fn follow_membership(self: &Arc<Self>) -> JoinHandle<()> {
        let router = self.clone();
        let mut changes = self.cluster.subscribe();
        tokio::spawn(async move {
            let mut looks = tokio::time::interval(LEADER_REFRESH);
            loop {
                router.refresh().await;
                tokio::select! {
                    // A lagged receiver still means "something changed": refresh.
                    change = changes.recv() => {
                        if let Err(tokio::sync::broadcast::error::RecvError::Closed) = change {
                            return;
                        }
                    }
                    _ = looks.tick() => {}
                }
            }
        })
    }

    async fn refresh(&self) {
        let Ok(members) = self.cluster.members().await else {
            return;
        };
        let mut clouds: Vec<(u64, String)> = members
            .into_iter()
            .filter(|m| m.state == MemberState::Up && m.info.name != self.me)
            .filter(|m| m.info.role.runs_cloud())
            .map(|m| {
                let token = m.advert.and_then(|a| a.leads).map_or(0, |l| l.token);
                (token, m.info.name)
            })
            .collect();
        // The newest leader first; without leases, by name as before.
        clouds.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        if let Some((newest, _)) = clouds.first() {
            self.fence.observe(*newest);
        }
        let clouds = clouds.into_iter().map(|(_, name)| name).collect();
        *self.clouds.write().unwrap_or_else(PoisonError::into_inner) = clouds;
    }
}

impl Router for ClusterRouter {
    fn node(&self) -> &str {
        &self.me
    }

    fn cast_bytes(&self, to: &Address, payload: Vec<u8>) -> Result<(), SendError> {
        if to.node == self.me {
            return Ok(self.directory.deliver(&to.name, payload)?);
        }
        self.cluster
            .cast(&to.node, &to.name, payload)
            .map_err(|e| SendError::Transport(Box::new(e)))
    }

    fn world_host(&self) -> Option<String> {
        if self.world_host.is_empty() {
            self.cloud()
        } else {
            Some(self.world_host.clone())
        }
    }

    fn cloud(&self) -> Option<String> {
        if self.runs_cloud {
            return Some(self.me.clone());
        }
        let clouds = self.clouds.read().unwrap_or_else(PoisonError::into_inner);
        clouds.first().cloned()
    }

    fn fence(&self) -> &Fence {
        &self.fence
    }
}

pub fn grid_config(config: &NodeConfig) -> GridConfig {
    let w = &config.world;
    GridConfig {
        width: w.width,
        height: w.height,
        max_hazards: w.max_hazards,
        max_agents: config.agents.max_agents.max(1024),
        floor_seed: w.floor_seed,
        layout: w.layout,
        floor: w.floor.clone(),
        starts: w.starts.clone(),
        ..GridConfig::default()
    }
}

/// Settings every grid agent of this node starts from.
fn agent_defaults(config: &NodeConfig) -> AgentSettings {
    let a = &config.agents;
    AgentSettings {
        reflex_hz: a.reflex_hz,
        situation_hz: a.situation_hz,
        supervision_hz: a.supervision_hz,
        deadman_ticks: a.deadman_ticks,
        move_every_ticks: a.move_every_ticks,
        negotiate: a.negotiate,
        stigmergy: a.stigmergy,
        ..AgentSettings::default()
    }
}

/// The kinds this node can start: the built-ins and `grid` agents.
pub fn agent_kinds(
    config: &NodeConfig,
    router: Arc<dyn Router>,
    events: &EventSender,
    stats: AgentStats,
    peers: PeerLinks,
) -> AgentKinds {
    let grid = GridAgentKind::new(router)
        .counting_into(stats)
        .sharing(peers)
        .events(events.clone())
        .defaults(agent_defaults(config));
    AgentKinds::builtin().with(GRID_AGENT_KIND, grid)
}

/// Where the `cloud` subtree's actors can be reached in-process.
#[derive(Clone, Default)]
pub struct CloudSlots {
    pub world: ActorSlot<WorldActorMsg>,
    pub missions: ActorSlot<PlannerMsg>,
    /// The supervisor of agents this cloud keeps on other nodes.
    pub remote: ActorSlot<swarmd_cluster::gateway::RemoteSupervisorMsg>,
    /// The cloud tier on JetStream, with `[cloud] ha`.
    pub ha: Option<HaWiring>,
}

/// What a cloud with `[cloud] ha` contends with and shares.
#[derive(Clone)]
pub struct HaWiring {
    pub tier: swarmd_adapters::cloud_tier::CloudTier,
    /// Who leads, as this cloud sees it.
    pub leadership: tokio::sync::watch::Sender<swarmd_messages::advert::Leadership>,
    pub advert: tokio::sync::watch::Sender<swarmd_messages::advert::NodeAdvert>,
}

/// The `cloud` subtree, if this node hosts the world or plans missions.
#[allow(clippy::too_many_arguments)] // each is one part of the node it wires in
pub fn cloud_spec(
    ctx: &NodeCtx,
    config: &NodeConfig,
    router: Arc<dyn Router>,
    directory: &LocalDirectory,
    events: &EventSender,
    slots: &CloudSlots,
    cluster: &swarmd_cluster::gateway::ClusterHandle,
    task_kinds: &swarmd_actors::fleet::TaskKinds,
) -> Option<SupervisorSpec> {
    let (hosts_world, plans) = (config.hosts_world(), config.node.role.runs_cloud());
    if !hosts_world && !plans {
        return None;
    }
    let tenant = swarm_tenant(config);
    let agent_timeout = Duration::from_millis(config.world.agent_timeout_ms);
    let mut spec = SupervisorSpec::new("cloud", Strategy::OneForOne).events(events.clone());
    if hosts_world {
        let args = WorldArgs {
            ctx: ctx.clone(),
            router: router.clone(),
            tenant: tenant.clone(),
            grid: grid_config(config),
            hazard_every: Duration::from_millis(config.world.hazard_every_ms),
            agent_timeout,
        };
        spec = spec.child(world_child(args, directory, slots.world.clone()));
    }
    if plans {
        let mut planner_ctx = ctx.clone();
        if let Some(ha) = &slots.ha {
            let local = ctx.storage.clone();
            let leadership = ha.leadership.subscribe();
            planner_ctx.storage = Arc::new(ha.tier.storage(local, leadership));
        }
        let args = PlannerArgs {
            ctx: planner_ctx,
            router,
            tenant,
            plan: Some(floor_plan(&grid_config(config))),
            agent_timeout,
            demo: config.missions.demo,
            continuous: config.missions.continuous,
            workload: config.missions.workload.clone(),
            recipe: config.missions.recipe_plan.clone(),
            board: board_config(&config.board),
            tasks_per_agent: config.board.tasks_per_agent as usize,
            lease: slots.ha.as_ref().map(|ha| ha.leadership.subscribe()),
            task_kinds: task_kinds.clone(),
        };
        spec = spec.child(planner_child(args, directory, slots.missions.clone()));
        if let Some(ha) = &slots.ha {
            spec = spec.child(super::ha::leadership_child(super::ha::LeadershipArgs {
                ctx: ctx.clone(),
                tenant: swarm_tenant(config),
                tier: ha.tier.clone(),
                leadership: ha.leadership.clone(),
                advert: ha.advert.clone(),
                planner: slots.missions.clone(),
            }));
        }
        spec = spec.child(super::remote_tree::remote_agents_child(
            ctx,
            config,
            &swarm_tenant(config),
            cluster,
            slots.missions.clone(),
            slots.remote.clone(),
        ));
    }
    Some(spec)
}

/// The task board's policies, from `[board]` (validated at load).
pub fn board_config(b: &swarmd_config::board::BoardSection) -> BoardConfig {
    use swarmd_actors::board::{Admission, BreakerConfig, RateConfig};
    let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    BoardConfig {
        admission: Admission::parse(&b.admission).expect("board.admission was validated"),
        capacity: usize::try_from(b.capacity).unwrap_or(usize::MAX),
        lease_us: b.lease_ms.saturating_mul(1000),
        max_attempts: clamp(b.max_attempts),
        rate: RateConfig {
            per_s: clamp(b.claims_per_s),
            burst: clamp(b.claim_burst),
        },
        breaker: BreakerConfig {
            failures: clamp(b.breaker_failures),
            cool_down_us: b.breaker_cool_down_ms.saturating_mul(1000),
        },
    }
}

/// The swarm's tenant: the node's first.
pub fn swarm_tenant(config: &NodeConfig) -> String {
    let first = config.node.tenants.first();
    first.cloned().unwrap_or_else(|| "default".into())
}

/// The specs of the agents this node starts at boot.
pub fn boot_agents(config: &NodeConfig) -> Vec<SpawnSpec> {
    if !config.node.role.runs_edge() {
        return Vec::new();
    }
    let a = &config.agents;
    let tenant = swarm_tenant(config);
    (1..=a.boot)
        .map(|n| {
            let mut spec = SpawnSpec::new(
                format!("{}-{n}", config.node.name),
                GRID_AGENT_KIND,
                &tenant,
            );
            spec.squad = a.squad.clone();
            spec.capabilities = a.capabilities.clone();
            spec.params = BTreeMap::new();
            spec
        })
        .collect()
}

/// Logs what happened to each boot agent.
pub fn report_boot(results: &[(String, Result<(), swarmd_messages::SpawnRejected>)]) {
    let started = results.iter().filter(|(_, r)| r.is_ok()).count();
    for (id, result) in results {
        if let Err(e) = result {
            warn!(agent = %id, error = %e, "boot agent not started");
        }
    }
    if !results.is_empty() {
        info!(started, of = results.len(), "swarm agents started");
    }
}
