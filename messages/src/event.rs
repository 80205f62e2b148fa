//! The flight recorder's event: immutable once written, identified by the
//! node that recorded it and that node's sequence number.

use serde::{Deserialize, Serialize};

use crate::TraceContext;

/// `(node, seq)`: unique across the cluster, and the idempotency key at the hub.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId {
    pub node: String,
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub tenant: String,
    /// The agent the event is about, if any.
    pub agent: Option<String>,
    pub trace: TraceContext,
    /// Microseconds since the Unix epoch, from the node's clock (virtual in the simulator).
    pub time_us: u64,
    pub kind: EventKind,
}

/// What an event records. Hashes are of whatever the writer hashed; the ledger
/// does not interpret them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    Decision {
        rationale: String,
        alternatives: Vec<String>,
        confidence: f32,
        inputs_hash: u64,
    },
    StateChange {
        target: String,
        before_hash: u64,
        after_hash: u64,
        diff: String,
    },
    Message {
        from: String,
        to: String,
        summary: String,
    },
    Signal {
        status: String,
        detail: String,
    },
    Supervision {
        child: String,
        what: String,
        restarts: u32,
    },
    Membership {
        node: String,
        state: String,
    },
}

impl EventKind {
    /// The kind's name, as indexed and queried.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Decision { .. } => "decision",
            Self::StateChange { .. } => "state_change",
            Self::Message { .. } => "message",
            Self::Signal { .. } => "signal",
            Self::Supervision { .. } => "supervision",
            Self::Membership { .. } => "membership",
        }
    }

    pub const NAMES: [&'static str; 6] = [
        "decision",
        "state_change",
        "message",
        "signal",
        "supervision",
        "membership",
    ];
}

/// What a writer hands the ledger: everything but the id and time, which the
/// ledger assigns when the event is committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDraft {
    pub tenant: String,
    pub agent: Option<String>,
    pub trace: TraceContext,
    pub kind: EventKind,
}
