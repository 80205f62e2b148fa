//! What the console (and, later, the HTTP API) asks a node's `control`
//! actor, and what it answers. JSON both ways: commands carry JSON that is
//! mapped onto actors' own message types, and results are printed as JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Hidden clients (consoles) name their cluster sessions with this prefix:
/// a gateway never treats such a session as a member.
pub use swarmd_cluster::transport::CONSOLE_PREFIX;

/// `events` returns at most this many (the ledger's own query limit).
pub const MAX_EVENTS: usize = swarmd_storage::ledger::MAX_QUERY_LIMIT;

/// Requests and replies larger than this are refused before parsing.
pub const MAX_CONTROL_BYTES: usize = 4 * 1024 * 1024;

/// The name a node's control actor runs under; consoles find its proxy by it.
pub fn control_name(node: &str) -> String {
    format!("swarmd.control.{node}")
}

/// `NODE` of a path `NODE/subtree/child...` (three segments or more).
fn path_node(path: &str) -> Option<&str> {
    let mut parts = path.split('/');
    let node = parts.next()?;
    (parts.count() >= 2).then_some(node)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlRequest {
    /// The tenant the session is bound to; `system` for the whole node. A
    /// cookie session may narrow itself to a tenant; a token's is its own.
    pub tenant: String,
    /// Who asks, for the audit record. From another process this is
    /// replaced by the proven session's name (see `control/credit.rs`).
    pub principal: String,
    /// The command as the operator typed it, for the audit record.
    pub line: String,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Nodes,
    Tree {
        node: Option<String>,
    },
    Agents {
        node: Option<String>,
    },
    Events(EventFilter),
    /// A JSON message mapped onto the addressed actor's message type.
    Send {
        path: String,
        message: Value,
    },
    /// `None`: every agent.
    Estop {
        agent: Option<String>,
    },
    Resume {
        agent: Option<String>,
    },
    Kill {
        path: String,
        reason: Option<String>,
    },
    Stats {
        node: Option<String>,
    },
    /// `{"cover": {"sector": ...}}`, `{"fetch": {"item": ..., "dock": ...}}`,
    /// `{"errands": {"cells": [...]}}` or `{"task": {"kind": ..., "payload": ...}}`.
    Mission {
        goal: Value,
    },
    Missions,
    /// The task board: partitions, leases, breakers, dead tasks, counts.
    Board,
    /// The dead-letter queue of recipe steps.
    Dlq(DlqCommand),
    /// A recipe (read and checked by the console or the API) for `squad`.
    Recipe {
        recipe: swarmd_messages::recipe::RecipePlan,
        squad: String,
        /// Where the recipe came from (its file), for errors.
        #[serde(default)]
        source: String,
    },
    /// The floor as the world host sees it: shelves, docks, hazards, and
    /// every agent with its node, tasks and waypoints.
    World,
    /// A spec as JSON (`id` required; the rest has defaults), on `node`,
    /// or with `place` on the member that can host it best (by adverts);
    /// `supervised`: a child of the cloud's remote supervisor, restarted,
    /// moved or reported lost by it (`[placement]`).
    Spawn {
        kind: String,
        spec: Value,
        node: Option<String>,
        #[serde(default)]
        place: bool,
        #[serde(default)]
        supervised: bool,
    },
    Stop {
        agent: String,
    },
    /// A request to an actor that answers, printed with its reply.
    Call {
        path: String,
        message: Value,
    },
    /// An agent's folded state and decisions up to a point.
    Replay {
        agent: String,
        at: Option<ReplayAt>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DlqCommand {
    List,
    /// `RUN/STEP`.
    Show {
        id: String,
    },
    /// One entry, or (`None`) every one.
    Replay {
        id: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayAt {
    Seq(u64),
    /// This long ago, by the node's clock (`--at 5m`).
    AgoMs(u64),
}

impl Command {
    /// Whether the command only reads.
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Command::Nodes
                | Command::Tree { .. }
                | Command::Agents { .. }
                | Command::Events(_)
                | Command::Stats { .. }
                | Command::Missions
                | Command::Board
                | Command::World
                | Command::Replay { .. }
                | Command::Dlq(DlqCommand::List | DlqCommand::Show { .. })
        )
    }

    /// Commands the cloud's planner answers: with `[cloud] ha`, a standby
    /// cloud forwards them to the leader.
    pub fn uses_planner(&self) -> bool {
        matches!(
            self,
            Command::Mission { .. }
                | Command::Missions
                | Command::Board
                | Command::Dlq(_)
                | Command::Recipe { .. }
        )
    }

    /// The node a command is about, when it names one: by `--node`-style
    /// argument, or as the first segment of a supervision path
    /// (`NODE/agents/AGENT/...`). The receiver forwards it if it is another.
    pub fn target_node(&self) -> Option<&str> {
        match self {
            Command::Tree { node }
            | Command::Agents { node }
            | Command::Stats { node }
            | Command::Spawn {
                node,
                supervised: false,
                ..
            } => node.as_deref(),
            Command::Kill { path, .. }
            | Command::Call { path, .. }
            | Command::Send { path, .. } => path_node(path),
            _ => None,
        }
    }
}

/// `events` filters; every one set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    pub tenant: Option<String>,
    pub node: Option<String>,
    pub agent: Option<String>,
    pub kind: Option<String>,
    /// 32 lower-case hex digits.
    pub trace: Option<String>,
    /// Events at or after this time (µs since the Unix epoch).
    pub since_us: Option<u64>,
    /// Events of the last this many ms, by the node's clock (`--since 5m`).
    pub within_ms: Option<u64>,
    /// With `node`: events from this seq on.
    pub since_seq: Option<u64>,
    /// The newest `limit` matches (the oldest from `since_*` on, when given).
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ControlError {
    /// The session's tenant, or the node's config, does not allow it.
    #[error("refused: {0}")]
    Refused(String),
    /// The command does not fit: an unknown path, JSON of the wrong shape.
    #[error("{0}")]
    BadRequest(String),
    #[error("failed: {0}")]
    Failed(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
}

pub type ControlReply = Result<Value, ControlError>;
