//! The deterministic simulator.
//!
//! One seed drives everything a simulated node can observe. So far:
//! [`SimClock`] follows tokio's paused virtual time from a fixed epoch,
//! [`SeededEntropy`] is a ChaCha stream from the seed, and [`SimStorage`] is
//! the Storage seam in memory with seeded fsync delays, failing flushes, a full
//! disk and crashes that lose what was not flushed, and [`SimMesh`] is the
//! mesh seam with seeded per-link FIFO delays and partitions. SimNet, the
//! process shims and the scenario runner follow.

pub mod check;
mod clock;
pub mod cluster;
mod entropy;
mod mesh;
pub mod net;
mod node;
pub mod scenario;
mod storage;
mod swarm_node;
pub mod trace;

pub use clock::SimClock;
pub use entropy::SeededEntropy;
pub use mesh::{SimMesh, SimPubSub};
pub use node::SimNode;
pub use storage::SimStorage;
pub use swarm_node::SwarmNode;
