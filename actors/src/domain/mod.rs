//! The domain-neutral agent runtime (DESIGN §16). The runtime owns what every
//! three-layer agent needs: the `rest_for_one` subtree of reflex, situation
//! and supervision actors, each layer's tick schedule and the governor's
//! throttle of the slow ones, the emergency stop and the dead-man's switch,
//! the journal of decisions, refusals and violations (the domain's detail as
//! JSON), task claims and reports through the mission planner's board, the
//! peer board over the mesh, and restarts. A [`Domain`] supplies what is
//! particular: its types, each layer's behaviour and the body through which
//! perception and action reach the world.
//!
//! Layers are generic over the domain (static dispatch): a domain's hot path
//! (the reflex's safety check and the body's step) costs a direct call.
//!
//! Data flows down as intents and commands and up as percepts, summaries and
//! violations:
//!
//! ```text
//! supervision --Intent--> situation --Command--> reflex --Command--> body
//!      ^                      |   ^                 |
//!      +------Summary---------+   +----Percept------+
//! ```

mod kind;
mod peers;
mod reflex;
mod settings;
mod situation;
mod supervision;
mod wiring;

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use swarmd_messages::SpawnSpec;
use swarmd_messages::task::TaskSpec;

use crate::NodeCtx;
use crate::fleet::SpecError;

pub use kind::{DomainKind, DomainTasks};
pub use peers::{DomainPeers, PeerBoard};
pub use settings::DomainSettings;
pub use swarmd_messages::swarm::MAX_VIEW_BYTES;
pub use wiring::DomainStats;

/// What a domain's values must be: serde types (they cross nodes, the
/// ledger, the console and HTTP as JSON), cheap to clone, thread-safe.
pub trait Data: Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static {}
impl<T: Clone + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static> Data for T {}

/// What the planner decided for the task in hand.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<I> {
    /// Work towards the task by this intent.
    Go(I),
    /// The task is done.
    Done,
    /// The task cannot be done, and why.
    Failed(String),
}

/// A reflex safety rule refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The rule's name (`separation`, `battery`, `geofence`): what
    /// readers of the journal group refusals by.
    pub rule: String,
    pub why: String,
}

impl Refusal {
    pub fn new(rule: &str, why: impl Into<String>) -> Self {
        Self {
            rule: rule.to_string(),
            why: why.into(),
        }
    }
}

/// Where perception and action meet the world: a robot's driver, a
/// simulated airframe, a tool runner. It belongs to the agent, not to a
/// layer: it lives on while the reflex restarts, as a machine does.
pub trait Body<D: Domain + ?Sized>: Send + 'static {
    /// What the body senses now; `None` when it has nothing fresh to say
    /// (an external body gone silent): the reflex then halts the agent in
    /// the domain's safe state until the body speaks again.
    fn sense(&mut self) -> Option<D::Percept>;
    /// Carries `command` out for one reflex period.
    fn act(&mut self, command: &D::Command);
}

/// A kind of agent in a kind of world. See the module docs, and README's
/// "Writing a domain" for a worked example.
pub trait Domain: Send + Sync + 'static {
    /// What the body senses.
    type Percept: Data;
    /// What the reflex tells the body to do.
    type Command: Data + PartialEq;
    /// What supervision decides, for situation to carry out.
    type Intent: Data + PartialEq;
    /// A task's payload (a [`TaskSpec`]'s JSON).
    type Task: Data;
    /// What situation tells supervision about the world, to plan on.
    type Summary: Data;
    /// What an agent tells its peers over the mesh.
    type PeerState: Data;
    /// Situation's world model.
    type Model: Send + 'static;

    /// Agents of the domain are spawned as this kind (`spawn NAME {…}`).
    fn name(&self) -> &str;

    /// The task kinds the domain's agents take: each agent lists them among
    /// its capabilities, and the planner checks their payloads by `task`.
    fn task_kinds(&self) -> Vec<String>;

    /// A task's payload as the domain's task; `Err` says why not.
    fn task(&self, spec: &TaskSpec) -> Result<Self::Task, String> {
        serde_json::from_str(&spec.payload).map_err(|e| e.to_string())
    }

    /// One mission into tasks (the default: one task, the mission's own).
    /// Each task, as JSON, must parse by [`task`](Self::task) under the
    /// mission's kind: the planner checks it before it posts any.
    fn split(&self, spec: &TaskSpec, _workers: usize) -> Result<Vec<Self::Task>, String> {
        self.task(spec).map(|t| vec![t])
    }

    /// The task's work, for the board's shortest-first order.
    fn cost(&self, _task: &Self::Task) -> u32 {
        1
    }

    /// The agent's body, when it is spawned.
    fn body(&self, spec: &SpawnSpec, ctx: &NodeCtx) -> Result<Box<dyn Body<Self>>, SpecError>;

    // The reflex: fast, deterministic, the last word.

    /// What the body does when nothing else may: halted, stopped, or no
    /// fresh command within the dead-man's window.
    fn safe_command(&self, percept: Option<&Self::Percept>) -> Self::Command;

    /// The safety rules: `Err` refuses `command`, and the body gets the
    /// safe command instead. `peers` are the peers' latest states.
    fn check(
        &self,
        percept: &Self::Percept,
        peers: &[Self::PeerState],
        command: &Self::Command,
    ) -> Result<(), Refusal>;

    // Situation: the world model.

    /// A fresh world model for the agent of `spec`.
    fn model(&self, spec: &SpawnSpec) -> Self::Model;

    /// Folds a percept into the model; `Err` is a consistency violation
    /// (what was observed is not what the model expected).
    fn observe(&self, model: &mut Self::Model, percept: &Self::Percept) -> Result<(), String>;

    /// The command that carries `intent` out from what the model knows.
    fn command(
        &self,
        model: &Self::Model,
        intent: &Self::Intent,
        peers: &[Self::PeerState],
    ) -> Self::Command;

    /// What supervision plans on.
    fn summary(&self, model: &Self::Model) -> Self::Summary;

    /// What the agent's peers should know of it, if anything yet.
    fn peer_state(&self, model: &Self::Model) -> Option<Self::PeerState>;

    // Supervision: the planner.

    /// The next intent for `task` (or, idle, with none), given the summary.
    /// The task is the planner's to keep its progress in.
    fn plan(&self, summary: &Self::Summary, task: Option<&mut Self::Task>) -> Plan<Self::Intent>;

    /// How Mission Control draws the agent, if the domain draws its agents.
    fn view(
        &self,
        _summary: &Self::Summary,
        _intent: Option<&Self::Intent>,
        _halted: bool,
    ) -> Option<View> {
        None
    }

    /// Whether the agent asks for work (a drone charging does not). An
    /// agent not ready reports itself held, and the board gives it nothing.
    fn ready(&self, _summary: &Self::Summary) -> bool {
        true
    }
}

/// How Mission Control draws one agent of a domain: a mark at `at` in the
/// domain's `space` (one panel per domain), with a label and its state in
/// words. The page knows nothing else of the domain.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct View {
    pub domain: String,
    /// The space's south-west and north-east corners.
    pub space: [[f64; 2]; 2],
    pub at: [f64; 2],
    /// `circle`, `square` or `triangle`.
    pub shape: String,
    pub state: String,
    /// Where the agent is going, if it is.
    pub towards: Option<[f64; 2]>,
    /// A place of the agent's to draw (a dock, a pad), if it has one.
    pub home: Option<[f64; 2]>,
}

/// `value` as JSON text for the journal (a domain's types are serde).
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("\"unserializable: {e}\""))
}
