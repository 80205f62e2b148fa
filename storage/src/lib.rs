//! swarmd storage: every byte the node's actors put on disk goes through the
//! [`Storage`] seam. Production uses sled 0.34 ([`SledStorage`]); the simulator
//! brings an in-memory store with injected faults.
//!
//! Also here: the data-dir lock that keeps two nodes off one directory, and the
//! storage keeper actor that flushes on shutdown.

mod data_dir;
mod keeper;
pub mod ledger;
mod reapply;
mod seam;
mod sled_store;

pub use data_dir::{DataDir, DataDirError, refused_mode};
pub use keeper::{KeeperArgs, KeeperMsg, Shedding, StorageKeeper};
pub use reapply::{MAX_KEPT_BYTES, Reapplying};
pub use seam::{Batch, CommitError, Entry, Storage, StorageError};
pub use sled_store::SledStorage;
