//! swarmd, a runtime for supervised, distributed multi-agent swarms: the
//! `swarmd` binary, and the library a program embedding a node depends on.
//! Everything an embedding program needs is here, so it never names the
//! internal crates:
//!
//! - [`run`] a node from a [`NodeConfig`] (what `swarmd` itself does), or
//!   [`Started::start`] one and keep its handles;
//! - [`Node::builder`]: a node with the program's own domains
//!   ([`domain::Domain`], README's "Writing a domain") and agent kinds
//!   ([`agents::AgentKind`]) next to the built-in ones;
//! - [`config`]: the node's configuration, as `swarmd.toml` reads;
//! - `sim` (feature `sim`, for tests): the deterministic simulated cluster
//!   and its checkers. Never enable it in a production binary: the
//!   simulator's shims answer the process's clock and randomness from a seed.

/// The actor library agents are written with.
pub use ractor;
pub use swarmd_config as config;
pub use swarmd_config::NodeConfig;
pub use swarmd_node::{NodeBuilder, StartError, Started, cli, run};
pub use swarmd_storage::DataDir;

/// A node with the program's own agent kinds:
/// `swarmd::Node::builder(config).kind("echo", Echo).run().await`.
pub struct Node;

impl Node {
    pub fn builder(config: NodeConfig) -> NodeBuilder {
        NodeBuilder::new(config)
    }
}

/// What an agent kind is made of: it turns a spawn spec into a supervised
/// child and the endpoint its messages arrive at.
pub mod agents {
    pub use swarmd_actors::NodeCtx;
    pub use swarmd_actors::fleet::{
        AgentKind, Endpoint, EndpointError, PreparedAgent, SpecError, cast_to,
    };
    pub use swarmd_actors::journal::Journal;
    pub use swarmd_messages::{EventKind, SpawnSpec, decode_payload};
    pub use swarmd_supervisor::{ActorSlot, ChildSpec};
}
/// The domain-neutral agent runtime: a domain supplies its types and each
/// layer's behaviour, the runtime the supervised three-layer agent
/// (DESIGN §16). Register one with [`NodeBuilder::domain`].
pub mod domain {
    pub use swarmd_actors::domain::{
        Body, Data, Domain, DomainKind, DomainSettings, MAX_VIEW_BYTES, Plan, Refusal, View,
    };
    pub use swarmd_actors::fleet::{SplitTask, TaskKind};
    pub use swarmd_messages::task::{MAX_PAYLOAD_BYTES, TaskSpec};
    pub use swarmd_messages::{DomainAct, swarm::Goal};
}

/// The drones domain, the worked example of README's "Writing a domain".
pub use swarmd_drones as drones;

#[cfg(feature = "sim")]
pub use swarmd_sim as sim;
