//! The deterministic simulator: a whole swarmd cluster in one process.
//!
//! One seed drives everything a simulated node can observe. The per-node
//! seams (clock, entropy, disk, mesh) live in `swarmd-sim-node` and are
//! re-exported here; this crate adds [`net::SimNet`] (in-memory ractor_cluster
//! links with seeded latency, resets, partitions and crashes), [`tier::SimTier`]
//! (the cloud tier's lease and state log, where production has JetStream),
//! [`cluster::SimCluster`] (production node trees on those seams), the
//! [`driver::Sim`] (a cluster with a driver: faults on the virtual clock,
//! missions, the invariant checkers at the end), the scenarios, the
//! checkers themselves (apart from the code under test), the process-level
//! determinism [`shims`] and [`check`], which runs users' own simulation
//! tests one seed per process, as the `swarm-sim` runner does.

pub mod brains;
pub mod check;
pub mod cluster;
pub mod driver;
#[cfg(feature = "shims")]
mod harness;
pub mod lorr;
pub mod net;
pub mod process;
pub mod scenario;
#[cfg(feature = "shims")]
pub mod shims;
pub mod tier;
pub mod trace;

#[cfg(feature = "shims")]
pub use harness::{SEED_VAR, TRACE_VAR, check};
pub use swarmd_sim_node::{
    MAX_FSYNC, SeededEntropy, SimClock, SimMesh, SimNode, SimPubSub, SimStorage, SkewedClock,
    SwarmNode,
};
