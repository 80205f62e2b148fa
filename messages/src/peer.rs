//! The horizontal plane (DESIGN §3): what agents tell each other over the
//! mesh, with no cloud involved. Each agent publishes its own state on its
//! own key; hazards go to every peer of the tenant.

use serde::{Deserialize, Serialize};

use crate::swarm::Cell;

/// The cells of its way ahead an agent announces, at most.
pub const MAX_INTENT_CELLS: usize = 8;

/// What an agent tells its peers about itself, at a bounded rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerState {
    pub agent: String,
    pub at: Cell,
    /// The next cells it means to take, nearest first (at most
    /// [`MAX_INTENT_CELLS`]); empty when it holds still.
    pub intent: Vec<Cell>,
    /// The task in hand, as `(mission, task)`.
    pub task: Option<(u64, u32)>,
    /// Tasks in hand or queued.
    pub load: u32,
    /// Busy (going somewhere) since this wall-clock time, in µs; `None`
    /// when idle. The longer busy wins right of way, so nobody starves.
    pub busy_since_us: Option<u64>,
    /// The peer this agent is making way for (right of way), if any.
    pub making_way_for: Option<String>,
    /// Its sender's clock when sent, in µs: a receiver keeps the newest.
    pub sent_us: u64,
}

/// A hazard one agent perceived, for peers that cannot see it yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardSeen {
    pub from: String,
    pub cell: Cell,
    /// Seen gone: peers stop avoiding it.
    pub cleared: bool,
}

/// The mesh key `agent` of `tenant` publishes its state on.
pub fn state_key(tenant: &str, agent: &str) -> String {
    format!("swarmd/{tenant}/state/{agent}")
}

/// Every agent's state key of `tenant`.
pub fn states_key(tenant: &str) -> String {
    format!("swarmd/{tenant}/state/*")
}

/// The mesh key hazards of `tenant` are shared on.
pub fn hazard_key(tenant: &str) -> String {
    format!("swarmd/{tenant}/hazard")
}

/// What a stigmergic mark on a cell says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagKind {
    /// An agent passed here.
    Explored,
    /// An agent saw a hazard here.
    Hazard,
    /// An agent was held up here: a refused step, a peer in the way.
    Congested,
}

impl TagKind {
    pub const ALL: [TagKind; 3] = [TagKind::Explored, TagKind::Hazard, TagKind::Congested];

    pub fn name(self) -> &'static str {
        match self {
            Self::Explored => "explored",
            Self::Hazard => "hazard",
            Self::Congested => "congested",
        }
    }
}

/// One agent's mark on a cell, for the tenant's peers: it reinforces the
/// tag there (or starts one); tags fade on their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagMark {
    pub from: String,
    pub cell: Cell,
    pub kind: TagKind,
}

/// The mesh key stigmergic marks of `tenant` go on.
pub fn tag_key(tenant: &str) -> String {
    format!("swarmd/{tenant}/tag")
}
