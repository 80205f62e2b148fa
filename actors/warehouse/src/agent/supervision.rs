//! The Supervision layer: the agent's task queue, the planner (built in, or a
//! guest in the Wasm sandbox), re-planning on violations, and reports to the
//! mission planner. Its crash restarts only itself (`rest_for_one`); the
//! cloud sees the lost tasks missing from the next status and reassigns them.

use std::collections::VecDeque;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_messages::swarm::{AgentStatus, Assignment, Cell, MissionMsg, TaskOutcome, TaskReport};
use tokio::time::Instant;
use tracing::{Span, debug, info_span, warn};

use super::planning::{Intent, intent_for};
use super::{AgentWiring, SituationMsg, SupervisionMsg};
use swarmd_actors::assignments::{refuse_stale, task_of, to_cloud};
use swarmd_actors::sandbox::{GuestIntent, PlanInput, SandboxMsg};
use swarmd_actors::ticker::{Ticker, period_of};

/// Tasks waiting beyond the one in hand, at most; more are refused (reported failed).
pub const MAX_QUEUED_TASKS: usize = 64;
/// Finished tasks repeated in every status.
const FINISHED_KEPT: usize = 16;

/// What Supervision is doing, for tests and the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisionView {
    pub generation: u64,
    pub replans: u64,
    pub current: Option<(u64, u32)>,
    pub queued: usize,
    pub blocked: bool,
}

struct Task {
    assignment: Assignment,
    next_waypoint: usize,
    last_progress: Instant,
    last_problem: Option<String>,
    /// Open while the agent works the task; its logs are in it.
    span: Span,
}

#[derive(Clone)]
pub struct Supervision;

pub struct SupervisionState {
    w: AgentWiring,
    ticker: Ticker,
    queue: VecDeque<Assignment>,
    current: Option<Task>,
    finished: VecDeque<TaskReport>,
    generation: u64,
    replans: u64,
    blocked: bool,
    halted: bool,
    position: Option<Cell>,
}

impl Actor for Supervision {
    type Msg = SupervisionMsg;
    type State = SupervisionState;
    type Arguments = AgentWiring;

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisionMsg>,
        w: AgentWiring,
    ) -> Result<SupervisionState, ActorProcessingErr> {
        let ticker = Ticker::start_paced(
            period_of(w.settings.supervision_hz),
            myself.clone(),
            w.stats.supervision.clone(),
            SupervisionMsg::Tick,
            w.stats.throttle.pace(w.settings.priority),
        );
        let _ = myself.cast(SupervisionMsg::Tick(Instant::now()));
        Ok(SupervisionState {
            w,
            ticker,
            queue: VecDeque::new(),
            current: None,
            finished: VecDeque::new(),
            generation: 0,
            replans: 0,
            blocked: false,
            halted: false,
            position: None,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<SupervisionMsg>,
        msg: SupervisionMsg,
        state: &mut SupervisionState,
    ) -> Result<(), ActorProcessingErr> {
        // Boxed: an idle actor's task is as large as its biggest handler.
        Box::pin(state.handle(msg)).await
    }
}

impl SupervisionState {
    async fn handle(&mut self, msg: SupervisionMsg) -> Result<(), ActorProcessingErr> {
        let state = self;
        match msg {
            SupervisionMsg::Tick(due) => {
                state.ticker.handled(due, Instant::now());
                state.tick().await;
            }
            SupervisionMsg::Assign(a) => state.assign(*a).await,
            SupervisionMsg::Reached { generation, at } if generation == state.generation => {
                state.reached(at).await;
            }
            SupervisionMsg::Violation { generation, detail } if generation == state.generation => {
                state.violation(detail).await;
            }
            SupervisionMsg::Reached { .. } | SupervisionMsg::Violation { .. } => {}
            SupervisionMsg::Position(cell) => state.position = Some(cell),
            SupervisionMsg::Halted(halted) => state.halted = halted,
            SupervisionMsg::Inspect(reply) => {
                let _ = reply.send(state.view());
            }
        }
        Ok(())
    }
}

impl SupervisionState {
    async fn tick(&mut self) {
        let now = Instant::now();
        let timeout = self.w.settings.task_timeout;
        let stalled = self
            .current
            .as_ref()
            .filter(|t| now.saturating_duration_since(t.last_progress) > timeout)
            .map(|t| t.last_problem.clone());
        if let Some(problem) = stalled {
            let why = problem.unwrap_or_else(|| "no reason observed".into());
            self.finish(TaskOutcome::Failed {
                reason: format!("no progress for {timeout:?}; last problem: {why}"),
            })
            .await;
        }
        if self.current.is_none() && self.generation == 0 {
            self.plan().await;
        }
        self.report_status();
    }

    async fn assign(&mut self, a: Assignment) {
        let admitted = self.w.router.fence().admit(a.token);
        // The broken build: the token is seen, never checked.
        #[cfg(feature = "bug-no-token-check")]
        let admitted: Result<(), u64> = admitted.or(Ok(()));
        if let Err(newest) = admitted {
            return refuse_stale(&self.w.journal, self.w.name(), &a, newest).await;
        }
        let known = |t: &&mut Assignment| t.mission == a.mission && t.task == a.task;
        let held = self.current.as_mut().map(|t| &mut t.assignment);
        if let Some(t) = held.into_iter().chain(self.queue.iter_mut()).find(known) {
            // The planner lost sight of it and gave it again: the same work,
            // reported under the newer attempt.
            t.attempt = t.attempt.max(a.attempt);
            return;
        }
        if self.queue.len() >= MAX_QUEUED_TASKS {
            let reason = format!("queue full ({MAX_QUEUED_TASKS} tasks)");
            self.report(&a, TaskOutcome::Failed { reason });
            return;
        }
        let rationale = match a.token {
            0 => format!("accepted task {}/{}: {}", a.mission, a.task, a.goal),
            token => format!(
                "accepted task {}/{} (token {token}): {}",
                a.mission, a.task, a.goal
            ),
        };
        self.w
            .journal
            .decision_on(task_of(&a), rationale, vec![], 1.0)
            .await;
        self.queue.push_back(a);
        if self.current.is_none() {
            self.start_next().await;
        }
    }

    async fn start_next(&mut self) {
        let now = Instant::now();
        let agent = self.w.name();
        self.current = self.queue.pop_front().map(|assignment| Task {
            span: task_span(agent, &assignment),
            assignment,
            next_waypoint: 0,
            last_progress: now,
            last_problem: None,
        });
        let assigned_in = self.current.as_ref().map(|t| t.assignment.trace);
        self.w.journal.follow(assigned_in.unwrap_or_default());
        if let Some(a) = self.current.as_ref().map(|t| &t.assignment) {
            let rationale = format!(
                "started task {}/{} (attempt {})",
                a.mission, a.task, a.attempt
            );
            let about = task_of(a);
            self.w
                .journal
                .decision_on(about, rationale, vec![], 1.0)
                .await;
        }
        self.blocked = false;
        self.plan().await;
    }

    async fn reached(&mut self, at: Cell) {
        if self.blocked {
            self.blocked = false;
            return self.plan().await;
        }
        let Some(task) = self.current.as_mut() else {
            return;
        };
        if task.assignment.waypoints.get(task.next_waypoint) != Some(&at) {
            return;
        }
        let reached = task.next_waypoint as u32;
        task.next_waypoint += 1;
        task.last_progress = Instant::now();
        if task.next_waypoint == task.assignment.waypoints.len() {
            return self.finish(TaskOutcome::Done).await;
        }
        let a = task.assignment.clone();
        let rationale = format!(
            "task {}/{} reached waypoint {reached} at {at}",
            a.mission, a.task
        );
        self.w
            .journal
            .decision_on(task_of(&a), rationale, vec![], 1.0)
            .await;
        self.report(&a, TaskOutcome::Progress { reached });
        self.plan().await;
    }

    async fn violation(&mut self, detail: String) {
        self.replans += 1;
        self.blocked = true;
        if let Some(task) = self.current.as_mut() {
            task.last_problem = Some(detail.clone());
        }
        let rationale = format!("re-plan after a consistency violation: {detail}");
        self.w
            .journal
            .decision(rationale, vec!["keep the plan".into()], 0.8)
            .await;
        self.plan().await;
    }

    async fn finish(&mut self, outcome: TaskOutcome) {
        let Some(task) = self.current.take() else {
            return;
        };
        let a = &task.assignment;
        task.span
            .in_scope(|| debug!(agent = %self.w.name(), mission = a.mission, task = a.task, attempt = a.attempt, ?outcome, trace_id = %a.trace.trace_hex(), "task finished"));
        let rationale = format!("task {}/{} finished: {outcome:?}", a.mission, a.task);
        self.w
            .journal
            .decision_on(task_of(a), rationale, vec![], 1.0)
            .await;
        self.report(a, outcome);
        self.start_next().await;
    }

    /// Asks the planner for the next intent and hands it to Situation.
    async fn plan(&mut self) {
        let goal = self
            .current
            .as_ref()
            .and_then(|t| t.assignment.waypoints.get(t.next_waypoint).copied());
        let here = self.position.unwrap_or(Cell::new(-1, -1));
        let input = PlanInput {
            x: here.x,
            y: here.y,
            goal: goal.map(|g| (g.x, g.y)),
            blocked: self.blocked,
        };
        let answer = self.ask_planner(&input).await;
        let intent = intent_for(answer, goal);
        self.generation += 1;
        let rationale = format!("intent {intent:?} (plan {})", self.generation);
        let alternatives = vec![format!("{:?}", Intent::Hold)];
        self.w.journal.decision(rationale, alternatives, 0.9).await;
        let task = self
            .current
            .as_ref()
            .map(|t| (t.assignment.mission, t.assignment.task));
        let load = self.queue.len() + usize::from(self.current.is_some());
        self.w.to_situation(SituationMsg::Intent {
            generation: self.generation,
            intent,
            task,
            load: load.min(u32::MAX as usize) as u32,
        });
    }

    /// The sandboxed guest when there is one, else the built-in planner. A
    /// guest that fails is restarted by the agent's supervisor; meanwhile the
    /// built-in plan is used, and that is recorded.
    async fn ask_planner(&self, input: &PlanInput) -> GuestIntent {
        let Some(slot) = &self.w.sandbox else {
            return self.w.planner.plan(input);
        };
        let limit = self.w.settings.sandbox_limits.deadline * 2 + Duration::from_millis(100);
        let answer = match slot.get() {
            Some(sandbox) => sandbox_plan(&sandbox, *input, limit).await,
            None => Err("the sandbox is not running".into()),
        };
        answer.unwrap_or_else(|why| {
            warn!(agent = %self.w.name(), %why, "sandboxed planner failed; built-in plan used");
            self.w.planner.plan(input)
        })
    }

    fn report(&mut self, a: &Assignment, outcome: TaskOutcome) {
        let report = TaskReport {
            agent: self.w.name().to_string(),
            mission: a.mission,
            task: a.task,
            attempt: a.attempt,
            outcome,
        };
        if !matches!(report.outcome, TaskOutcome::Progress { .. }) {
            if self.finished.len() == FINISHED_KEPT {
                self.finished.pop_front();
            }
            self.finished.push_back(report.clone());
        }
        to_cloud(self.w.router.as_ref(), &MissionMsg::Report(report));
    }

    fn report_status(&self) {
        let spec = &self.w.spec;
        let tasks = self
            .current
            .iter()
            .map(|t| &t.assignment)
            .chain(&self.queue)
            .map(|a| (a.mission, a.task))
            .collect();
        let status = AgentStatus {
            agent: self.w.address.clone(),
            tenant: spec.tenant.clone(),
            squad: spec.squad.clone(),
            capabilities: spec.capabilities.clone(),
            position: self.position,
            tasks,
            finished: self.finished.iter().cloned().collect(),
            halted: self.halted,
            view: None,
        };
        to_cloud(self.w.router.as_ref(), &MissionMsg::Status(status));
    }

    fn view(&self) -> SupervisionView {
        SupervisionView {
            generation: self.generation,
            replans: self.replans,
            current: self
                .current
                .as_ref()
                .map(|t| (t.assignment.mission, t.assignment.task)),
            queued: self.queue.len(),
            blocked: self.blocked,
        }
    }
}

async fn sandbox_plan(
    sandbox: &ActorRef<SandboxMsg>,
    input: PlanInput,
    limit: Duration,
) -> Result<GuestIntent, String> {
    let asked = sandbox
        .call(
            |reply: RpcReplyPort<GuestIntent>| SandboxMsg::Plan(input, reply),
            Some(limit),
        )
        .await
        .map_err(|e| e.to_string())?;
    asked
        .success_or(())
        .map_err(|_| "no answer from the sandbox".to_string())
}

/// The span of working `a`, in its trace under its assignment's span.
fn task_span(agent: &str, a: &Assignment) -> Span {
    info_span!("task.work", agent, mission.id = a.mission, task = a.task, attempt = a.attempt, trace_id = %a.trace.trace_hex(), parent_span_id = %a.trace.span_hex())
}
