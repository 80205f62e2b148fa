//! A domain as an agent kind: a spawn spec becomes the agent's
//! `rest_for_one` subtree of the three generic layers, with its body and
//! its endpoint; and a domain as the planner's task kinds.

use std::sync::{Arc, Mutex};

use swarmd_messages::swarm::{Address, AgentMsg};
use swarmd_messages::task::TaskSpec;
use swarmd_messages::{SpawnSpec, decode_payload};
use swarmd_supervisor::{ActorSlot, ChildSpec, Strategy, SupervisorSpec};

use super::peers::DomainPeers;
use super::reflex::DomainReflex;
use super::settings::DomainSettings;
use super::situation::DomainSituation;
use super::supervision::DomainSupervision;
use super::wiring::{DomainStats, ReflexMsg, SupervisionMsg, Wiring};
use super::{Body, Domain};
use crate::NodeCtx;
use crate::external::{Link, RemoteBody};
use crate::fleet::{
    AgentKind, AgentKinds, Endpoint, EndpointError, INTENSITY_PERIOD, MAX_RESTARTS, NodeServices,
    PreparedAgent, SpecError, SplitTask, TaskKind, cast_to,
};
use crate::journal::Journal;

/// Agents of domain `D`, spawned as `domain.name()`.
pub struct DomainKind<D: Domain> {
    domain: Arc<D>,
    defaults: DomainSettings,
    peers: DomainPeers<D>,
    stats: DomainStats,
    /// The node's services, once bound to one (see [`AgentKind::bind`]).
    node: Option<NodeServices>,
}

impl<D: Domain> Clone for DomainKind<D> {
    fn clone(&self) -> Self {
        Self {
            domain: self.domain.clone(),
            defaults: self.defaults.clone(),
            peers: self.peers.clone(),
            stats: self.stats.clone(),
            node: self.node.clone(),
        }
    }
}

impl<D: Domain> DomainKind<D> {
    pub fn new(domain: D) -> Self {
        Self {
            domain: Arc::new(domain),
            defaults: DomainSettings::default(),
            peers: DomainPeers::default(),
            stats: DomainStats::default(),
            node: None,
        }
    }

    /// The settings agents get unless their spawn parameters say otherwise.
    pub fn defaults(mut self, defaults: DomainSettings) -> Self {
        self.defaults = defaults;
        self
    }

    /// Tick lateness of this kind's agents, by layer.
    pub fn stats(&self) -> &DomainStats {
        &self.stats
    }

    /// `kinds` with this domain's agent kind and task kinds.
    pub fn register(self, kinds: AgentKinds) -> AgentKinds {
        let name = self.domain.name().to_string();
        let tasks: Arc<dyn TaskKind> = Arc::new(DomainTasks(self.domain.clone()));
        let kinds = self
            .domain
            .task_kinds()
            .iter()
            .fold(kinds, |k, kind| k.with_task_kind(kind, tasks.clone()));
        kinds.with(&name, self)
    }

    fn wiring(&self, spec: &SpawnSpec, ctx: &NodeCtx) -> Result<Wiring<D>, SpecError> {
        let node = self
            .node
            .clone()
            .ok_or_else(|| SpecError::Invalid("the node has not started this agent kind".into()))?;
        let settings = self.defaults.from_params(&spec.params)?;
        let journal = Journal::new(ctx.ledger.clone(), &spec.tenant, &spec.id);
        let body: Box<dyn Body<D>> = match settings.remote_body {
            true => Box::new(RemoteBody::<D>::start(
                Link::of(ctx, spec, self.domain.name(), &journal),
                settings.body_silent,
            )),
            false => self.domain.body(spec, ctx)?,
        };
        Ok(Wiring {
            domain: self.domain.clone(),
            ctx: ctx.clone(),
            node,
            address: Address {
                node: ctx.node.to_string(),
                name: spec.id.clone(),
            },
            spec: Arc::new(spec.clone()),
            journal,
            body: Arc::new(Mutex::new(body)),
            peers: self
                .peers
                .for_tenant(ctx, &spec.tenant, self.domain.name(), settings.peer_ttl),
            stats: self.stats.clone(),
            reflex: ActorSlot::new(),
            situation: ActorSlot::new(),
            supervision: ActorSlot::new(),
            settings,
        })
    }
}

impl<D: Domain> AgentKind for DomainKind<D> {
    fn prepare(&self, spec: &SpawnSpec, ctx: &NodeCtx) -> Result<PreparedAgent, SpecError> {
        let w = self.wiring(spec, ctx)?;
        let child = subtree(&w).into_child();
        Ok(PreparedAgent {
            child,
            endpoint: endpoint(&w),
        })
    }

    /// A kind of its own per node: its services and peer boards (its stats
    /// are the kind's, shared by the nodes of a process).
    fn bind(&self, node: &NodeServices) -> Option<Arc<dyn AgentKind>> {
        Some(Arc::new(Self {
            domain: self.domain.clone(),
            defaults: self.defaults.clone(),
            peers: DomainPeers::default(),
            stats: self.stats.clone(),
            node: Some(node.clone()),
        }))
    }
}

fn subtree<D: Domain>(w: &Wiring<D>) -> SupervisorSpec {
    SupervisorSpec::new(w.name(), Strategy::RestForOne)
        .intensity(MAX_RESTARTS, INTENSITY_PERIOD)
        .events(w.node.events.clone())
        .child(ChildSpec::for_actor_in(
            "reflex",
            DomainReflex::<D>::default(),
            w.clone(),
            w.reflex.clone(),
        ))
        .child(ChildSpec::for_actor_in(
            "situation",
            DomainSituation::<D>::default(),
            w.clone(),
            w.situation.clone(),
        ))
        .child(ChildSpec::for_actor_in(
            "supervision",
            DomainSupervision::<D>::default(),
            w.clone(),
            w.supervision.clone(),
        ))
}

/// Routes each `AgentMsg` to the layer that handles it; a grid world's
/// messages are refused (they are another domain's).
fn endpoint<D: Domain>(w: &Wiring<D>) -> Endpoint {
    let (reflex, supervision) = (w.reflex.clone(), w.supervision.clone());
    Endpoint::new(move |bytes: Vec<u8>| {
        let msg: AgentMsg = decode_payload(&bytes)?;
        match msg {
            AgentMsg::EmergencyStop { reason } => {
                cast_to(&reflex, "the reflex", ReflexMsg::EmergencyStop(reason))
            }
            AgentMsg::Resume => cast_to(&reflex, "the reflex", ReflexMsg::Resume),
            AgentMsg::Assign(a) => cast_to(
                &supervision,
                "supervision",
                SupervisionMsg::Assign(Box::new(a)),
            ),
            AgentMsg::Welcome { .. } | AgentMsg::Perceived(_) | AgentMsg::Config(_) => Err(
                EndpointError::NotHandled("a grid world's message, to an agent of another domain"),
            ),
        }
    })
}

/// A domain's tasks, as the planner checks and splits them.
pub struct DomainTasks<D: Domain>(pub Arc<D>);

impl<D: Domain> TaskKind for DomainTasks<D> {
    fn split(&self, spec: &TaskSpec, workers: usize) -> Result<Vec<SplitTask>, String> {
        let tasks = self.0.split(spec, workers)?;
        tasks
            .iter()
            .map(|t| {
                let payload = serde_json::to_string(t).map_err(|e| e.to_string())?;
                let back = TaskSpec {
                    payload: payload.clone(),
                    ..spec.clone()
                };
                self.0.task(&back).map_err(|why| {
                    format!("the domain's split makes a task it cannot read: {why}")
                })?;
                Ok(SplitTask {
                    payload,
                    cost: self.0.cost(t),
                })
            })
            .collect()
    }
}
