//! The `grid` agent kind: a spawn spec becomes the agent's `rest_for_one`
//! subtree and an endpoint that routes its messages to the right layer.

use std::sync::Arc;

use swarmd_messages::swarm::{Address, AgentMsg};
use swarmd_messages::{SpawnSpec, decode_payload};
use swarmd_supervisor::{ActorSlot, ChildSpec, EventSender, Strategy, SupervisorSpec};

use super::floor::FloorCache;
use super::planning::{Planner, RoutePlanner};
use super::{
    AgentSettings, AgentStats, AgentWiring, PeerLinks, Reflex, ReflexMsg, Situation, Supervision,
    SupervisionMsg,
};
use crate::world::{RoutedWorld, WorldAdapter};
use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::{AgentKind, Endpoint, PreparedAgent, SpecError, cast_to};
use swarmd_actors::journal::Journal;
use swarmd_actors::router::Router;
use swarmd_actors::sandbox::{SandboxArgs, sandbox_child};

pub const GRID_AGENT_KIND: &str = "grid";

pub use swarmd_actors::fleet::{INTENSITY_PERIOD, MAX_RESTARTS};

#[derive(Clone)]
pub struct GridAgentKind {
    router: Arc<dyn Router>,
    world: Arc<dyn WorldAdapter>,
    planner: Arc<dyn Planner>,
    floors: FloorCache,
    defaults: AgentSettings,
    events: Option<EventSender>,
    /// Tick lateness of every agent of the kind, one histogram per layer.
    stats: AgentStats,
    peers: PeerLinks,
}

impl GridAgentKind {
    /// Agents that reach the world and the cloud through `router`.
    pub fn new(router: Arc<dyn Router>) -> Self {
        Self {
            world: Arc::new(RoutedWorld(router.clone())),
            router,
            planner: Arc::new(RoutePlanner),
            floors: FloorCache::default(),
            defaults: AgentSettings::default(),
            events: None,
            stats: AgentStats::default(),
            peers: PeerLinks::default(),
        }
    }

    /// Tick lateness and counts of all agents of this kind, by layer.
    pub fn stats(&self) -> &AgentStats {
        &self.stats
    }

    /// The board and outbox of `tenant`'s agents of this kind on this node
    /// (started if none of them ran yet).
    pub fn peer_link(&self, ctx: &NodeCtx, tenant: &str) -> Arc<super::PeerLink> {
        self.peers.for_tenant(ctx, tenant)
    }

    /// Count into `stats` (shared with whoever reads them, e.g. /metrics).
    pub fn counting_into(mut self, stats: AgentStats) -> Self {
        self.stats = stats;
        self
    }

    /// Share `peers` (each tenant's board on this node) with whoever shows
    /// them, e.g. the world view's tags.
    pub fn sharing(mut self, peers: PeerLinks) -> Self {
        self.peers = peers;
        self
    }

    /// Where each agent's supervisor reports restarts and escalations.
    pub fn events(mut self, events: EventSender) -> Self {
        self.events = Some(events);
        self
    }

    pub fn defaults(mut self, defaults: AgentSettings) -> Self {
        self.defaults = defaults;
        self
    }

    /// The native planner agents use (and fall back on when a guest fails).
    pub fn planner(mut self, planner: Arc<dyn Planner>) -> Self {
        self.planner = planner;
        self
    }

    /// The agent's child and endpoint, and its wiring for whoever wants to look inside.
    pub fn prepare_agent(
        &self,
        spec: &SpawnSpec,
        ctx: &NodeCtx,
    ) -> Result<(PreparedAgent, AgentWiring), SpecError> {
        let settings = AgentSettings::from_params(&self.defaults, &spec.params)?;
        let wiring = AgentWiring {
            ctx: ctx.clone(),
            router: self.router.clone(),
            world: self.world.clone(),
            address: Address {
                node: ctx.node.to_string(),
                name: spec.id.clone(),
            },
            spec: Arc::new(spec.clone()),
            journal: Journal::new(ctx.ledger.clone(), &spec.tenant, &spec.id),
            planner: self.planner.clone(),
            floors: self.floors.clone(),
            reflex: ActorSlot::new(),
            situation: ActorSlot::new(),
            supervision: ActorSlot::new(),
            sandbox: settings.sandbox.is_some().then(ActorSlot::new),
            stats: self.stats.clone(),
            peers: self.peers.clone(),
            settings,
        };
        let child = self.subtree(&wiring).into_child();
        let endpoint = endpoint(&wiring);
        Ok((PreparedAgent { child, endpoint }, wiring))
    }

    fn subtree(&self, w: &AgentWiring) -> SupervisorSpec {
        let mut spec = SupervisorSpec::new(w.name(), Strategy::RestForOne)
            .intensity(MAX_RESTARTS, INTENSITY_PERIOD)
            .child(ChildSpec::for_actor_in(
                "reflex",
                Reflex,
                w.clone(),
                w.reflex.clone(),
            ))
            .child(ChildSpec::for_actor_in(
                "situation",
                Situation,
                w.clone(),
                w.situation.clone(),
            ))
            .child(ChildSpec::for_actor_in(
                "supervision",
                Supervision,
                w.clone(),
                w.supervision.clone(),
            ));
        if let (Some(source), Some(slot)) = (&w.settings.sandbox, &w.sandbox) {
            let args = SandboxArgs {
                ctx: w.ctx.clone(),
                agent: w.name().to_string(),
                tenant: w.spec.tenant.clone(),
                source: source.clone().into(),
                limits: w.settings.sandbox_limits.clone(),
            };
            spec = spec.child(sandbox_child(args, slot.clone()));
        }
        if let Some(events) = &self.events {
            spec = spec.events(events.clone());
        }
        spec
    }
}

impl AgentKind for GridAgentKind {
    fn prepare(&self, spec: &SpawnSpec, ctx: &NodeCtx) -> Result<PreparedAgent, SpecError> {
        self.prepare_agent(spec, ctx).map(|(prepared, _)| prepared)
    }
}

/// Routes each `AgentMsg` to the layer that handles it.
fn endpoint(w: &AgentWiring) -> Endpoint {
    let (reflex, supervision) = (w.reflex.clone(), w.supervision.clone());
    Endpoint::new(move |bytes: Vec<u8>| {
        let msg: AgentMsg = decode_payload(&bytes)?;
        let to_reflex = |m: ReflexMsg| cast_to(&reflex, "the reflex", m);
        match msg {
            AgentMsg::Welcome { plan, perception } => {
                to_reflex(ReflexMsg::Welcome(Box::new((plan, perception))))
            }
            AgentMsg::Perceived(p) => to_reflex(ReflexMsg::Perceived(Box::new(p))),
            AgentMsg::EmergencyStop { reason } => to_reflex(ReflexMsg::EmergencyStop(reason)),
            AgentMsg::Resume => to_reflex(ReflexMsg::Resume),
            AgentMsg::Config(update) => to_reflex(ReflexMsg::Config(update)),
            AgentMsg::Assign(a) => cast_to(
                &supervision,
                "supervision",
                SupervisionMsg::Assign(Box::new(a)),
            ),
        }
    })
}
