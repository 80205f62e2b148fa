//! The swarmd node: its command line, its root supervision tree, the production
//! [`NodeCtx`](swarmd_actors::NodeCtx), the ractor_cluster transport and the
//! zenoh mesh adapter.

pub mod cli;
pub mod console;
pub mod control;
pub mod discovery;
pub mod gateway;
pub mod governance;
pub mod http;
pub mod jetstream;
mod logging;
pub mod mesh;
pub mod node;
pub mod telemetry;
pub mod transport;
