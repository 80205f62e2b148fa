//! The flight recorder (DESIGN §7): an append-only, indexed event log per
//! node, with group commit, tenant-scoped queries, store-and-forward to the
//! cloud hub, replay from snapshots, retention and JSONL export.
//!
//! The node runs the writer, the forwarder (edge), the hub (cloud) and
//! retention. Replay ([`replay`], [`Snapshotter`]) and [`export_jsonl`] are
//! library-only for now: tests and embedders call them; the console's
//! `replay` and `swarmd ledger export` are where the node will offer them.

mod block;
mod events;
mod forward;
mod hub;
pub mod keys;
mod legacy;
mod legacy_v3;
mod query;
mod record;
mod replay;
mod retention;
mod writer;

pub use events::EventLookup;
pub use forward::{
    Forwarder, ForwarderArgs, ForwarderConfig, ForwarderMsg, Hub, HubError, forwarder_child,
    persisted_cursor,
};
pub use hub::LedgerHub;
pub use query::{LedgerReader, MAX_QUERY_LIMIT, Query, Selector};
pub use record::{decode_event, encode_event};
pub use replay::{Fold, Snapshotter, SnapshotterArgs, Upto, replay, write_snapshot};
pub use retention::{RetentionPolicy, RetentionReport, enforce_retention, export_jsonl};
pub use writer::{
    Ack, COMMIT_BUCKETS_US, LedgerHandle, LedgerWriter, Pending, WriterArgs, WriterConfig,
    WriterMsg, WriterStats, fresh_seq_base, ledger_writer, persisted_first_seq, persisted_next_seq,
};

use crate::StorageError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The writer had no room within the enqueue timeout. Retry later or shed load.
    #[error("the ledger writer is overloaded")]
    Overloaded,
    /// The writer is not running (stopping, or restarting after a failure).
    #[error("the ledger writer is not running")]
    Closed,
    #[error("event rejected: {0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
