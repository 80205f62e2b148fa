//! The deterministic simulator: a whole swarmd cluster in one process.
//!
//! One seed drives everything a simulated node can observe. The per-node
//! seams (clock, entropy, disk, mesh) live in `swarmd-sim-node` and are
//! re-exported here; this crate adds [`net::SimNet`] (in-memory ractor_cluster
//! links with seeded latency, resets, partitions and crashes),
//! [`cluster::SimCluster`] (production node trees on those seams), the
//! scenarios, the invariant checkers (apart from the code under test) and the
//! `swarm-sim` seed runner with its process-level determinism shims.

pub mod check;
pub mod cluster;
pub mod net;
pub mod scenario;
pub mod trace;

pub use swarmd_sim_node::{
    MAX_FSYNC, SeededEntropy, SimClock, SimMesh, SimNode, SimPubSub, SimStorage, SwarmNode,
};
