//! The vertical plane's protocol: what one node's gateway says to another's.
//!
//! Every ractor_cluster message between gateways is one encoded
//! `Envelope<WireFrame>`: a batch of [`WireMsg`]s from one node incarnation.
//! Batching is what lifts throughput above ractor_cluster's per-message cost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Event;
use crate::limits::{
    MAX_CAPABILITIES, MAX_ID_BYTES, MAX_NAME_BYTES, MAX_PARAM_BYTES, MAX_PARAMS, is_name,
};
pub use crate::member::{MemberInfo, Role};

/// A batch of messages from one node incarnation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFrame {
    pub from: String,
    /// Chosen at boot; a new incarnation means the node restarted.
    pub incarnation: u64,
    /// The ticket the receiver issued to `from` over `from`'s own session
    /// ([`WireMsg::Ticket`]), which proves the frame comes from `from`;
    /// [`NO_TICKET`] on frames that carry only the ticket handshake.
    pub ticket: Ticket,
    pub msgs: Vec<WireMsg>,
}

/// A random 128-bit secret a gateway gives one peer session; see
/// `cluster/src/gateway/tickets.rs` for the handshake.
pub type Ticket = u128;

/// The ticket of a handshake-only frame.
pub const NO_TICKET: Ticket = 0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WireMsg {
    /// First message on every new session, in both directions.
    Hello(MemberInfo),
    /// Every member the sender currently considers up, itself included.
    Members(Vec<MemberInfo>),
    /// Liveness only; any frame counts as a heartbeat.
    Heartbeat,
    /// A one-way message to a named actor in the receiver's directory. The
    /// payload is that actor's own bincode message.
    Cast {
        to: String,
        payload: Vec<u8>,
    },
    /// Many one-way messages to one actor, delivered in order.
    CastMany {
        to: String,
        payloads: Vec<Vec<u8>>,
    },
    Request {
        id: u64,
        body: Request,
    },
    Reply {
        id: u64,
        body: Reply,
    },
    /// A watched actor exited.
    Exited {
        watch: u64,
        actor: String,
        reason: String,
    },
    /// Handshake: "put this ticket on your frames to me". Sent unticketed;
    /// `ask` when the sender holds no ticket of the receiver's and needs one.
    Ticket {
        ticket: Ticket,
        ask: bool,
    },
    /// Handshake: "did you issue me this ticket?", to the ticket's claimed issuer.
    Confirm {
        ticket: Ticket,
        nonce: u128,
    },
    /// Handshake: the issuer's answer, sent to the node the ticket was issued to.
    Confirmed {
        ticket: Ticket,
        nonce: u128,
    },
    /// What the sender can host and how much more it can take; sent after
    /// `Hello` and with every gossip round.
    Advert(crate::advert::NodeAdvert),
}

impl WireMsg {
    /// Whether this message may travel in an unticketed frame.
    pub fn is_handshake(&self) -> bool {
        matches!(
            self,
            Self::Ticket { .. } | Self::Confirm { .. } | Self::Confirmed { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// Start a child of the receiver's `agents` supervisor.
    Spawn(SpawnSpec),
    /// Report the named actor's exit as `Exited { watch, .. }`.
    Watch {
        watch: u64,
        actor: String,
    },
    Unwatch {
        watch: u64,
    },
    /// Forwarded ledger events, to be stored at the receiving hub.
    Ledger(Vec<Event>),
    /// Round trip with a payload; for health checks and benchmarks.
    Echo(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// The name the child is registered under in the receiver's directory.
    Spawned(Result<String, SpawnRejected>),
    /// `Err` when no such actor runs; its exit is then reported right away.
    Watching(Result<(), WatchRefused>),
    /// `Ok` once every event of the batch is durable at the hub.
    LedgerStored(Result<(), LedgerRefused>),
    Echo(Vec<u8>),
    /// The receiver could not serve the request at all.
    Failed(String),
}

/// A serializable child spec: what to run, not how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnSpec {
    /// Unique on the receiving node; the child's directory name.
    pub id: String,
    /// Which registered agent kind to start.
    pub kind: String,
    pub tenant: String,
    /// The group the agent works in; missions are given to squads.
    pub squad: String,
    /// What the agent can do, e.g. `move`, `carry`; missions match on them.
    pub capabilities: Vec<String>,
    pub params: BTreeMap<String, String>,
}

impl SpawnSpec {
    /// A spec in the `default` squad, with no capabilities and no parameters.
    pub fn new(id: impl Into<String>, kind: impl Into<String>, tenant: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: kind.into(),
            tenant: tenant.into(),
            squad: "default".into(),
            capabilities: Vec::new(),
            params: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum WatchRefused {
    #[error("no actor named {0:?} on this node")]
    NoSuchActor(String),
    #[error("too many watches")]
    TooManyWatches,
}

/// Why a hub did not store a forwarded batch. Nothing of it was acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum LedgerRefused {
    #[error("this node is not a cloud hub")]
    NotAHub,
    #[error("{sender} may not forward events of {owner}")]
    NotItsEvents { sender: String, owner: String },
    #[error("the hub could not store the batch: {0}")]
    Storage(String),
    #[error("the hub holds a different event as {node}/{seq}")]
    Conflict { node: String, seq: u64 },
    #[error("event {seq} is out of bounds: {why}")]
    Invalid { seq: u64, why: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SpawnRejected {
    #[error("spec rejected: {0}")]
    Spec(String),
    #[error("limit reached: the node runs at most {0} agents")]
    LimitReached(usize),
    #[error(
        "memory budget reached: the node uses {rss_mb} MB of its {budget_mb} MB budget (resources.max_memory_mb)"
    )]
    OverBudget { rss_mb: u64, budget_mb: u64 },
    #[error("node {node:?} cannot host capability {capability:?} (it offers {offered:?})")]
    MissingCapability {
        node: String,
        capability: String,
        offered: Vec<String>,
    },
}

impl SpawnSpec {
    /// Refuses a spec whose names, lists or parameters are out of bounds.
    pub fn check_bounds(&self) -> Result<(), SpawnRejected> {
        let refuse = |why: String| Err(SpawnRejected::Spec(why));
        if !is_name(&self.id, MAX_ID_BYTES) {
            return refuse(format!("id must be 1..={MAX_ID_BYTES} of [A-Za-z0-9_.-]"));
        }
        for (what, name) in [
            ("kind", &self.kind),
            ("tenant", &self.tenant),
            ("squad", &self.squad),
        ] {
            if !is_name(name, MAX_NAME_BYTES) {
                return refuse(format!(
                    "{what} must be 1..={MAX_NAME_BYTES} of [A-Za-z0-9_.-]"
                ));
            }
        }
        if self.capabilities.len() > MAX_CAPABILITIES
            || !self.capabilities.iter().all(|c| is_name(c, MAX_NAME_BYTES))
        {
            return refuse(format!(
                "at most {MAX_CAPABILITIES} capabilities, each a name"
            ));
        }
        let bytes: usize = self.params.values().map(String::len).sum();
        if self.params.len() > MAX_PARAMS || bytes > MAX_PARAM_BYTES {
            return refuse(format!(
                "at most {MAX_PARAMS} parameters of {MAX_PARAM_BYTES} bytes in all"
            ));
        }
        if !self.params.keys().all(|k| is_name(k, MAX_NAME_BYTES)) {
            return refuse("parameter names must be names".into());
        }
        Ok(())
    }
}
