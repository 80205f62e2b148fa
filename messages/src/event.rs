//! The flight recorder's event: immutable once written, identified by the
//! node that recorded it and that node's sequence number.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::TraceContext;
use crate::limits::{MAX_ID_BYTES, MAX_NAME_BYTES, is_name};
use crate::swarm::Cell;

/// `(node, seq)`: unique across the cluster, and the idempotency key at the hub.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId {
    pub node: String,
    pub seq: u64,
}

/// A task of a mission, as decisions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskRef {
    pub mission: u64,
    pub task: u32,
}

/// A seq's bits above this are its ledger's incarnation (a random base drawn
/// when the ledger was made), those below count its events.
pub const SEQ_INCARNATION_SHIFT: u32 = 40;

/// An event id as people read it: `node/incarnation:count`, both parts of
/// the seq apart (`swarmd/3f2a:1042` rather than a 19-digit number).
pub fn readable_event_id(node: &str, seq: u64) -> String {
    let incarnation = seq >> SEQ_INCARNATION_SHIFT;
    let count = seq & ((1 << SEQ_INCARNATION_SHIFT) - 1);
    format!("{node}/{incarnation:x}:{count}")
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&readable_event_id(&self.node, self.seq))
    }
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

/// What an event records. Hashes are of whatever the writer hashed (see
/// [`stable_hash`](crate::stable_hash)); the ledger does not interpret them.
///
/// What other parts of the system consume (the simulator's checkers, the
/// console, the dashboard) has a typed kind of its own: match on it, never on
/// a `rationale`, which is the human explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    /// A layer decided; `about` names the task it decided on, if any (read
    /// it, never the rationale, which is for people).
    Decision {
        rationale: String,
        alternatives: Vec<String>,
        confidence: f32,
        inputs_hash: u64,
        about: Option<TaskRef>,
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
    /// A supervisor acted on a child; `child` is `supervisor/child`, or the
    /// supervisor alone when it escalates.
    Supervision {
        child: String,
        what: SupervisionAction,
        restarts: u32,
    },
    Membership {
        node: String,
        state: MemberState,
    },
    /// The mission planner's view of one mission.
    Mission {
        mission: u64,
        change: MissionChange,
        rationale: String,
    },
    /// One task of a mission changed hands or ended.
    Task {
        mission: u64,
        task: u32,
        change: TaskChange,
        rationale: String,
    },
    /// An agent joined or left the swarm, as the planner sees it.
    Agent {
        agent: String,
        change: AgentChange,
    },
    /// An operator command and what came of it.
    Audit(AuditRecord),
    /// An agent's own report: it reached `to` (from `from`; `None` when it
    /// entered the floor) at `arrived_us`, on the world's clock.
    /// `unrecorded` counts the events its journal could not hand to the
    /// ledger before this one: a reader knows when reports are missing.
    Moved {
        from: Option<Cell>,
        to: Cell,
        arrived_us: u64,
        unrecorded: u64,
    },
    /// The world's floor changed under the agents, at `at_us` on its clock.
    Floor {
        at_us: u64,
        change: FloorChange,
    },
    /// The node's resource governor acted; `detail` gives the measures it
    /// acted on (RSS, CPU, the budgets).
    Governance {
        action: GovernanceAction,
        detail: String,
    },
    /// The task board decided: `policy` (`fifo`, `srpt`, `backpressure`,
    /// `rate_limit`, `circuit_breaker`, `lease`, `completion` (the agent
    /// whose `Done` closed the task's key), `idempotency`, `dead_letter`)
    /// took `decision` about `task` (`MISSION/TASK`) or `agent`.
    PolicyDecision {
        policy: String,
        task: Option<String>,
        agent: Option<String>,
        decision: String,
    },
    /// Where an agent the cloud supervises on another node runs, and every
    /// move of it (appended last: older events still decode).
    Placement {
        agent: String,
        change: PlacementChange,
    },
    /// The cloud tier's lease changed hands, or a decision of a deposed
    /// leader was refused (appended last: older events still decode).
    Leadership {
        change: LeadershipChange,
    },
    /// An agent of a domain (DESIGN §16) decided or observed something its
    /// domain's types describe: `detail` is the domain's own value as JSON
    /// (the intent, the refused command, the percept that broke the model).
    /// Appended last: older events still decode.
    Domain {
        domain: String,
        act: DomainAct,
        detail: String,
    },
}

/// What a domain's agent recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DomainAct {
    /// Supervision chose a new intent (`detail`: the intent).
    Intended,
    /// The reflex refused a command by the safety rule `rule`, and put the
    /// body in its safe state instead (`detail`: the refused command).
    Refused { rule: String, why: String },
    /// The situation found the world unlike its model (`detail`: the percept).
    Violation { why: String },
    /// The task's payload did not parse as the domain's task (`detail`: the payload).
    BadTask { why: String },
    /// A message from the agent's external body or brain on `channel` was
    /// refused (`detail`: its first bytes). Journaled once per reason.
    Rejected { channel: String, why: String },
    /// The external body or brain `from` was heard first, or again after a
    /// silence (`detail`: empty).
    Connected { channel: String, from: String },
    /// An external brain's decision, or its failure to give one in time
    /// (`detail`: the answer, bounded). Boxed: events stay small.
    Brain(Box<BrainAnswer>),
}

/// An external brain's answer to situation `seq`, as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrainAnswer {
    pub seq: u64,
    /// A hash of the situation the brain was asked about (its summary and
    /// task): a replay that asks about another has diverged from the run.
    pub situation: String,
    pub from: Option<String>,
    pub model: Option<String>,
    pub prompt_hash: Option<String>,
    /// From the question to the answer, as the runtime measured it.
    pub latency_us: u64,
    /// What the brain said it took (a model's own time, say).
    pub brain_ms: Option<u64>,
    /// `accepted`, `invalid: …`, or `missed the deadline …`; when not
    /// accepted, the domain's built-in planner decided instead.
    pub outcome: String,
}

/// Who plans for the cloud tier (DESIGN §18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeadershipChange {
    /// This cloud took the lease at `token`; `previous` led before, as far
    /// as it saw.
    Took {
        previous: Option<String>,
        token: u64,
    },
    /// This cloud lost the lease, or JetStream, and stopped planning.
    SteppedDown { token: u64, reason: String },
    /// An agent refused an assignment (`task`, `MISSION/TASK`) stamped with
    /// `token`, older than the `newest` its node had seen.
    StaleRefused {
        task: String,
        token: u64,
        newest: u64,
    },
}

/// One move of a cloud-supervised agent (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlacementChange {
    Started {
        node: String,
    },
    /// It exited (`reason` from its node) and will be restarted by policy.
    Exited {
        node: String,
        reason: String,
    },
    /// Its node went down; it waits out the grace before moving.
    NodeDown {
        node: String,
    },
    /// Started again elsewhere after its node stayed down past the grace;
    /// its tasks were released once.
    Moved {
        from: String,
        to: String,
    },
    /// Bound to a node that stayed down past the grace: reported lost, its
    /// tasks released; it starts there again when the node is back.
    Lost {
        node: String,
    },
    /// Stopped by its own node, cut off from its supervisor and from a
    /// majority of members, so that it never runs twice.
    Fenced {
        node: String,
    },
}

/// What a node's resource governor did (`[resources]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GovernanceAction {
    /// Over the memory budget: new agents are refused and background work
    /// (retention, export) is shed.
    MemoryOverBudget,
    /// Back under the memory budget: spawns accepted, background work resumed.
    MemoryRecovered,
    /// CPU pressure: the slow layers (Supervision, Situation) of agents of
    /// `priority` or lower run `factor` times slower. Reflexes never slow.
    Throttled { priority: String, factor: u32 },
    /// CPU pressure over: every layer at its own rate again.
    Released,
    /// A spawn was refused by the memory budget.
    SpawnRefused { agent: String },
}

/// What the world records of its floor besides the agents' own moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FloorChange {
    /// The world (re)started: the floor is empty.
    Opened,
    /// The agent left the floor (it stopped).
    Left { agent: String },
    /// The agent went silent and was taken off the floor.
    Expired { agent: String },
}

/// A node's state in the membership view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    Up,
    Suspect,
    Down,
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Up => "up",
            Self::Suspect => "suspect",
            Self::Down => "down",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupervisionAction {
    Started,
    Exited { reason: String },
    Restarted,
    Escalated { reason: String },
    AutoShutdown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissionChange {
    /// Planned for `squad`: `goal` (described) split into `tasks` tasks.
    Planned {
        goal: String,
        squad: String,
        tasks: u32,
    },
    Ended(MissionOutcome),
    /// A step of a recipe (the mission is the recipe's run) changed.
    Step {
        step: String,
        change: StepChange,
    },
}

/// What happened to one step of a recipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepChange {
    /// Attempt `attempt` started; `mission` carries it out (none for a wait).
    Started {
        attempt: u32,
        mission: Option<u64>,
    },
    Done,
    /// The attempt failed; `retrying` when another one follows.
    Failed {
        reason: String,
        retrying: bool,
    },
    /// Not run: a step it needs was skipped, or the recipe ended first.
    Skipped {
        reason: String,
    },
    /// Failed for good, it went to the dead-letter queue; an operator
    /// replayed it (`dlq replay`): it runs again with fresh attempts.
    Replayed,
}

/// How a mission or a task ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissionOutcome {
    Completed,
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskChange {
    Assigned {
        agent: String,
    },
    /// Taken back from `agent` (silent, or it lost the task), to be reassigned.
    Released {
        agent: String,
    },
    Ended(MissionOutcome),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentChange {
    Joined { node: String },
    Left { reason: String },
}

/// One operator command (console or HTTP), recorded after it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Who: the session, e.g. `console@127.0.0.1:51234`.
    pub principal: String,
    /// The command as given, e.g. `estop` or `kill swarmd/agents/a1/reflex`.
    pub command: String,
    pub outcome: AuditOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditOutcome {
    Done,
    /// Not authorized, or not allowed by config.
    Refused {
        reason: String,
    },
    Failed {
        reason: String,
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
            Self::Mission { .. } => "mission",
            Self::Task { .. } => "task",
            Self::Agent { .. } => "agent",
            Self::Audit(_) => "audit",
            Self::Moved { .. } => "moved",
            Self::Floor { .. } => "floor",
            Self::Governance { .. } => "governance",
            Self::PolicyDecision { .. } => "policy_decision",
            Self::Placement { .. } => "placement",
            Self::Leadership { .. } => "leadership",
            Self::Domain { .. } => "domain",
        }
    }

    pub const NAMES: [&'static str; 17] = [
        "decision",
        "state_change",
        "message",
        "signal",
        "supervision",
        "membership",
        "mission",
        "task",
        "agent",
        "audit",
        "moved",
        "floor",
        "governance",
        "policy_decision",
        "placement",
        "leadership",
        "domain",
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

impl Event {
    /// Why a forwarded event cannot be stored as it is, if so.
    pub fn bounds_violation(&self) -> Option<String> {
        if !is_name(&self.tenant, MAX_NAME_BYTES) {
            return Some(format!("tenant {:.80?} is not a name", self.tenant));
        }
        if !is_name(&self.id.node, MAX_NAME_BYTES) {
            return Some(format!("node {:.80?} is not a name", self.id.node));
        }
        match &self.agent {
            Some(agent) if agent.is_empty() || agent.len() > MAX_ID_BYTES => {
                Some(format!("agent {agent:.80?} is not an id"))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn an_event_id_reads_as_node_incarnation_and_count() {
        let seq = (0x3f2a << SEQ_INCARNATION_SHIFT) + 1042;
        let id = EventId {
            node: "swarmd".into(),
            seq,
        };
        assert_eq!(id.to_string(), "swarmd/3f2a:1042");
        assert_eq!(readable_event_id("n", 7), "n/0:7");
    }
}
