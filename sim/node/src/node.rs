//! One simulated node's seams: a [`NodeCtx`] wired to virtual time, seeded
//! entropy, in-memory storage and the simulated mesh, with the real ledger
//! writer on top. The node code that runs on it is the production code.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use swarmd_actors::NodeCtx;
use swarmd_actors::ctx::{Connection, Dialer};
use swarmd_storage::ledger::{WriterConfig, ledger_writer};
use swarmd_supervisor::ChildSpec;

use crate::{SeededEntropy, SimClock, SimMesh, SimStorage};

/// The longest fsync a simulated disk takes.
pub const MAX_FSYNC: Duration = Duration::from_millis(2);

/// A simulated node's seams, and handles to fault-inject them.
pub struct SimNode {
    pub ctx: NodeCtx,
    pub storage: Arc<SimStorage>,
    pub entropy: Arc<SeededEntropy>,
    /// The ledger writer: start it (under a supervisor) before anything appends.
    pub ledger_writer: ChildSpec,
}

impl SimNode {
    /// Node `name`, its randomness drawn from `seed`, its mesh view from `mesh`.
    pub fn new(name: &str, seed: u64, mesh: &Arc<SimMesh>) -> Self {
        let entropy = Arc::new(SeededEntropy::new(seed));
        let storage = Arc::new(SimStorage::new(entropy.clone(), MAX_FSYNC));
        let clock = Arc::new(SimClock::new());
        let (ledger, ledger_writer) =
            ledger_writer(storage.clone(), clock.clone(), WriterConfig::new(name));
        let ctx = NodeCtx {
            node: name.into(),
            clock,
            entropy: entropy.clone(),
            storage: storage.clone(),
            ledger,
            mesh: Arc::new(mesh.join(name)),
            dialer: Arc::new(NoNetwork),
        };
        Self {
            ctx,
            storage,
            entropy,
            ledger_writer,
        }
    }
}

/// Refuses every dial: a node on its own. SimNet replaces it for clusters.
struct NoNetwork;

impl Dialer for NoNetwork {
    fn dial(
        &self,
        host: &str,
        port: u16,
        _: Duration,
    ) -> BoxFuture<'static, io::Result<Connection>> {
        let why = format!("{host}:{port}: this simulated node has no network");
        Box::pin(async move { Err(io::Error::new(io::ErrorKind::ConnectionRefused, why)) })
    }
}
