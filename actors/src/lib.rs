//! swarmd agents and what they run on.
//!
//! Its first piece is [`NodeCtx`]: the only door through which actors reach
//! time, randomness, disk, the mesh and the network. Agent layers, the agent
//! subtree and factory, the sandbox and the world adapters build on it.

pub mod agents;
pub mod ctx;

pub use ctx::NodeCtx;
