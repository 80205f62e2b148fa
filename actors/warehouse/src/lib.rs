//! The warehouse, swarmd's bundled demo: grid agents (the three layers
//! speaking cells: right of way, hazards, tags, shortest paths, cover and
//! fetch) and the world they move on. It sits on the runtime
//! (`swarmd-actors`) as any user's agents do; the runtime names none of it.
//!
//! - [`agent`]: one grid agent, its three layer actors and their subtree;
//! - [`world`]: the floor agents act on.

pub mod agent;
pub mod world;
