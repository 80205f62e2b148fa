//! An agent (DESIGN §4): a `rest_for_one` supervisor of three layer actors,
//! started in this order, plus an optional Wasm sandbox:
//!
//! - [`reflex`]: fast. Perceives and acts through the world adapter; enforces
//!   safety (collision stop, geofence, dead-man's switch). Nothing above it can
//!   stop it: a crash above restarts only what is above.
//! - [`situation`]: medium. The world model, consistency checks (expected
//!   against observed), intents into parametrized actions.
//! - [`supervision`]: slow. Tasks from missions, the planner, re-planning,
//!   reports to the cloud.
//!
//! Data flows down as intents and actions, and up as perceptions, arrivals
//! and violations. Every decision and state change goes to the ledger.

mod floor;
mod kind;
mod negotiation;
mod peer_states;
mod peers;
pub mod planning;
mod reflex;
mod right_of_way;
mod settings;
mod situation;
mod supervision;
pub mod tags;

use std::sync::Arc;

use swarmd_messages::SpawnSpec;
use swarmd_messages::swarm::{Address, Cell, ConfigUpdate, FloorPlan, Perception};
use swarmd_supervisor::ActorSlot;
use tokio::time::Instant;

use crate::world::WorldAdapter;
use floor::FloorCache;
pub use peers::{PeerCounts, PeerLink, PeerLinks};
use planning::{Intent, Planner};
use swarmd_actors::NodeCtx;
use swarmd_actors::journal::Journal;
use swarmd_actors::router::Router;
use swarmd_actors::sandbox::SandboxMsg;
use swarmd_actors::ticker::TickStats;

pub use kind::{GRID_AGENT_KIND, GridAgentKind, INTENSITY_PERIOD, MAX_RESTARTS};
pub use reflex::{Reflex, ReflexView};
pub use settings::AgentSettings;
pub use situation::Situation;
pub use supervision::{Supervision, SupervisionView};

/// A parametrized action: where the reflex should step next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// The intent generation it serves.
    pub generation: u64,
    /// `None`: hold position.
    pub step_to: Option<Cell>,
}

/// Layer messages keep their big payloads boxed: ractor boxes and moves every
/// message, and the agents bench measured casts of a 160-byte enum at half the
/// rate of a small one (the size of the largest variant is every message's).
pub enum ReflexMsg {
    Tick(Instant),
    Welcome(Box<(FloorPlan, Perception)>),
    Perceived(Box<Perception>),
    Act(Action),
    EmergencyStop(String),
    Resume,
    Config(ConfigUpdate),
    Inspect(ractor::RpcReplyPort<ReflexView>),
}

pub enum SituationMsg {
    Tick(Instant),
    Welcome(Box<(FloorPlan, Perception)>),
    Observed(Box<Perception>),
    Intent {
        generation: u64,
        intent: Intent,
        /// The task it serves, as `(mission, task)`, and the tasks in hand or queued.
        task: Option<(u64, u32)>,
        load: u32,
    },
    /// A peer, blocked, asks whoever stands on these cells to step aside.
    YieldAsked(swarmd_messages::swarm::YieldRequest),
}

pub enum SupervisionMsg {
    Tick(Instant),
    /// Boxed: assignments are rare, ticks are not (the message stays small).
    Assign(Box<swarmd_messages::swarm::Assignment>),
    Reached {
        generation: u64,
        at: Cell,
    },
    Violation {
        generation: u64,
        detail: String,
    },
    Position(Cell),
    Halted(bool),
    Inspect(ractor::RpcReplyPort<SupervisionView>),
}

impl ractor::Message for ReflexMsg {}
impl ractor::Message for SituationMsg {}
impl ractor::Message for SupervisionMsg {}

/// Tick lateness and counters of the layers of all agents of a kind on a
/// node (shared, so their cost does not grow with the agents).
#[derive(Clone, Default)]
pub struct AgentStats {
    pub reflex: Arc<TickStats>,
    pub situation: Arc<TickStats>,
    pub supervision: Arc<TickStats>,
    /// The node governor's throttle of slow layers, by priority.
    pub throttle: swarmd_actors::throttle::Throttle,
}

/// What one agent's layers share. Slots outlive restarts, so a layer always
/// reaches the current incarnation of its neighbours.
#[derive(Clone)]
pub struct AgentWiring {
    pub ctx: NodeCtx,
    pub router: Arc<dyn Router>,
    pub world: Arc<dyn WorldAdapter>,
    pub address: Address,
    pub spec: Arc<SpawnSpec>,
    pub settings: AgentSettings,
    pub journal: Journal,
    pub planner: Arc<dyn Planner>,
    /// The floor plan, built once for all agents of the kind.
    pub floors: FloorCache,
    pub reflex: ActorSlot<ReflexMsg>,
    pub situation: ActorSlot<SituationMsg>,
    pub supervision: ActorSlot<SupervisionMsg>,
    /// Present when the agent's planner runs in the Wasm sandbox.
    pub sandbox: Option<ActorSlot<SandboxMsg>>,
    pub stats: AgentStats,
    /// The horizontal plane of the node's agents, one link per tenant.
    pub peers: PeerLinks,
}

impl AgentWiring {
    pub fn name(&self) -> &str {
        &self.address.name
    }

    fn to_reflex(&self, msg: ReflexMsg) {
        if let Some(r) = self.reflex.get() {
            let _ = r.cast(msg);
        }
    }

    fn to_situation(&self, msg: SituationMsg) {
        if let Some(s) = self.situation.get() {
            let _ = s.cast(msg);
        }
    }

    fn to_supervision(&self, msg: SupervisionMsg) {
        if let Some(s) = self.supervision.get() {
            let _ = s.cast(msg);
        }
    }
}
// Layer messages stay small (see `ReflexMsg`): a big payload goes in a box.
const _: () = assert!(std::mem::size_of::<ReflexMsg>() <= 32);
const _: () = assert!(std::mem::size_of::<SituationMsg>() <= 64);
const _: () = assert!(std::mem::size_of::<SupervisionMsg>() <= 64);
