//! A simulated node with a grid world and an `agents` supervisor, in virtual
//! time (tests run on tokio's paused clock): agents run their real layers,
//! ledger and world; nothing here is a stand-in but the seams.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorRef, RpcReplyPort};
use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::LocalDirectory;
use swarmd_actors::router::Router;
use swarmd_messages::swarm::{Assignment, Cell};
use swarmd_messages::{Event, EventKind, SpawnSpec};
use swarmd_sim_node::{SimStorage, SwarmNode};
use swarmd_storage::ledger::{LedgerReader, Query, Selector};
use swarmd_supervisor::{ActorSlot, SupervisorMsg, start_child};
use swarmd_warehouse::agent::{AgentSettings, SupervisionView};
use swarmd_warehouse::agent::{AgentWiring, GridAgentKind, ReflexMsg, ReflexView, SupervisionMsg};
use swarmd_warehouse::world::{GridConfig, WorldActorMsg, WorldSnapshot};

pub const NODE: &str = "n1";
/// The tenant of [`SwarmNode`]'s world.
pub const TENANT: &str = "t";
/// Every wait in these tests gives up after this much virtual time.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub struct Floor {
    pub ctx: NodeCtx,
    pub storage: Arc<SimStorage>,
    pub directory: LocalDirectory,
    pub router: Arc<dyn Router>,
    pub world: ActorSlot<WorldActorMsg>,
    pub agents: ActorRef<SupervisorMsg>,
    pub agents_slot: ActorSlot<SupervisorMsg>,
    pub root: ActorRef<SupervisorMsg>,
}

impl Floor {
    /// A node with a quiet world (no hazards unless placed) and room for `max_agents`.
    pub async fn open(seed: u64, max_agents: usize) -> Self {
        Self::open_grid(seed, GridConfig::default(), max_agents).await
    }

    /// The same on the floor `grid` describes.
    pub async fn open_grid(seed: u64, grid: GridConfig, max_agents: usize) -> Self {
        Self::on(SwarmNode::start(NODE, seed, grid, max_agents).await)
    }

    /// Two nodes on one mesh with no cloud; the first hosts the world on `grid`.
    pub async fn pair(seed: u64, grid: GridConfig, max_agents: usize) -> (Self, Self) {
        let (a, b, _) = SwarmNode::start_pair(["n1", "n2"], seed, grid, max_agents).await;
        (Self::on(a), Self::on(b))
    }

    fn on(node: SwarmNode) -> Self {
        Self {
            agents: node.agents.get().expect("agents supervisor runs"),
            agents_slot: node.agents,
            ctx: node.ctx,
            storage: node.storage,
            directory: node.directory,
            router: node.router,
            world: node.world,
            root: node.root,
        }
    }

    pub fn kind(&self) -> GridAgentKind {
        GridAgentKind::new(self.router.clone())
    }

    /// Starts agent `id` of `kind` with `params`; returns its wiring and subtree.
    pub async fn spawn_with(
        &self,
        kind: &GridAgentKind,
        id: &str,
        params: &[(&str, &str)],
    ) -> (AgentWiring, ActorRef<SupervisorMsg>) {
        let mut spec = SpawnSpec::new(id, "grid", TENANT);
        spec.capabilities = vec!["move".into(), "carry".into()];
        spec.params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>();
        let (prepared, wiring) = kind.prepare_agent(&spec, &self.ctx).expect("spec is valid");
        assert!(self.directory.register(id, prepared.endpoint));
        let cell = start_child(&self.agents, prepared.child)
            .await
            .expect("agent starts");
        (wiring, cell.into())
    }

    pub async fn spawn(
        &self,
        id: &str,
        params: &[(&str, &str)],
    ) -> (AgentWiring, ActorRef<SupervisorMsg>) {
        self.spawn_with(&self.kind(), id, params).await
    }

    pub async fn world(&self) -> WorldSnapshot {
        let world = self.world.get().expect("world runs");
        call(&world, WorldActorMsg::Snapshot).await
    }

    pub async fn place_hazard(&self, at: Cell) -> bool {
        let world = self.world.get().expect("world runs");
        call(&world, |r| WorldActorMsg::PlaceHazard(at, r)).await
    }

    /// Every event of `agent` in the ledger so far.
    pub fn events_of(&self, agent: &str) -> Vec<Event> {
        let query = Query {
            tenant: TENANT.into(),
            select: Selector::Agent(agent.into()),
            limit: 10_000,
        };
        LedgerReader::new(self.ctx.storage.clone())
            .query(&query)
            .expect("ledger readable")
    }
}

pub async fn call<M: ractor::Message, T: Send + 'static>(
    actor: &ActorRef<M>,
    msg: impl FnOnce(RpcReplyPort<T>) -> M,
) -> T {
    actor
        .call(msg, Some(Duration::from_secs(5)))
        .await
        .expect("actor alive")
        .success_or(())
        .unwrap_or_else(|_| panic!("no answer"))
}

pub async fn reflex(w: &AgentWiring) -> ReflexView {
    let r = w.reflex.get().expect("reflex runs");
    call(&r, ReflexMsg::Inspect).await
}

pub async fn supervision(w: &AgentWiring) -> SupervisionView {
    let s = w.supervision.get().expect("supervision runs");
    call(&s, SupervisionMsg::Inspect).await
}

pub fn assign(w: &AgentWiring, mission: u64, waypoints: Vec<Cell>) {
    assign_fenced(w, mission, 0, waypoints);
}

/// An assignment stamped with a cloud's fencing `token` (`[cloud] ha`).
pub fn assign_fenced(w: &AgentWiring, mission: u64, token: u64, waypoints: Vec<Cell>) {
    let s = w.supervision.get().expect("supervision runs");
    let a = Assignment {
        trace: Default::default(),
        mission,
        task: 0,
        goal: format!("test mission {mission}"),
        waypoints,
        work: None,
        attempt: 1,
        token,
    };
    s.cast(SupervisionMsg::Assign(Box::new(a)))
        .expect("supervision takes it");
}

/// Polls `probe` every 10 ms of virtual time until it gives `Some`, at most
/// [`PATIENCE`]; panics with `what` if it never does.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(t) = probe().await {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Signals of `status` among `events`, with their details.
pub fn signals<'a>(events: &'a [Event], status: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Signal { status: s, detail } if s == status => Some(detail.as_str()),
            _ => None,
        })
        .collect()
}

pub fn decisions(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Decision { rationale, .. } => Some(rationale.as_str()),
            _ => None,
        })
        .collect()
}

pub fn settings_default() -> AgentSettings {
    AgentSettings::default()
}
