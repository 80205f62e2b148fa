//! A recipe's run: which steps wait, run, ended, as a plain state machine.
//! The planner starts a mission for each step the run says is ready, tells
//! the run when that mission ends, and records and saves what the run
//! reports. Time is the node clock's wall time in µs, persisted with the
//! run, so a restarted cloud keeps each step's timeout.
//!
//! - A step is ready when every step it needs is done, or failed with
//!   `on_failure = "continue"`; ready steps start together (parallel branches).
//! - A failed attempt is retried while `retries` last; then `fail` fails the
//!   recipe (missions still running are abandoned), `skip` skips the step and
//!   every step that needs it, `continue` lets the steps that need it run.
//! - An attempt running longer than `timeout_s` fails ("timed out").

use serde::{Deserialize, Serialize};
use swarmd_messages::recipe::{OnFailure, RecipePlan, StepGoal};
use swarmd_messages::swarm::Goal;
use swarmd_messages::{MissionOutcome, StepChange};

use super::book::MissionState;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepState {
    Waiting,
    /// `mission` is `None` for a wait step.
    Running {
        mission: Option<u64>,
        since_us: u64,
    },
    Done,
    /// Failed for good (retries spent).
    Failed(String),
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRun {
    pub state: StepState,
    pub attempts: u32,
    /// Its failed attempts, the latest `MAX_HISTORY`.
    pub history: Vec<FailedAttempt>,
    /// Failed for good: in the dead-letter queue until replayed.
    pub dead_letter: bool,
}

/// Failed attempts a step keeps, at most (the oldest go first).
pub const MAX_HISTORY: usize = 16;

/// Why a skipped step was skipped when its recipe ended before it ran.
pub const RECIPE_ENDED: &str = "the recipe ended";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAttempt {
    pub attempt: u32,
    /// The mission that carried it out (none for a wait).
    pub mission: Option<u64>,
    pub reason: String,
    pub at_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipeRun {
    pub id: u64,
    pub trace_id: [u8; 16],
    pub squad: String,
    pub plan: RecipePlan,
    pub steps: Vec<StepRun>,
    pub state: MissionState,
}

/// What the planner must do and record after a change of the run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Step changes to record, in order.
    pub changes: Vec<(String, StepChange)>,
    /// Missions to start, by step index (then call [`RecipeRun::started`]).
    pub start: Vec<(usize, Goal)>,
    /// Sandboxed steps whose guest must plan the mission first (then
    /// `started`, or [`RecipeRun::start_failed`]).
    pub guest: Vec<usize>,
    /// Missions of steps that no longer matter, to be ended.
    pub abandon: Vec<u64>,
    /// The run ended with this.
    pub ended: Option<MissionOutcome>,
}

impl Outcome {
    /// Nothing to do, record or save.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.start.is_empty()
            && self.guest.is_empty()
            && self.abandon.is_empty()
            && self.ended.is_none()
    }

    /// Adds what came of `more`, after this.
    pub fn absorb(&mut self, more: Outcome) {
        self.changes.extend(more.changes);
        self.start.extend(more.start);
        self.guest.extend(more.guest);
        self.abandon.extend(more.abandon);
        self.ended = self.ended.take().or(more.ended);
    }
}

impl RecipeRun {
    pub fn new(id: u64, trace_id: [u8; 16], squad: String, plan: RecipePlan) -> Self {
        assert!(
            plan.violation().is_none(),
            "a recipe is checked before it runs"
        );
        let steps = plan
            .steps
            .iter()
            .map(|_| StepRun {
                state: StepState::Waiting,
                attempts: 0,
                history: Vec::new(),
                dead_letter: false,
            })
            .collect();
        Self {
            id,
            trace_id,
            squad,
            plan,
            steps,
            state: MissionState::Active,
        }
    }

    /// Starts what is ready, ends waits and attempts past their time, and
    /// skips what can no longer run.
    pub fn advance(&mut self, now_us: u64) -> Outcome {
        let mut out = Outcome::default();
        if self.state != MissionState::Active {
            return out;
        }
        for i in 0..self.steps.len() {
            self.expire(i, now_us, &mut out);
        }
        for i in 0..self.steps.len() {
            if self.steps[i].state != StepState::Waiting {
                continue;
            }
            let needs = self.plan.needs_of(i);
            if let Some(j) = needs.iter().find(|j| self.blocks(**j)) {
                let reason = format!("needs {:?}, which was skipped", self.plan.steps[*j].name);
                self.steps[i].state = StepState::Skipped(reason.clone());
                out.changes
                    .push((self.name(i), StepChange::Skipped { reason }));
                continue;
            }
            // A deliberately broken build, to show the simulator's checker catch it.
            let ready = cfg!(feature = "bug-recipe-ignores-needs")
                || needs.iter().all(|j| self.satisfies(*j));
            if ready {
                self.start(i, now_us, &mut out);
            }
        }
        self.settle(&mut out);
        out
    }

    /// The mission of step `step` is `mission`, started at `now_us`.
    pub fn started(&mut self, step: usize, mission: u64, now_us: u64) -> (String, StepChange) {
        let run = &mut self.steps[step];
        run.state = StepState::Running {
            mission: Some(mission),
            since_us: now_us,
        };
        let change = StepChange::Started {
            attempt: run.attempts,
            mission: Some(mission),
        };
        (self.name(step), change)
    }

    /// Mission `mission` ended with `outcome`; `None` if no step of this run
    /// waits for it.
    pub fn mission_ended(
        &mut self,
        mission: u64,
        outcome: &MissionOutcome,
        now_us: u64,
    ) -> Option<Outcome> {
        let step = self.steps.iter().position(
            |s| matches!(s.state, StepState::Running { mission: Some(m), .. } if m == mission),
        )?;
        let mut out = Outcome::default();
        match outcome {
            MissionOutcome::Completed => self.done(step, &mut out),
            MissionOutcome::Failed { reason } => {
                self.failed(step, reason.clone(), now_us, &mut out)
            }
        }
        out.absorb(self.advance(now_us));
        Some(out)
    }

    /// Step `step`'s attempt could not start (its guest failed to plan it):
    /// it failed, as a mission of it would have.
    pub fn start_failed(&mut self, step: usize, reason: String, now_us: u64) -> Outcome {
        let mut out = Outcome::default();
        self.failed(step, reason, now_us, &mut out);
        out.absorb(self.advance(now_us));
        out
    }

    /// Steps done, and steps in all.
    pub fn progress(&self) -> (usize, usize) {
        let done = self
            .steps
            .iter()
            .filter(|s| s.state == StepState::Done)
            .count();
        (done, self.steps.len())
    }

    pub(super) fn name(&self, step: usize) -> String {
        self.plan.steps[step].name.clone()
    }

    /// Whether a need in this state lets its dependents start.
    fn satisfies(&self, step: usize) -> bool {
        match &self.steps[step].state {
            StepState::Done => true,
            StepState::Failed(_) => self.plan.steps[step].on_failure == OnFailure::Continue,
            _ => false,
        }
    }

    /// Whether a need in this state means its dependents never run.
    fn blocks(&self, step: usize) -> bool {
        matches!(self.steps[step].state, StepState::Skipped(_))
    }

    fn start(&mut self, step: usize, now_us: u64, out: &mut Outcome) {
        self.steps[step].attempts += 1;
        match &self.plan.steps[step].goal {
            StepGoal::Mission(goal) => out.start.push((step, goal.clone())),
            StepGoal::Sandboxed { .. } => out.guest.push(step),
            StepGoal::Wait { .. } => {
                self.steps[step].state = StepState::Running {
                    mission: None,
                    since_us: now_us,
                };
                let attempt = self.steps[step].attempts;
                let change = StepChange::Started {
                    attempt,
                    mission: None,
                };
                out.changes.push((self.name(step), change));
            }
        }
    }

    /// A wait that has lasted, or an attempt past its timeout.
    fn expire(&mut self, step: usize, now_us: u64, out: &mut Outcome) {
        let StepState::Running { mission, since_us } = self.steps[step].state else {
            return;
        };
        let elapsed_s = now_us.saturating_sub(since_us) / 1_000_000;
        let plan = &self.plan.steps[step];
        if let StepGoal::Wait { seconds } = plan.goal
            && elapsed_s >= seconds
        {
            return self.done(step, out);
        }
        if plan.timeout_s > 0 && elapsed_s >= plan.timeout_s {
            out.abandon.extend(mission);
            let reason = format!("timed out after {} s", plan.timeout_s);
            self.failed(step, reason, now_us, out);
        }
    }

    fn done(&mut self, step: usize, out: &mut Outcome) {
        self.steps[step].state = StepState::Done;
        out.changes.push((self.name(step), StepChange::Done));
    }

    fn failed(&mut self, step: usize, reason: String, now_us: u64, out: &mut Outcome) {
        let plan = &self.plan.steps[step];
        let run = &mut self.steps[step];
        let mission = match run.state {
            StepState::Running { mission, .. } => mission,
            _ => None,
        };
        if run.history.len() == MAX_HISTORY {
            run.history.remove(0);
        }
        run.history.push(FailedAttempt {
            attempt: run.attempts,
            mission,
            reason: reason.clone(),
            at_us: now_us,
        });
        let retrying = run.attempts <= plan.retries;
        run.dead_letter = !retrying;
        let change = StepChange::Failed {
            reason: reason.clone(),
            retrying,
        };
        out.changes.push((self.name(step), change));
        if retrying {
            self.steps[step].state = StepState::Waiting;
            return;
        }
        let why = format!("after {} attempts: {reason}", self.steps[step].attempts);
        match plan.on_failure {
            OnFailure::Skip => {
                self.steps[step].state = StepState::Skipped(why.clone());
                let change = StepChange::Skipped { reason: why };
                out.changes.push((self.name(step), change));
            }
            OnFailure::Continue => self.steps[step].state = StepState::Failed(why),
            OnFailure::Fail => {
                let name = self.name(step);
                self.steps[step].state = StepState::Failed(why.clone());
                self.end(MissionState::Failed(format!("step {name}: {why}")), out);
            }
        }
    }

    /// Ends the run once no step waits or runs.
    fn settle(&mut self, out: &mut Outcome) {
        if self.state != MissionState::Active {
            return;
        }
        let busy = self
            .steps
            .iter()
            .any(|s| matches!(s.state, StepState::Waiting | StepState::Running { .. }));
        if !busy && out.start.is_empty() {
            self.end(MissionState::Completed, out);
        }
    }

    fn end(&mut self, state: MissionState, out: &mut Outcome) {
        for i in 0..self.steps.len() {
            match self.steps[i].state {
                StepState::Running { mission, .. } => {
                    out.abandon.extend(mission);
                    let reason = RECIPE_ENDED.to_string();
                    self.steps[i].state = StepState::Skipped(reason.clone());
                    out.changes
                        .push((self.name(i), StepChange::Skipped { reason }));
                }
                StepState::Waiting => {
                    let reason = RECIPE_ENDED.to_string();
                    self.steps[i].state = StepState::Skipped(reason.clone());
                    out.changes
                        .push((self.name(i), StepChange::Skipped { reason }));
                }
                _ => {}
            }
        }
        out.ended = state.outcome();
        self.state = state;
    }
}

#[cfg(test)]
#[path = "recipe_tests.rs"]
mod tests;
