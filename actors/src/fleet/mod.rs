//! A node's fleet: agent kinds, the factory that starts and stops agents,
//! and the node-local directory of addressable actors.
//!
//! A remote spawn names a *kind*; the node's [`AgentKinds`] turns the
//! serializable spec into a supervised child plus an [`Endpoint`] through
//! which casts from other nodes reach it. The [`LocalDirectory`] maps names to
//! endpoints for this node only: nothing here touches ractor's process-global
//! registry or `pg`, so many nodes can share one process in the simulator.

mod directory;
mod factory;
mod probe;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use swarmd_messages::{CodecError, SpawnRejected, SpawnSpec, decode_payload};
use swarmd_supervisor::{ActorSlot, ChildSpec};

use crate::NodeCtx;

pub use directory::{DeliverError, LocalDirectory};
pub use factory::{AgentFactory, AgentStatus, AgentTenants};
pub use probe::{PROBE_KIND, ProbeKind, ProbeMsg};

/// Hands one encoded message to a running actor. `Err` says why it was refused
/// (undecodable, or the actor is gone); it never panics.
pub type Endpoint = Arc<dyn Fn(Vec<u8>) -> Result<(), EndpointError> + Send + Sync>;

/// Why an endpoint refused a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("undecodable message: {0}")]
    Undecodable(#[from] CodecError),
    /// Between incarnations (restarting) or stopped.
    #[error("{0} is not running")]
    NotRunning(&'static str),
}

/// The endpoint of an actor whose incarnations go into `slot`: decodes an
/// `M` and casts `wrap(msg)` to the running incarnation, named `what` in errors.
pub fn decoding_endpoint<M, A>(slot: ActorSlot<A>, what: &'static str, wrap: fn(M) -> A) -> Endpoint
where
    M: DeserializeOwned + 'static,
    A: ractor::Message,
{
    Arc::new(move |bytes: Vec<u8>| {
        let msg: M = decode_payload(&bytes)?;
        cast_to(&slot, what, wrap(msg))
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
}

/// The kinds a node can start, by name.
#[derive(Clone, Default)]
pub struct AgentKinds(BTreeMap<String, Arc<dyn AgentKind>>);

impl AgentKinds {
    /// The kinds every node knows.
    pub fn builtin() -> Self {
        Self::default().with(PROBE_KIND, ProbeKind)
    }

    pub fn with(mut self, name: &str, kind: impl AgentKind) -> Self {
        self.0.insert(name.to_string(), Arc::new(kind));
        self
    }

    pub fn prepare(&self, spec: &SpawnSpec, ctx: &NodeCtx) -> Result<PreparedAgent, SpawnRejected> {
        spec.check_bounds()?;
        let kind = self.0.get(&spec.kind).ok_or_else(|| {
            let known: Vec<&str> = self.0.keys().map(String::as_str).collect();
            SpawnRejected::Spec(format!("unknown kind {:?}; known: {known:?}", spec.kind))
        })?;
        kind.prepare(spec, ctx)
            .map_err(|e| SpawnRejected::Spec(e.to_string()))
    }
}
