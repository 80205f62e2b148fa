//! The swarm protocol: what agents, the world and the mission planner say to
//! each other. Each enum is what one kind of actor accepts through its
//! directory endpoint, so the same bytes work on one node or across nodes.

use serde::{Deserialize, Serialize};

/// The directory name of the world actor on the world host.
pub const WORLD_ACTOR: &str = "world";
/// The directory name of the mission planner on the cloud node.
pub const MISSIONS_ACTOR: &str = "missions";

/// One square of the grid. `y` grows southwards.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Cell {
    pub x: i32,
    pub y: i32,
}

impl Cell {
    pub const fn new(x: i32, y: i32) -> Self {
        Self { x, y }
    }

    /// North, east, south, west.
    pub fn neighbours(self) -> [Cell; 4] {
        let Cell { x, y } = self;
        [
            Cell::new(x, y - 1),
            Cell::new(x + 1, y),
            Cell::new(x, y + 1),
            Cell::new(x - 1, y),
        ]
    }

    /// Manhattan distance; saturates instead of overflowing for far-apart cells.
    pub fn distance(self, other: Cell) -> u32 {
        self.x
            .abs_diff(other.x)
            .saturating_add(self.y.abs_diff(other.y))
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({},{})", self.x, self.y)
    }
}

/// An inclusive rectangle of cells: a geofence or a sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    pub min: Cell,
    pub max: Cell,
}

impl Rect {
    pub fn contains(&self, c: Cell) -> bool {
        (self.min.x..=self.max.x).contains(&c.x) && (self.min.y..=self.max.y).contains(&c.y)
    }
}

/// An actor anywhere in the cluster: `name` in `node`'s directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Address {
    pub node: String,
    pub name: String,
}

/// What a grid world's floor looks like; `world.layout` in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Rows of shelves with seeded gaps between free aisles.
    #[default]
    Warehouse,
    /// Two open halls joined by a corridor one cell wide.
    Hallway,
}

/// The static part of a world, given to every agent that enters it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloorPlan {
    pub width: i32,
    pub height: i32,
    pub obstacles: Vec<Cell>,
    pub docks: Vec<Cell>,
}

impl FloorPlan {
    pub fn bounds(&self) -> Rect {
        Rect {
            min: Cell::new(0, 0),
            max: Cell::new(self.width - 1, self.height - 1),
        }
    }
}

/// What the world tells one agent in answer to each of its requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Perception {
    /// Echoes the request it answers, so the agent can drop stale answers.
    pub request: u64,
    pub position: Cell,
    /// Other agents within sensing range.
    pub agents_near: Vec<(String, Cell)>,
    /// Hazards within sensing range.
    pub hazards_near: Vec<Cell>,
    /// The move this answers was refused, and why.
    pub refused: Option<MoveRefused>,
    /// When the agent reached `position`, in µs on the world's clock.
    pub arrived_us: u64,
}

/// Why the world refused a move: each one a move the agent's reflex should
/// have avoided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum MoveRefused {
    #[error("not in the world")]
    NotInWorld,
    #[error("{to} is not next to {from}")]
    NotAdjacent { from: Cell, to: Cell },
    #[error("{0} is off the floor")]
    OffFloor(Cell),
    #[error("{0} is a shelf")]
    Shelf(Cell),
    #[error("{0} is a hazard")]
    Hazard(Cell),
    #[error("{cell} is taken by {by}")]
    Taken { cell: Cell, by: String },
}

/// What the world actor accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorldMsg {
    /// Place the agent (near `preferred` if free) and answer with `Welcome`.
    Enter {
        agent: Address,
        preferred: Option<Cell>,
    },
    Sense {
        agent: String,
        request: u64,
    },
    /// Move one cell north, east, south or west. Refused if the target is off
    /// the floor, an obstacle, a hazard or another agent's cell.
    Move {
        agent: String,
        request: u64,
        to: Cell,
    },
    Leave {
        agent: String,
    },
}

/// A unit of a mission given to one agent: visit the waypoints in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The mission's trace and the span of this assignment in it: the
    /// agent records what it does for the task in that trace.
    pub trace: crate::TraceContext,
    pub mission: u64,
    pub task: u32,
    /// What the mission is for, in words, for logs and the ledger.
    pub goal: String,
    pub waypoints: Vec<Cell>,
    /// A domain's task (`None` for the warehouse's own goals, which are
    /// the waypoints).
    pub work: Option<crate::task::TaskSpec>,
    /// Which attempt at the task this is (from 1). Reports name it, so a
    /// report repeated in later statuses never counts against a later attempt.
    pub attempt: u32,
    /// The fencing token of the cloud that assigned it (its lease's
    /// revision; 0 without `[cloud] ha`): an agent refuses an assignment
    /// older than the newest token its node has seen.
    pub token: u64,
}

/// Settings the cloud may change on a running agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigUpdate {
    /// Cells the agent may never leave; `None` lifts the fence.
    Geofence(Option<Rect>),
    /// The reflex moves at most once per this many ticks.
    MoveEveryTicks(u32),
}

/// What an agent accepts (routed to the layer that handles it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentMsg {
    Welcome {
        plan: FloorPlan,
        perception: Perception,
    },
    Perceived(Perception),
    Assign(Assignment),
    /// Stop moving until `Resume`: wins over every mission.
    EmergencyStop {
        reason: String,
    },
    Resume,
    Config(ConfigUpdate),
}

impl AgentMsg {
    /// `encode_payload(&AgentMsg::Welcome { plan, perception })` from the
    /// plan already encoded: a world welcomes every agent with the same plan,
    /// so it encodes the plan once. bincode writes the variant's index
    /// (`Welcome` is 0: one varint byte), then each field in order.
    pub fn welcome_bytes(
        encoded_plan: &[u8],
        perception: &Perception,
    ) -> Result<Vec<u8>, crate::CodecError> {
        let perception = crate::encode_payload(perception)?;
        let mut bytes = Vec::with_capacity(1 + encoded_plan.len() + perception.len());
        bytes.push(0);
        bytes.extend_from_slice(encoded_plan);
        bytes.extend_from_slice(&perception);
        Ok(bytes)
    }
}

/// How an agent reports itself to the mission planner, periodically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub agent: Address,
    pub tenant: String,
    pub squad: String,
    pub capabilities: Vec<String>,
    pub position: Option<Cell>,
    /// Tasks in hand or queued, as `(mission, task)`: the agent's load.
    pub tasks: Vec<(u64, u32)>,
    /// The latest finished tasks, repeated in every status so a lost report
    /// is made good by the next status.
    pub finished: Vec<TaskReport>,
    /// Held still by the dead-man's switch or an emergency stop.
    pub halted: bool,
    /// How a domain's agent is drawn (its domain's view, JSON of at most
    /// [`MAX_VIEW_BYTES`]); `None` for the warehouse's, drawn on the floor.
    pub view: Option<String>,
}

/// A status's view at most.
pub const MAX_VIEW_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskOutcome {
    /// Reached waypoint number `reached` (from 0).
    Progress {
        reached: u32,
    },
    Done,
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReport {
    pub agent: String,
    pub mission: u64,
    pub task: u32,
    /// The attempt the report is about, as given in the assignment.
    pub attempt: u32,
    pub outcome: TaskOutcome,
}

/// A goal the cloud splits into assignments. Non-parametrized: what, not how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Goal {
    /// Visit every cell of a grid of sample points in the sector.
    CoverSector { sector: Rect },
    /// Go to the item, then carry it to the dock. Needs `carry`.
    Fetch { item: Cell, dock: Cell },
    /// A domain's task: one task, or as many as the domain's splitter makes.
    Task(crate::task::TaskSpec),
    /// Visit the cells in order (a League of Robot Runners task: its
    /// errands). At most [`MAX_ERRANDS`].
    Errands { cells: Vec<Cell> },
}

/// A task of errands visits at most this many cells.
pub const MAX_ERRANDS: usize = 64;

/// A task stream for `missions.continuous`, in place of seeded fetches:
/// the tasks in order, `revealed` of them planned at once (as LoRR reveals
/// them), the next one as soon as one ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    pub tasks: Vec<Vec<Cell>>,
    pub revealed: usize,
}

/// What the mission planner accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissionMsg {
    Status(AgentStatus),
    Report(TaskReport),
    Submit { goal: Goal, squad: String },
}

/// Swarm agreement on the mesh (no cloud involved): an agent whose way is
/// blocked asks the idle peers standing on it to step off it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YieldRequest {
    /// The agent asking.
    pub from: String,
    /// The way the agent wants to take, its own cell first.
    pub cells: Vec<Cell>,
}

/// The mesh key yield requests of `tenant` travel on.
pub fn yield_key(tenant: &str) -> String {
    format!("swarmd/{tenant}/yield")
}

#[cfg(test)]
mod welcome_tests {
    use super::*;

    #[test]
    fn a_welcome_from_an_encoded_plan_is_the_welcome_encoded_whole() {
        let plan = FloorPlan {
            width: 300,
            height: 7,
            obstacles: (0..500).map(|i| Cell::new(i % 300, i / 300 - 1)).collect(),
            docks: vec![Cell::new(0, 6), Cell::new(-4, 200)],
        };
        let perception = Perception {
            request: 99,
            position: Cell::new(3, -2),
            agents_near: vec![("a".into(), Cell::new(4, -2))],
            hazards_near: vec![Cell::new(2, 2)],
            refused: None,
            arrived_us: 1 << 40,
        };
        let plan_bytes = crate::encode_payload(&plan).unwrap();
        let welcome = AgentMsg::Welcome { plan, perception };
        let whole = crate::encode_payload(&welcome).unwrap();
        let AgentMsg::Welcome { perception, .. } = &welcome else {
            unreachable!()
        };
        assert_eq!(
            AgentMsg::welcome_bytes(&plan_bytes, perception).unwrap(),
            whole
        );
        assert_eq!(crate::decode_payload::<AgentMsg>(&whole).unwrap(), welcome);
    }
}
