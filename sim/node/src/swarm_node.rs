//! A one-node swarm on simulated seams: the ledger writer, a grid world and
//! an `agents` supervisor, wired as a node wires them, with a router that
//! knows only this node. Tests, benchmarks and scenarios start from it.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::{AgentKind, LocalDirectory};
use swarmd_actors::router::{LocalRouter, Router, SendError};
use swarmd_messages::SpawnSpec;
use swarmd_messages::swarm::Address;
use swarmd_supervisor::{
    ActorSlot, Strategy, Supervisor, SupervisorMsg, SupervisorSpec, start_child,
};
use swarmd_warehouse::agent::{AgentWiring, GridAgentKind};
use swarmd_warehouse::world::{GridConfig, WorldActorMsg, WorldArgs, world_child};

use crate::{SeededEntropy, SimMesh, SimNode, SimStorage};

/// Supervision events kept for whoever listens; older ones are dropped.
const SUPERVISION_EVENTS: usize = 1024;

pub struct SwarmNode {
    pub ctx: NodeCtx,
    /// The node's disk, to inject faults.
    pub storage: Arc<SimStorage>,
    pub directory: LocalDirectory,
    pub router: Arc<dyn Router>,
    pub world: ActorSlot<WorldActorMsg>,
    pub agents: ActorSlot<SupervisorMsg>,
    pub root: ActorRef<SupervisorMsg>,
}

impl SwarmNode {
    /// Node `name` with a quiet world (hazards only when placed) on `grid`,
    /// and room for `max_agents`.
    pub async fn start(name: &str, seed: u64, grid: GridConfig, max_agents: usize) -> Self {
        let mesh = SimMesh::new(Arc::new(SeededEntropy::new(seed)), Duration::ZERO, 64);
        let directory = LocalDirectory::default();
        let router: Arc<dyn Router> = Arc::new(LocalRouter {
            node: name.into(),
            directory: directory.clone(),
            fence: Default::default(),
        });
        let on = Seams {
            mesh: &mesh,
            directory,
            router,
        };
        Self::start_with(name, seed, on, Some(grid), max_agents).await
    }

    /// Two nodes on one simulated mesh, like two edges with no cloud: the
    /// first hosts the world, agents on either reach it. The mesh is
    /// returned so a test can partition the two.
    pub async fn start_pair(
        names: [&str; 2],
        seed: u64,
        grid: GridConfig,
        max_agents: usize,
    ) -> (Self, Self, Arc<SimMesh>) {
        // Mesh samples take up to 20 ms between the two, as on a LAN.
        let delay = Duration::from_millis(20);
        let mesh = SimMesh::new(Arc::new(SeededEntropy::new(seed)), delay, 64);
        let directories = [LocalDirectory::default(), LocalDirectory::default()];
        let nodes: Vec<(String, LocalDirectory)> = names
            .iter()
            .map(|n| n.to_string())
            .zip(directories.iter().cloned())
            .collect();
        let router = |me: &str| -> Arc<dyn Router> {
            Arc::new(PairRouter {
                me: me.to_string(),
                nodes: nodes.clone(),
                fence: Default::default(),
            })
        };
        let on = |i: usize| Seams {
            mesh: &mesh,
            directory: directories[i].clone(),
            router: router(names[i]),
        };
        let a = Self::start_with(names[0], seed, on(0), Some(grid), max_agents).await;
        let b = Self::start_with(names[1], seed ^ 1, on(1), None, max_agents).await;
        (a, b, mesh)
    }

    /// Starts `n` agents of `kind` (`a0`, `a1`, ...) under `agents`.
    pub async fn spawn_agents(&self, kind: &GridAgentKind, n: usize) -> Vec<AgentWiring> {
        let agents = self.agents.get().expect("agents supervisor runs");
        let mut wirings = Vec::with_capacity(n);
        for i in 0..n {
            let spec = SpawnSpec::new(format!("a{i}"), "grid", "t");
            let (prepared, wiring) = kind.prepare_agent(&spec, &self.ctx).expect("valid spec");
            self.directory.register(&spec.id, prepared.endpoint);
            start_child(&agents, prepared.child)
                .await
                .expect("agent starts");
            wirings.push(wiring);
        }
        wirings
    }

    /// `n` agents of `kind` (registered as `name`), as the factory starts them.
    pub async fn spawn_kind(&self, kind: &dyn AgentKind, name: &str, n: usize) {
        let agents = self.agents.get().expect("agents supervisor runs");
        for i in 0..n {
            let spec = SpawnSpec::new(format!("{name}{i}"), name, "t");
            let prepared = kind.prepare(&spec, &self.ctx).expect("valid spec");
            self.directory.register(&spec.id, prepared.endpoint);
            start_child(&agents, prepared.child)
                .await
                .expect("agent starts");
        }
    }

    async fn start_with(
        name: &str,
        seed: u64,
        on: Seams<'_>,
        grid: Option<GridConfig>,
        max_agents: usize,
    ) -> Self {
        let node = SimNode::new(name, seed, on.mesh);
        let (directory, router) = (on.directory, on.router);
        let world = ActorSlot::new();
        let agents = ActorSlot::new();
        let (events, _) = swarmd_supervisor::event_channel(SUPERVISION_EVENTS);
        let mut spec = SupervisorSpec::new("node", Strategy::OneForOne)
            .events(events)
            .child(node.ledger_writer);
        if let Some(grid) = grid {
            let args = WorldArgs {
                ctx: node.ctx.clone(),
                router: router.clone(),
                tenant: "t".into(),
                grid,
                hazard_every: Duration::ZERO,
                agent_timeout: Duration::from_secs(5),
            };
            spec = spec.child(world_child(args, &directory, world.clone()));
        }
        let spec = spec.child(
            SupervisorSpec::new("agents", Strategy::OneForOne)
                .max_children(max_agents)
                .into_child_in(agents.clone()),
        );
        let (root, _) = Actor::spawn(None, Supervisor, spec)
            .await
            .expect("a simulated node starts");
        Self {
            ctx: node.ctx,
            storage: node.storage,
            directory,
            router,
            world,
            agents,
            root,
        }
    }
}

/// What a node is started on besides its own disk and clock.
struct Seams<'a> {
    mesh: &'a Arc<SimMesh>,
    directory: LocalDirectory,
    router: Arc<dyn Router>,
}

/// Routes by node between the two nodes of a pair; the first hosts the world.
struct PairRouter {
    me: String,
    nodes: Vec<(String, LocalDirectory)>,
    fence: swarmd_actors::fencing::Fence,
}

impl Router for PairRouter {
    fn node(&self) -> &str {
        &self.me
    }

    fn cast_bytes(&self, to: &Address, payload: Vec<u8>) -> Result<(), SendError> {
        let (_, directory) = self
            .nodes
            .iter()
            .find(|(n, _)| *n == to.node)
            .ok_or_else(|| SendError::Unreachable(to.node.clone()))?;
        Ok(directory.deliver(&to.name, payload)?)
    }

    fn world_host(&self) -> Option<String> {
        self.nodes.first().map(|(n, _)| n.clone())
    }

    fn cloud(&self) -> Option<String> {
        None
    }

    fn fence(&self) -> &swarmd_actors::fencing::Fence {
        &self.fence
    }
}
