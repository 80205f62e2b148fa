//! The determinism seam (DESIGN §9). Production wires OS time and entropy,
//! sled, zenoh and TCP into a [`NodeCtx`]; the simulator wires seeded and
//! in-memory versions of the same traits. Actor code holds a `NodeCtx` and
//! nothing else that touches the outside world.

mod dial;
mod mesh;

use std::sync::Arc;

pub use dial::{Connection, Dialer, Stream};
pub use mesh::{MeshError, PubSub, Sample, SampleSink, Subscription};
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
