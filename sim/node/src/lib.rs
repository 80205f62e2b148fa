//! One simulated node: the seams of a [`NodeCtx`](swarmd_actors::NodeCtx)
//! replaced by deterministic ones, with the production actors on top.
//!
//! - [`SimClock`]: wall time from a fixed epoch plus tokio's paused virtual time;
//! - [`SeededEntropy`]: a ChaCha stream from the seed;
//! - [`SimStorage`]: the Storage seam in memory, with seeded fsync delays,
//!   failing flushes, a full disk, and crashes that lose what was not flushed;
//! - [`SimMesh`]: the mesh seam with seeded per-link FIFO delays and partitions;
//! - [`SimNode`]: those seams wired into a `NodeCtx` with the real ledger writer;
//! - [`SwarmNode`]: a one-node swarm (world and `agents` supervisor) on a `SimNode`.
//!
//! This crate sits below `swarmd-node`, so the agent tests and benches
//! here build without the cluster. The whole-cluster simulator (`swarmd-sim`)
//! builds on it.

mod clock;
mod entropy;
mod mesh;
mod node;
mod storage;
mod swarm_node;

pub use clock::{SimClock, SkewedClock};
pub use entropy::SeededEntropy;
pub use mesh::{SimMesh, SimPubSub, node_pair};
pub use node::{MAX_FSYNC, SimNode};
pub use storage::SimStorage;
pub use swarm_node::SwarmNode;
