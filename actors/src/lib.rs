//! swarmd agents and what they run on.
//!
//! Its first piece is [`NodeCtx`]: the only door through which actors reach
//! time, randomness, disk, the mesh and the network. Agent layers, the agent
//! subtree and factory, the sandbox and the world adapters build on it.

pub mod agent;
pub mod agents;
pub mod ctx;
pub mod journal;
pub mod missions;
pub mod router;
pub mod sandbox;
pub mod ticker;
pub mod world;

pub use ctx::NodeCtx;
