//! A one-node swarm on simulated seams: the ledger writer, a grid world and
//! an `agents` supervisor, wired as a node wires them, with a router that
//! knows only this node. Tests, benchmarks and scenarios start from it.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorRef};
use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::LocalDirectory;
use swarmd_actors::router::{LocalRouter, Router};
use swarmd_actors::world::{GridConfig, WorldActorMsg, WorldArgs, world_child};
use swarmd_supervisor::{ActorSlot, Strategy, Supervisor, SupervisorMsg, SupervisorSpec};

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
        let node = SimNode::new(name, seed, &mesh);
        let directory = LocalDirectory::default();
        let router: Arc<dyn Router> = Arc::new(LocalRouter {
            node: name.into(),
            directory: directory.clone(),
        });
        let world = ActorSlot::new();
        let args = WorldArgs {
            ctx: node.ctx.clone(),
            router: router.clone(),
            tenant: "t".into(),
            grid,
            hazard_every: Duration::ZERO,
            agent_timeout: Duration::from_secs(5),
        };
        let agents = ActorSlot::new();
        let (events, _) = swarmd_supervisor::event_channel(SUPERVISION_EVENTS);
        let spec = SupervisorSpec::new("node", Strategy::OneForOne)
            .events(events)
            .child(node.ledger_writer)
            .child(world_child(args, &directory, world.clone()))
            .child(
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
