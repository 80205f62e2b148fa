//! Agent kinds and the node-local directory of addressable actors.
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

use swarmd_messages::{SpawnRejected, SpawnSpec};
use swarmd_supervisor::ChildSpec;

use crate::NodeCtx;

pub use directory::{DeliverError, LocalDirectory};
pub use factory::{AgentFactory, AgentStatus};
pub use probe::{PROBE_KIND, ProbeKind, ProbeMsg};

/// Hands one encoded message to a running actor. `Err` says why it was refused
/// (undecodable, or the actor is gone); it never panics.
pub type Endpoint = Arc<dyn Fn(Vec<u8>) -> Result<(), String> + Send + Sync>;

/// What a kind makes of a spec: the child to start and how to reach it.
pub struct PreparedAgent {
    pub child: ChildSpec,
    pub endpoint: Endpoint,
}

pub trait AgentKind: Send + Sync + 'static {
    /// Validates `spec` and builds its child. `Err` is a reason for the caller.
    fn prepare(&self, spec: &SpawnSpec, ctx: &NodeCtx) -> Result<PreparedAgent, String>;
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
        if spec.id.is_empty() || spec.id.len() > 128 {
            return Err(SpawnRejected::Spec("id must be 1..=128 bytes".into()));
        }
        let kind = self.0.get(&spec.kind).ok_or_else(|| {
            let known: Vec<&str> = self.0.keys().map(String::as_str).collect();
            SpawnRejected::Spec(format!("unknown kind {:?}; known: {known:?}", spec.kind))
        })?;
        kind.prepare(spec, ctx).map_err(SpawnRejected::Spec)
    }
}
