//! The generic Supervision layer: the agent's tasks (assignments of the
//! domain's task kinds, fenced by the cloud's token), the domain's planner
//! run on situation's summary, timeouts, and reports to the mission planner
//! (statuses are claims on the board; a finished task is repeated in every
//! status, so a lost report is made good by the next).

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_messages::swarm::{
    AgentStatus, Assignment, MAX_VIEW_BYTES, MissionMsg, TaskOutcome, TaskReport,
};
use swarmd_messages::{DomainAct, EventKind};
use tokio::time::Instant;

use super::wiring::{SituationMsg, SupervisionMsg, Wiring};
use super::{Domain, Plan, json};
use crate::assignments::{refuse_stale, task_of, to_cloud};
use crate::external::protocol::TaskView;
use crate::external::{Heard, RemoteBrain};
use crate::ticker::{Ticker, period_of};

/// Tasks waiting beyond the one in hand, at most; more are refused (reported failed).
pub const MAX_QUEUED_TASKS: usize = 64;
/// Finished tasks repeated in every status.
const FINISHED_KEPT: usize = 16;

struct Work<D: Domain> {
    assignment: Assignment,
    task: D::Task,
    started: Instant,
}

pub struct DomainSupervision<D>(PhantomData<fn() -> D>);

impl<D> Default for DomainSupervision<D> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<D> Clone for DomainSupervision<D> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

pub struct SupervisionState<D: Domain> {
    w: Wiring<D>,
    ticker: Ticker,
    queue: VecDeque<Work<D>>,
    current: Option<Work<D>>,
    finished: VecDeque<TaskReport>,
    summary: Option<D::Summary>,
    intent: Option<D::Intent>,
    last_violation: Option<String>,
    halted: bool,
    /// The external brain, when the agent has one (`brain = "remote"`).
    brain: Option<RemoteBrain>,
}

impl<D: Domain> Actor for DomainSupervision<D> {
    type Msg = SupervisionMsg<D>;
    type State = SupervisionState<D>;
    type Arguments = Wiring<D>;

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisionMsg<D>>,
        w: Wiring<D>,
    ) -> Result<SupervisionState<D>, ActorProcessingErr> {
        let ticker = Ticker::start_paced(
            period_of(w.settings.supervision_hz),
            myself,
            w.stats.supervision.clone(),
            SupervisionMsg::Tick,
            w.node.throttle.pace(w.settings.priority),
        );
        let brain = w.settings.remote_brain.then(|| {
            let slot = w.supervision.clone();
            let wake = Arc::new(move || {
                if let Some(s) = slot.get() {
                    let _ = s.cast(SupervisionMsg::Answered);
                }
            });
            RemoteBrain::start(w.link(), w.settings.brain_deadline, wake)
        });
        Ok(SupervisionState {
            brain,
            w,
            ticker,
            queue: VecDeque::new(),
            current: None,
            finished: VecDeque::new(),
            summary: None,
            intent: None,
            last_violation: None,
            halted: false,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<SupervisionMsg<D>>,
        msg: SupervisionMsg<D>,
        state: &mut SupervisionState<D>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisionMsg::Tick(due) => {
                state.ticker.handled(due, Instant::now());
                state.tick().await;
            }
            SupervisionMsg::Assign(a) => state.assign(*a).await,
            SupervisionMsg::Summary(s) => state.summary = Some(*s),
            SupervisionMsg::Violation(why) => {
                state.last_violation = Some(why);
                state.plan().await;
            }
            SupervisionMsg::Halted(halted) => state.halted = halted,
            SupervisionMsg::Answered => state.plan().await,
        }
        Ok(())
    }
}

/// The task in hand as an external brain sees it.
fn task_view<D: Domain>(w: &Work<D>) -> TaskView {
    let a = &w.assignment;
    TaskView {
        id: format!("{}/{}", a.mission, a.task),
        kind: a.work.as_ref().map(|s| s.kind.clone()).unwrap_or_default(),
        task: serde_json::to_value(&w.task).unwrap_or_default(),
    }
}

impl<D: Domain> SupervisionState<D> {
    async fn tick(&mut self) {
        if let Some(work) = &self.current {
            let limit = match work.assignment.work.as_ref().map(|w| w.timeout_ms) {
                Some(ms) if ms > 0 => Duration::from_millis(ms),
                _ => self.w.settings.task_timeout,
            };
            if work.started.elapsed() > limit {
                let last = self.last_violation.clone();
                let why = last.unwrap_or_else(|| "no violation observed".into());
                let reason = format!("not done within {limit:?}; last problem: {why}");
                self.finish(TaskOutcome::Failed { reason }).await;
            }
        }
        self.plan().await;
        self.report_status();
    }

    async fn assign(&mut self, a: Assignment) {
        if let Err(newest) = self.w.node.router.fence().admit(a.token) {
            return refuse_stale(&self.w.journal, self.w.name(), &a, newest).await;
        }
        let known =
            |w: &&mut Work<D>| w.assignment.mission == a.mission && w.assignment.task == a.task;
        let held = self.current.iter_mut().chain(self.queue.iter_mut());
        if let Some(w) = held.into_iter().find(known) {
            w.assignment.attempt = w.assignment.attempt.max(a.attempt);
            return;
        }
        let task = match self.parse(&a).await {
            Ok(task) => task,
            Err(reason) => return self.report(&a, TaskOutcome::Failed { reason }),
        };
        if self.queue.len() >= MAX_QUEUED_TASKS {
            let reason = format!("queue full ({MAX_QUEUED_TASKS} tasks)");
            return self.report(&a, TaskOutcome::Failed { reason });
        }
        let rationale = format!(
            "accepted task {}/{} (token {}): {}",
            a.mission, a.task, a.token, a.goal
        );
        self.w
            .journal
            .decision_on(task_of(&a), rationale, vec![], 1.0)
            .await;
        self.queue.push_back(Work {
            assignment: a,
            task,
            started: Instant::now(),
        });
        if self.current.is_none() {
            self.start_next().await;
        }
    }

    /// The assignment's task as the domain's, or why it is not one.
    async fn parse(&self, a: &Assignment) -> Result<D::Task, String> {
        let domain = &self.w.domain;
        let Some(spec) = &a.work else {
            return Err(format!("not a task of domain {:?}", domain.name()));
        };
        domain.task(spec).map_err(|why| {
            let detail = spec.payload.chars().take(512).collect();
            let act = DomainAct::BadTask { why: why.clone() };
            let domain = domain.name().to_string();
            self.w.journal.record_now(EventKind::Domain {
                domain,
                act,
                detail,
            });
            format!("{} payload: {why}", spec.kind)
        })
    }

    async fn start_next(&mut self) {
        self.current = self.queue.pop_front().map(|mut w| {
            w.started = Instant::now();
            w
        });
        self.last_violation = None;
        let trace = self.current.as_ref().map(|w| w.assignment.trace);
        self.w.journal.follow(trace.unwrap_or_default());
        if let Some(a) = self.current.as_ref().map(|w| &w.assignment) {
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
        self.plan().await;
    }

    /// Runs the domain's planner (or asks the external brain, the planner
    /// standing in when it fails) on what situation knows.
    async fn plan(&mut self) {
        let Some(summary) = &self.summary else {
            return;
        };
        let heard = match &mut self.brain {
            None => Heard::Fallback,
            Some(brain) => {
                let task = self.current.as_ref().map(task_view);
                let trace = self
                    .current
                    .as_ref()
                    .map(|w| w.assignment.trace.traceparent());
                brain.hear(&*self.w.domain, summary, task, trace)
            }
        };
        let plan = match heard {
            Heard::Decided(plan) => plan,
            Heard::Waiting => return,
            Heard::Fallback => {
                let task = self.current.as_mut().map(|w| &mut w.task);
                self.w.domain.plan(summary, task)
            }
        };
        match plan {
            Plan::Go(intent) => self.intend(intent).await,
            Plan::Done => self.finish(TaskOutcome::Done).await,
            Plan::Failed(reason) => self.finish(TaskOutcome::Failed { reason }).await,
        }
    }

    async fn intend(&mut self, intent: D::Intent) {
        if self.intent.as_ref() == Some(&intent) {
            return;
        }
        let kind = EventKind::Domain {
            domain: self.w.domain.name().to_string(),
            act: DomainAct::Intended,
            detail: json(&intent),
        };
        self.w.journal.record(kind).await;
        self.intent = Some(intent.clone());
        self.w.to_situation(SituationMsg::Intent(Box::new(intent)));
    }

    async fn finish(&mut self, outcome: TaskOutcome) {
        let Some(work) = self.current.take() else {
            return;
        };
        let a = &work.assignment;
        let rationale = format!("task {}/{} finished: {outcome:?}", a.mission, a.task);
        self.w
            .journal
            .decision_on(task_of(a), rationale, vec![], 1.0)
            .await;
        self.report(a, outcome);
        // Boxed: `finish` and `plan` call each other.
        Box::pin(self.start_next()).await;
    }

    fn report(&mut self, a: &Assignment, outcome: TaskOutcome) {
        let report = TaskReport {
            agent: self.w.name().to_string(),
            mission: a.mission,
            task: a.task,
            attempt: a.attempt,
            outcome,
        };
        if self.finished.len() == FINISHED_KEPT {
            self.finished.pop_front();
        }
        self.finished.push_back(report.clone());
        to_cloud(self.w.node.router.as_ref(), &MissionMsg::Report(report));
    }

    fn report_status(&self) {
        let spec = &self.w.spec;
        let mut capabilities = spec.capabilities.clone();
        for kind in self.w.domain.task_kinds() {
            if !capabilities.contains(&kind) {
                capabilities.push(kind);
            }
        }
        let tasks = self
            .current
            .iter()
            .chain(&self.queue)
            .map(|w| (w.assignment.mission, w.assignment.task))
            .collect();
        let status = AgentStatus {
            agent: self.w.address.clone(),
            tenant: spec.tenant.clone(),
            squad: spec.squad.clone(),
            capabilities,
            position: None,
            tasks,
            finished: self.finished.iter().cloned().collect(),
            halted: self.halted || !self.summary.as_ref().is_none_or(|s| self.w.domain.ready(s)),
            view: self.view(),
        };
        to_cloud(self.w.node.router.as_ref(), &MissionMsg::Status(status));
    }

    /// The domain's view of the agent as JSON, unless it is too big to carry.
    fn view(&self) -> Option<String> {
        let summary = self.summary.as_ref()?;
        let view = self
            .w
            .domain
            .view(summary, self.intent.as_ref(), self.halted)?;
        let json = json(&view);
        (json.len() <= MAX_VIEW_BYTES).then_some(json)
    }
}
