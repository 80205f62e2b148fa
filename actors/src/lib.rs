//! swarmd agents and what they run on.
//!
//! - [`ctx`]: [`NodeCtx`], the only door through which actors reach wall
//!   time, randomness, disk, the mesh and the network (and the rule for time);
//! - [`domain`]: the domain-neutral agent runtime: a [`domain::Domain`]
//!   supplies the types and behaviours, the runtime the three layers;
//! - [`external`]: an agent's body or brain as an external process, over
//!   the agent protocol on the mesh;
//! - [`fleet`]: a node's agents: kinds, the factory, the local directory;
//! - [`missions`]: the cloud's planner;
//! - [`sandbox`]: untrusted agent code under Wasm limits;
//! - [`router`], [`journal`], [`ticker`], [`throttle`]: how actors reach each
//!   other, record to the ledger and keep (or, under CPU pressure, slow) their rates.

pub mod assignments;
pub mod board;
pub mod ctx;
pub mod domain;
pub mod external;
pub mod fencing;
pub mod fleet;
pub mod journal;
pub mod missions;
pub mod router;
pub mod sandbox;
pub mod throttle;
pub mod ticker;

pub use ctx::NodeCtx;
