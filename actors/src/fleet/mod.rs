//! A node's fleet: agent kinds, the factory that starts and stops agents,
//! and the node-local directory of addressable actors.
//!
//! A remote spawn names a *kind*; the node's [`AgentKinds`] turns the
//! serializable spec into a supervised child plus an [`Endpoint`] through
//! which casts from other nodes reach it. The [`LocalDirectory`] maps names to
//! endpoints for this node only: nothing here touches ractor's process-global
//! registry or `pg`, so many nodes can share one process in the simulator.

mod admission;
mod directory;
mod factory;
mod probe;
mod tasks;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use swarmd_messages::{CodecError, SpawnRejected, SpawnSpec, decode_payload};
use swarmd_supervisor::{ActorSlot, ChildSpec};

use crate::NodeCtx;

/// Restarts of one agent's layers within `INTENSITY_PERIOD` before the agent
/// gives up and its exit reaches the node's `agents` supervisor.
pub const MAX_RESTARTS: u32 = 5;
pub const INTENSITY_PERIOD: std::time::Duration = std::time::Duration::from_secs(10);

pub use admission::Admission;
pub use directory::{DeliverError, LocalDirectory};
pub use factory::{AgentFactory, AgentStatus, AgentTenants};
pub use probe::{PROBE_KIND, ProbeKind, ProbeMsg};
pub use tasks::{MAX_SPLIT_TASKS, SplitTask, TaskKind, TaskKinds};

type DeliverOne = dyn Fn(Vec<u8>) -> Result<(), EndpointError> + Send + Sync;
type DeliverMany = dyn Fn(Vec<Vec<u8>>) -> usize + Send + Sync;

/// Hands encoded messages to a running actor. A refusal says why
/// (undecodable, or the actor is gone); it never panics. An actor that takes
/// batches gets the payloads of one `CastMany` frame as one message.
#[derive(Clone)]
pub struct Endpoint {
    one: Arc<DeliverOne>,
    many: Option<Arc<DeliverMany>>,
}

impl Endpoint {
    pub fn new(one: impl Fn(Vec<u8>) -> Result<(), EndpointError> + Send + Sync + 'static) -> Self {
        Self {
            one: Arc::new(one),
            many: None,
        }
    }

    /// `many` takes a batch in order and returns how many it refused.
    pub fn with_batches(
        mut self,
        many: impl Fn(Vec<Vec<u8>>) -> usize + Send + Sync + 'static,
    ) -> Self {
        self.many = Some(Arc::new(many));
        self
    }

    pub fn deliver(&self, payload: Vec<u8>) -> Result<(), EndpointError> {
        (self.one)(payload)
    }

    /// Delivers `payloads` in order; how many were refused.
    pub fn deliver_all(&self, payloads: Vec<Vec<u8>>) -> usize {
        match &self.many {
            Some(many) => many(payloads),
            None => payloads
                .into_iter()
                .map(|p| (self.one)(p))
                .filter(Result::is_err)
                .count(),
        }
    }
}

/// Why an endpoint refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("undecodable message: {0}")]
    Undecodable(#[from] CodecError),
    /// Between incarnations (restarting) or stopped.
    #[error("{0} is not running")]
    NotRunning(&'static str),
    /// The actor takes no message of this kind.
    #[error("not handled: {0}")]
    NotHandled(&'static str),
}

/// The endpoint of an actor whose incarnations go into `slot`: decodes an
/// `M` and casts `wrap(msg)` to the running incarnation, named `what` in errors.
pub fn decoding_endpoint<M, A>(slot: ActorSlot<A>, what: &'static str, wrap: fn(M) -> A) -> Endpoint
where
    M: DeserializeOwned + 'static,
    A: ractor::Message,
{
    Endpoint::new(move |bytes: Vec<u8>| {
        let msg: M = decode_payload(&bytes)?;
        cast_to(&slot, what, wrap(msg))
    })
}

/// Like [`decoding_endpoint`], for an actor that takes a batch as one
/// message: the payloads of one frame are decoded (each once; an undecodable
/// one is refused alone) and cast as one `batch` message. A batch is as large
/// as the frame it came in, which the sender's `cast_batch` and the cluster's
/// frame limit bound.
pub fn batching_endpoint<M, A>(
    slot: ActorSlot<A>,
    what: &'static str,
    wrap: fn(M) -> A,
    batch: fn(Vec<M>) -> A,
) -> Endpoint
where
    M: DeserializeOwned + 'static,
    A: ractor::Message,
{
    let many_slot = slot.clone();
    decoding_endpoint(slot, what, wrap).with_batches(move |payloads: Vec<Vec<u8>>| {
        let total = payloads.len();
        let msgs: Vec<M> = payloads
            .iter()
            .filter_map(|bytes| decode_payload(bytes).ok())
            .collect();
        let decoded = msgs.len();
        match cast_to(&many_slot, what, batch(msgs)) {
            Ok(()) => total - decoded,
            Err(_) => total,
        }
    })
}

/// Casts `msg` to the incarnation in `slot`, if one runs.
pub fn cast_to<A: ractor::Message>(
    slot: &ActorSlot<A>,
    what: &'static str,
    msg: A,
) -> Result<(), EndpointError> {
    let actor = slot.get().ok_or(EndpointError::NotRunning(what))?;
    // A cast fails only when the mailbox is closed: the actor is stopping.
    actor.cast(msg).map_err(|_| EndpointError::NotRunning(what))
}

/// Why a kind refused a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("parameter {key}={value:?}: {why}")]
    Parameter {
        key: String,
        value: String,
        why: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// What a kind makes of a spec: the child to start and how to reach it.
pub struct PreparedAgent {
    pub child: ChildSpec,
    pub endpoint: Endpoint,
}

pub trait AgentKind: Send + Sync + 'static {
    /// Validates `spec` and builds its child. `Err` is a reason for the caller.
    fn prepare(&self, spec: &SpawnSpec, ctx: &NodeCtx) -> Result<PreparedAgent, SpecError>;

    /// The kind as one node runs it, given what that node's agents reach
    /// the cluster through; called once as the node starts, before any
    /// `prepare`. `None`: the kind needs nothing of the node. (Many nodes
    /// share one process in the simulator: what a kind keeps per node
    /// belongs in the kind this returns.)
    fn bind(&self, _node: &NodeServices) -> Option<Arc<dyn AgentKind>> {
        None
    }
}

/// What a node gives its agent kinds as it starts.
#[derive(Clone)]
pub struct NodeServices {
    pub router: Arc<dyn crate::router::Router>,
    /// Where agents' supervisors report restarts and escalations.
    pub events: swarmd_supervisor::EventSender,
    /// The node governor's throttle of slow layers.
    pub throttle: crate::throttle::Throttle,
}

/// The kinds a node can start, by name, and the task kinds their agents take.
#[derive(Clone, Default)]
pub struct AgentKinds {
    agents: BTreeMap<String, Arc<dyn AgentKind>>,
    tasks: TaskKinds,
}

impl AgentKinds {
    /// The kinds every node knows.
    pub fn builtin() -> Self {
        Self::default().with(PROBE_KIND, ProbeKind)
    }

    pub fn with(mut self, name: &str, kind: impl AgentKind) -> Self {
        self.agents.insert(name.to_string(), Arc::new(kind));
        self
    }

    /// Missions of task kind `name` are checked and split by `kind`.
    pub fn with_task_kind(mut self, name: &str, kind: Arc<dyn TaskKind>) -> Self {
        self.tasks = self.tasks.with(name, kind);
        self
    }

    /// These kinds and `more`, unless `more` names one of these again.
    pub fn extend(mut self, more: AgentKinds) -> Result<Self, String> {
        for (name, kind) in more.agents {
            if self.agents.contains_key(&name) {
                return Err(format!("agent kind {name:?} is registered twice"));
            }
            self.agents.insert(name, kind);
        }
        self.tasks = self.tasks.extend(more.tasks)?;
        Ok(self)
    }

    /// The kinds' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.agents.keys().cloned().collect()
    }

    /// The task kinds the kinds' agents take.
    pub fn task_kinds(&self) -> &TaskKinds {
        &self.tasks
    }

    /// The kinds as one node runs them; see [`AgentKind::bind`].
    pub fn bind(mut self, node: &NodeServices) -> Self {
        for kind in self.agents.values_mut() {
            if let Some(bound) = kind.bind(node) {
                *kind = bound;
            }
        }
        self
    }

    pub fn prepare(&self, spec: &SpawnSpec, ctx: &NodeCtx) -> Result<PreparedAgent, SpawnRejected> {
        spec.check_bounds()?;
        let kind = self.agents.get(&spec.kind).ok_or_else(|| {
            let known: Vec<&str> = self.agents.keys().map(String::as_str).collect();
            SpawnRejected::Spec(format!("unknown kind {:?}; known: {known:?}", spec.kind))
        })?;
        kind.prepare(spec, ctx)
            .map_err(|e| SpawnRejected::Spec(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ractor::{Actor, ActorProcessingErr, ActorRef};
    use swarmd_messages::encode_payload;
    use tokio::sync::mpsc;

    /// Reports the size of every message it gets: 1 for one, n for a batch.
    struct Sizes;

    enum Msg {
        One(#[allow(dead_code)] u32),
        Many(Vec<u32>),
    }
    impl ractor::Message for Msg {}

    impl Actor for Sizes {
        type Msg = Msg;
        type State = mpsc::UnboundedSender<usize>;
        type Arguments = mpsc::UnboundedSender<usize>;

        async fn pre_start(
            &self,
            _: ActorRef<Msg>,
            tx: Self::Arguments,
        ) -> Result<Self::State, ActorProcessingErr> {
            Ok(tx)
        }

        async fn handle(
            &self,
            _: ActorRef<Msg>,
            msg: Msg,
            tx: &mut Self::State,
        ) -> Result<(), ActorProcessingErr> {
            let _ = tx.send(match msg {
                Msg::One(_) => 1,
                Msg::Many(v) => v.len(),
            });
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_frame_of_casts_reaches_a_batching_actor_as_one_message() {
        let (tx, mut sizes) = mpsc::unbounded_channel();
        let (actor, _) = Actor::spawn(None, Sizes, tx).await.unwrap();
        let slot = ActorSlot::new();
        slot.set(actor.clone());
        let endpoint = batching_endpoint(slot, "sizes", Msg::One, Msg::Many);
        let mut payloads: Vec<Vec<u8>> = (0..3u32).map(|n| encode_payload(&n).unwrap()).collect();
        payloads.insert(1, vec![0xff; 3]); // undecodable: refused alone
        assert_eq!(endpoint.deliver_all(payloads), 1);
        assert_eq!(sizes.recv().await, Some(3), "one message of three");
        endpoint.deliver(encode_payload(&7u32).unwrap()).unwrap();
        assert_eq!(sizes.recv().await, Some(1));
        actor.stop(None);
    }
}
