//! The mission book: missions split into tasks, tasks given to agents by
//! capability and load, and reconciled with what agents report. A plain state
//! machine; the planner actor persists it and does the messaging.

use serde::{Deserialize, Serialize};
use swarmd_messages::TraceContext;
use swarmd_messages::swarm::{AgentStatus, Assignment, Cell, FloorPlan, Goal, MAX_ERRANDS};
use swarmd_messages::task::TaskSpec;

use crate::fleet::TaskKinds;
use swarmd_messages::{MissionOutcome, TaskChange};
use tokio::time::Instant;

/// An assigned task missing from this many statuses in a row is lost.
const MISSING_STATUSES: u32 = 2;
/// A sector is covered by visiting a sample point every this many cells.
const COVER_STRIDE: i32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    Open,
    Assigned { agent: String, missing: u32 },
    Done,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: u32,
    pub waypoints: Vec<Cell>,
    /// A domain's task: its kind, and its payload as the domain split it.
    pub work: Option<TaskSpec>,
    /// Capabilities the agent must all have (beyond `move`).
    pub needs: Vec<String>,
    /// Its work, for the board's shortest-first order.
    pub cost: u32,
    pub state: TaskState,
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissionState {
    Active,
    Completed,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mission {
    pub id: u64,
    /// The W3C trace id every record of the mission carries, on every node.
    pub trace_id: [u8; 16],
    pub goal: Goal,
    pub squad: String,
    pub tasks: Vec<Task>,
    pub state: MissionState,
}

impl Mission {
    pub fn root_span(&self) -> TraceContext {
        super::trace::root_span(self.trace_id, self.id)
    }

    pub fn describe(&self) -> String {
        match &self.goal {
            Goal::CoverSector { sector } => format!("cover sector {}-{}", sector.min, sector.max),
            Goal::Fetch { item, dock } => format!("fetch the item at {item} to the dock at {dock}"),
            Goal::Errands { cells } => match cells.first() {
                Some(first) => format!("{} errands from {first}", cells.len()),
                None => "no errands".into(),
            },
            Goal::Task(spec) => {
                let payload: String = spec.payload.chars().take(80).collect();
                format!("{} {payload}", spec.kind)
            }
        }
    }

    /// Tasks not finished yet: open or assigned.
    pub fn open_tasks(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| matches!(t.state, TaskState::Open | TaskState::Assigned { .. }))
            .count()
    }

    fn settle(&mut self) -> bool {
        // A deliberately broken build, to show the simulator's checker catch it.
        if self.state != MissionState::Active || cfg!(feature = "bug-missions-never-end") {
            return false;
        }
        let failed: Vec<String> = self
            .tasks
            .iter()
            .filter_map(|t| match &t.state {
                TaskState::Failed(why) => Some(format!("task {}: {why}", t.id)),
                _ => None,
            })
            .collect();
        let open = self
            .tasks
            .iter()
            .any(|t| matches!(t.state, TaskState::Open | TaskState::Assigned { .. }));
        if open {
            return false;
        }
        self.state = if failed.is_empty() {
            MissionState::Completed
        } else {
            MissionState::Failed(failed.join("; "))
        };
        true
    }
}

impl MissionState {
    /// How the mission ended; `None` while active.
    pub fn outcome(&self) -> Option<MissionOutcome> {
        match self {
            Self::Active => None,
            Self::Completed => Some(MissionOutcome::Completed),
            Self::Failed(reason) => Some(MissionOutcome::Failed {
                reason: reason.clone(),
            }),
        }
    }
}

/// What changed between two versions of one mission, as recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Task { task: u32, change: TaskChange },
    Ended(MissionOutcome),
}

/// The changes from `before` to `after` (the same mission): tasks assigned,
/// released and ended, in task order, then the mission's end if it ended.
pub fn changes(before: &Mission, after: &Mission) -> Vec<Change> {
    debug_assert_eq!(before.id, after.id, "changes of one mission");
    let mut out = Vec::new();
    for (old, new) in before.tasks.iter().zip(&after.tasks) {
        let change = match (&old.state, &new.state) {
            (TaskState::Assigned { agent: a, .. }, TaskState::Assigned { agent: b, .. })
                if a == b =>
            {
                None
            }
            (_, TaskState::Assigned { agent, .. }) => Some(TaskChange::Assigned {
                agent: agent.clone(),
            }),
            (TaskState::Assigned { agent, .. }, TaskState::Open) => Some(TaskChange::Released {
                agent: agent.clone(),
            }),
            (TaskState::Done, TaskState::Done) => None,
            (_, TaskState::Done) => Some(TaskChange::Ended(MissionOutcome::Completed)),
            (TaskState::Failed(_), TaskState::Failed(_)) => None,
            (_, TaskState::Failed(reason)) => Some(TaskChange::Ended(MissionOutcome::Failed {
                reason: reason.clone(),
            })),
            _ => None,
        };
        out.extend(change.map(|change| Change::Task {
            task: new.id,
            change,
        }));
    }
    if before.state == MissionState::Active
        && let Some(outcome) = after.state.outcome()
    {
        out.push(Change::Ended(outcome));
    }
    out
}

/// An agent the planner has heard from.
#[derive(Debug, Clone)]
pub struct KnownAgent {
    pub status: AgentStatus,
    pub last_seen: Instant,
    /// Its latest status came after its latest claim was granted: it asks
    /// for work. A status is a claim; an agent gone after a grant asks no more.
    pub asking: bool,
}

/// Splits a goal into tasks. `plan`, when known, keeps waypoints off
/// shelves; a domain's task is checked and split by its kind in `kinds`
/// (`Err` says why it cannot be).
pub fn split(
    goal: &Goal,
    plan: Option<&FloorPlan>,
    workers: usize,
    kinds: &TaskKinds,
) -> Result<Vec<Task>, String> {
    let task = |id, waypoints: Vec<Cell>, needs: Option<&str>| Task {
        id,
        cost: u32::try_from(waypoints.len()).unwrap_or(u32::MAX),
        waypoints,
        work: None,
        needs: needs.into_iter().map(str::to_string).collect(),
        state: TaskState::Open,
        attempts: 0,
    };
    Ok(match goal {
        Goal::Fetch { item, dock } => vec![task(0, vec![*item, *dock], Some("carry"))],
        Goal::Errands { cells } => vec![task(0, errands(cells, plan)?, None)],
        Goal::CoverSector { sector } => {
            let points = sample_points(sector.min, sector.max, plan);
            let per_task = points.len().div_ceil(workers.clamp(1, 4)).max(1);
            points
                .chunks(per_task)
                .enumerate()
                .map(|(i, chunk)| task(i as u32, chunk.to_vec(), None))
                .collect()
        }
        Goal::Task(spec) => kinds
            .split(spec, workers)?
            .into_iter()
            .enumerate()
            .map(|(i, split)| Task {
                id: i as u32,
                waypoints: Vec::new(),
                work: Some(TaskSpec {
                    payload: split.payload,
                    ..spec.clone()
                }),
                needs: spec.needs(),
                cost: split.cost,
                state: TaskState::Open,
                attempts: 0,
            })
            .collect(),
    })
}

/// Errands as waypoints: at least one, at most `MAX_ERRANDS`, each on the
/// floor and off its shelves when the floor is known.
fn errands(cells: &[Cell], plan: Option<&FloorPlan>) -> Result<Vec<Cell>, String> {
    if cells.is_empty() || cells.len() > MAX_ERRANDS {
        let why = format!("{} errands: give 1 to {MAX_ERRANDS}", cells.len());
        return Err(why);
    }
    if let Some(plan) = plan {
        let bounds = plan.bounds();
        let off = |c: &&Cell| !bounds.contains(**c) || plan.obstacles.contains(c);
        if let Some(cell) = cells.iter().find(off) {
            return Err(format!(
                "the errand at {cell} is off the floor or on a shelf"
            ));
        }
    }
    Ok(cells.to_vec())
}

/// A sector side is cut to this many cells (a goal comes from the wire).
const MAX_SECTOR_SIDE: i32 = 1000;

/// Serpentine sample points of a sector, off shelves. The sector is first
/// cut to the floor, and to `MAX_SECTOR_SIDE` a side, so its cost is bounded.
fn sample_points(min: Cell, max: Cell, plan: Option<&FloorPlan>) -> Vec<Cell> {
    let (min, max) = match plan {
        Some(p) => {
            let b = p.bounds();
            let min = Cell::new(min.x.max(b.min.x), min.y.max(b.min.y));
            (min, Cell::new(max.x.min(b.max.x), max.y.min(b.max.y)))
        }
        None => (min, max),
    };
    let side = |lo: i32, hi: i32| hi.min(lo.saturating_add(MAX_SECTOR_SIDE - 1));
    let max = Cell::new(side(min.x, max.x), side(min.y, max.y));
    let free = |c: &Cell| plan.is_none_or(|p| p.bounds().contains(*c) && !p.obstacles.contains(c));
    let mut points = Vec::new();
    for (row, y) in (min.y..=max.y).step_by(COVER_STRIDE as usize).enumerate() {
        let mut xs: Vec<i32> = (min.x..=max.x).step_by(COVER_STRIDE as usize).collect();
        if row % 2 == 1 {
            xs.reverse();
        }
        points.extend(xs.into_iter().map(|x| Cell::new(x, y)).filter(free));
    }
    points
}

/// Checks the tasks assigned to `status.agent` against the tasks it says it
/// has; a task missing from consecutive statuses is opened again. Returns
/// the tasks opened.
pub fn reconcile(mission: &mut Mission, status: &AgentStatus) -> Vec<u32> {
    let mut opened = Vec::new();
    for task in &mut mission.tasks {
        let TaskState::Assigned { agent, missing } = &mut task.state else {
            continue;
        };
        if *agent != status.agent.name {
            continue;
        }
        if status.tasks.contains(&(mission.id, task.id)) {
            *missing = 0;
            continue;
        }
        *missing += 1;
        if *missing >= MISSING_STATUSES {
            task.state = TaskState::Open;
            opened.push(task.id);
        }
    }
    opened
}

/// Opens every task assigned to `agent` (it is gone).
pub fn release(mission: &mut Mission, agent: &str) -> bool {
    let mut changed = false;
    for task in &mut mission.tasks {
        if matches!(&task.state, TaskState::Assigned { agent: a, .. } if a == agent) {
            task.state = TaskState::Open;
            changed = true;
        }
    }
    changed
}

/// How a task's lease ended, as the board decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    Done,
    /// Open again for another claim.
    Reopened,
    Failed(String),
}

/// Gives task `task` to `agent` for lease `attempt`: the assignment to send,
/// or `None` when the mission no longer wants it (it ended, or the task did).
pub fn grant(mission: &mut Mission, task: u32, agent: &str, attempt: u32) -> Option<Assignment> {
    if mission.state != MissionState::Active {
        return None;
    }
    let description = mission.describe();
    let t = mission.tasks.iter_mut().find(|t| t.id == task)?;
    if matches!(t.state, TaskState::Done | TaskState::Failed(_)) {
        return None;
    }
    t.attempts = attempt;
    t.state = TaskState::Assigned {
        agent: agent.to_string(),
        missing: 0,
    };
    Some(Assignment {
        trace: super::trace::assignment_span(mission.trace_id, mission.id, task, attempt),
        mission: mission.id,
        task,
        goal: description,
        waypoints: t.waypoints.clone(),
        work: t.work.clone(),
        attempt,
        token: 0,
    })
}

/// Ends (or reopens) task `task` as the board decided; `true` if it changed.
pub fn finish(mission: &mut Mission, task: u32, how: Finish) -> bool {
    let Some(t) = mission.tasks.iter_mut().find(|t| t.id == task) else {
        return false;
    };
    if matches!(t.state, TaskState::Done | TaskState::Failed(_)) {
        return false;
    }
    let state = match how {
        Finish::Done => TaskState::Done,
        Finish::Reopened => TaskState::Open,
        Finish::Failed(why) => TaskState::Failed(why),
    };
    if t.state == state {
        return false;
    }
    t.state = state;
    mission.settle();
    true
}

/// The task's type on the board: what its circuit breaker counts.
pub fn task_kind(goal: &Goal) -> &str {
    match goal {
        Goal::CoverSector { .. } => "cover",
        Goal::Fetch { .. } => "fetch",
        Goal::Errands { .. } => "errands",
        Goal::Task(spec) => &spec.kind,
    }
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
