//! swarmd, a runtime for supervised, distributed multi-agent swarms: the
//! `swarmd` binary, and the library a program embedding a node depends on.
//! Everything an embedding program needs is here, so it never names the
//! internal crates:
//!
//! - [`run`] a node from a [`NodeConfig`] (what `swarmd` itself does), or
//!   [`Started::start`] one and keep its handles;
//! - [`config`]: the node's configuration, as `swarmd.toml` reads;
//! - `sim` (feature `sim`, for tests): the deterministic simulated cluster
//!   and its checkers. Never enable it in a production binary: the
//!   simulator's shims answer the process's clock and randomness from a seed.

pub use swarmd_config as config;
pub use swarmd_config::NodeConfig;
pub use swarmd_node::{StartError, Started, cli, run};
#[cfg(feature = "sim")]
pub use swarmd_sim as sim;
