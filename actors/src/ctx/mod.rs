//! The determinism seam (DESIGN §9). Production wires OS time and entropy,
//! sled, zenoh and TCP into a [`NodeCtx`]; the simulator wires seeded and
//! in-memory versions of the same traits. Actor code holds a `NodeCtx` and
//! nothing else that touches the outside world.
//!
//! # The rule for time
//!
//! There is one door for each kind of time, and the simulator controls both:
//! - **Monotonic time and timers are tokio's**: `tokio::time::Instant::now`,
//!   `sleep`, `timeout`, `interval`, and ractor's `send_after`/`send_interval`
//!   (built on them). The simulator runs every node on a paused
//!   `current_thread` runtime, so these follow virtual time, auto-advanced
//!   when every task is idle. There is no monotonic clock in `NodeCtx`.
//! - **Wall-clock time is [`NodeCtx::clock`]**: `clock.wall_now()`, for the
//!   timestamps on records. It is the one time tokio cannot virtualize.
//!
//! clippy.toml bans `std::time::Instant`, `SystemTime::now` and
//! `std::thread::sleep` everywhere but the production seams.

mod dial;
mod mesh;

use std::sync::Arc;

pub use dial::{Connection, Dialer, Stream};
pub use mesh::{MeshError, MeshIdentity, MeshStats, PubSub, Sample, SampleSink, Subscription};
pub use swarmd_storage::ledger::{LedgerError, LedgerHandle};
pub use swarmd_storage::{Batch, Storage, StorageError};
pub use swarmd_supervisor::seams::{Clock, Entropy, backoff_delay};

/// Everything an actor of one node may use to touch the world.
#[derive(Clone)]
pub struct NodeCtx {
    /// This node's name, unique in its cluster.
    pub node: Arc<str>,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub storage: Arc<dyn Storage>,
    /// The flight recorder: every decision and state change goes here.
    pub ledger: LedgerHandle,
    pub mesh: Arc<dyn PubSub>,
    pub dialer: Arc<dyn Dialer>,
}
