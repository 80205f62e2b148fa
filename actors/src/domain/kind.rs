//! A domain as an agent kind: a spawn spec becomes the agent's
//! `rest_for_one` subtree of the three generic layers, with its body and
//! its endpoint; and a domain as the planner's task kinds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swarmd_messages::swarm::{Address, AgentMsg};
use swarmd_messages::task::TaskSpec;
use swarmd_messages::{SpawnSpec, decode_payload};
use swarmd_supervisor::{ActorSlot, ChildSpec, Strategy, SupervisorSpec};

use super::peers::{DomainPeers, PeerBoard};
use super::reflex::{DomainReflex, ReflexMsg};
use super::situation::{DomainSituation, SituationMsg};
use super::supervision::{DomainSupervision, SupervisionMsg};
use super::{Body, Domain};
use crate::NodeCtx;
use crate::agent::{INTENSITY_PERIOD, MAX_RESTARTS};
use crate::fleet::{
    AgentKind, AgentKinds, Endpoint, EndpointError, NodeServices, PreparedAgent, SpecError,
    SplitTask, TaskKind, cast_to,
};
use crate::journal::Journal;
use crate::throttle::Priority;
use crate::ticker::TickStats;

/// The runtime's settings of one agent, from its spawn parameters; the
/// other parameters are the domain's (its body reads them).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSettings {
    pub reflex_hz: u32,
    pub situation_hz: u32,
    pub supervision_hz: u32,
    /// The dead-man's switch: no fresh command for this many reflex ticks →
    /// the domain's safe command.
    pub deadman_ticks: u64,
    /// The reflex hands situation a percept every this many ticks.
    pub percept_every_ticks: u64,
    /// Situation tells peers its state every this many of its ticks.
    pub announce_every_ticks: u64,
    /// A peer's state not renewed for this long is forgotten.
    pub peer_ttl: Duration,
    /// A task not done in this long fails (unless the task gives its own).
    pub task_timeout: Duration,
    pub priority: Priority,
}

impl Default for DomainSettings {
    fn default() -> Self {
        Self {
            reflex_hz: 50,
            situation_hz: 10,
            supervision_hz: 2,
            deadman_ticks: 25,
            percept_every_ticks: 5,
            announce_every_ticks: 2,
            peer_ttl: Duration::from_secs(2),
            task_timeout: Duration::from_secs(120),
            priority: Priority::Normal,
        }
    }
}

impl DomainSettings {
    /// `self` overridden by the runtime's keys of `params`.
    pub fn from_params(&self, params: &BTreeMap<String, String>) -> Result<Self, SpecError> {
        let mut s = self.clone();
        for (key, value) in params {
            let bad = |why: &str| SpecError::Parameter {
                key: key.clone(),
                value: value.clone(),
                why: why.to_string(),
            };
            let n = || value.trim().parse::<u64>().map_err(|_| bad("not a number"));
            let hz = || n().map(|v| v.min(u64::from(u32::MAX)) as u32);
            match key.as_str() {
                "reflex_hz" => s.reflex_hz = hz()?,
                "situation_hz" => s.situation_hz = hz()?,
                "supervision_hz" => s.supervision_hz = hz()?,
                "deadman_ticks" => s.deadman_ticks = n()?,
                "percept_every_ticks" => s.percept_every_ticks = n()?,
                "task_timeout_ms" => s.task_timeout = Duration::from_millis(n()?),
                "peer_ttl_ms" => s.peer_ttl = Duration::from_millis(n()?),
                "priority" => s.priority = value.parse().map_err(|e: String| bad(&e))?,
                _ => {}
            }
        }
        let rates = [s.reflex_hz, s.situation_hz, s.supervision_hz];
        if rates.iter().any(|hz| !(1..=1000).contains(hz)) {
            return Err(SpecError::Invalid("layer rates must be 1..=1000 Hz".into()));
        }
        if s.deadman_ticks == 0 || s.percept_every_ticks == 0 || s.peer_ttl.is_zero() {
            return Err(SpecError::Invalid(
                "tick counts and the peer TTL must be at least 1".into(),
            ));
        }
        Ok(s)
    }
}

/// Tick lateness of the layers of every agent of one domain on a node.
#[derive(Clone, Default)]
pub struct DomainStats {
    pub reflex: Arc<TickStats>,
    pub situation: Arc<TickStats>,
    pub supervision: Arc<TickStats>,
}

/// What one agent's layers share. Slots and the body outlive restarts.
pub struct Wiring<D: Domain> {
    pub domain: Arc<D>,
    pub ctx: NodeCtx,
    pub node: NodeServices,
    pub address: Address,
    pub spec: Arc<SpawnSpec>,
    pub settings: DomainSettings,
    pub journal: Journal,
    pub body: Arc<Mutex<Box<dyn Body<D>>>>,
    pub peers: Arc<PeerBoard<D>>,
    pub stats: DomainStats,
    pub reflex: ActorSlot<ReflexMsg<D>>,
    pub situation: ActorSlot<SituationMsg<D>>,
    pub supervision: ActorSlot<SupervisionMsg<D>>,
}

impl<D: Domain> Clone for Wiring<D> {
    fn clone(&self) -> Self {
        Self {
            domain: self.domain.clone(),
            ctx: self.ctx.clone(),
            node: self.node.clone(),
            address: self.address.clone(),
            spec: self.spec.clone(),
            settings: self.settings.clone(),
            journal: self.journal.clone(),
            body: self.body.clone(),
            peers: self.peers.clone(),
            stats: self.stats.clone(),
            reflex: self.reflex.clone(),
            situation: self.situation.clone(),
            supervision: self.supervision.clone(),
        }
    }
}

impl<D: Domain> Wiring<D> {
    pub fn name(&self) -> &str {
        &self.address.name
    }

    pub fn to_reflex(&self, msg: ReflexMsg<D>) {
        if let Some(r) = self.reflex.get() {
            let _ = r.cast(msg);
        }
    }

    pub fn to_situation(&self, msg: SituationMsg<D>) {
        if let Some(s) = self.situation.get() {
            let _ = s.cast(msg);
        }
    }

    pub fn to_supervision(&self, msg: SupervisionMsg<D>) {
        if let Some(s) = self.supervision.get() {
            let _ = s.cast(msg);
        }
    }
}

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
        let body = self.domain.body(spec, ctx)?;
        Ok(Wiring {
            domain: self.domain.clone(),
            ctx: ctx.clone(),
            node,
            address: Address {
                node: ctx.node.to_string(),
                name: spec.id.clone(),
            },
            spec: Arc::new(spec.clone()),
            journal: Journal::new(ctx.ledger.clone(), &spec.tenant, &spec.id),
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

    /// A kind of its own per node: its services, peer boards and stats.
    fn bind(&self, node: &NodeServices) -> Option<Arc<dyn AgentKind>> {
        Some(Arc::new(Self {
            domain: self.domain.clone(),
            defaults: self.defaults.clone(),
            peers: DomainPeers::default(),
            stats: DomainStats::default(),
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
