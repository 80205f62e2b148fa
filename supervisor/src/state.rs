//! A supervisor's children and the OTP rules that move them between running,
//! pending restart and terminated.

use std::ops::Range;
use std::time::Duration;

use ractor::{ActorCell, ActorId, ActorProcessingErr, ActorRef};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::api::SupervisorMsg;
use crate::child::{ChildInfo, ChildKind, ChildSpec, ChildStatus, Restart, Shutdown};
use crate::events::{ExitReason, SupervisorEvent};
use crate::intensity::RestartWindow;
use crate::seams::backoff_delay;
use crate::spec::{AutoShutdown, Strategy, SupervisorSpec};

/// A start function that has not returned by then counts as a failed start.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a killed child to be gone before moving on.
const KILL_WAIT: Duration = Duration::from_secs(5);

pub(crate) enum Status {
    Running(ActorCell),
    RestartPending,
    Terminated,
}

pub(crate) struct Child {
    pub(crate) spec: ChildSpec,
    pub(crate) status: Status,
    pub(crate) restarts: u32,
    pub(crate) last_failure: Option<String>,
}

/// What the actor does after a child's exit has been handled.
pub(crate) enum AfterExit {
    Continue,
    /// A significant child's exit triggered the auto-shutdown policy.
    ShutDown,
}

pub struct SupervisorState {
    pub(crate) spec: SupervisorSpec,
    /// In start order. ractor's own child map is unordered, so this is the truth.
    pub(crate) children: Vec<Child>,
    window: RestartWindow,
}

impl SupervisorState {
    pub(crate) fn new(mut spec: SupervisorSpec) -> Self {
        let children = std::mem::take(&mut spec.children)
            .into_iter()
            .map(|spec| Child {
                spec,
                status: Status::Terminated,
                restarts: 0,
                last_failure: None,
            })
            .collect();
        Self {
            spec,
            children,
            window: RestartWindow::default(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.spec.name
    }

    fn emit(&self, event: SupervisorEvent) {
        if let Some(events) = &self.spec.events {
            let _ = events.send(event);
        }
    }

    pub(crate) fn index(&self, id: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.id == id)
    }

    fn index_of_running(&self, who: ActorId) -> Option<usize> {
        self.children
            .iter()
            .position(|c| matches!(&c.status, Status::Running(cell) if cell.get_id() == who))
    }

    /// Starts every child in order; on a failure, stops those already started.
    pub(crate) async fn start_all(&mut self, me: &ActorRef<SupervisorMsg>) -> Result<(), String> {
        for idx in 0..self.children.len() {
            if let Err(reason) = self.start_at(me, idx).await {
                self.stop_range(0..idx).await;
                return Err(format!(
                    "child {} failed to start: {reason}",
                    self.children[idx].spec.id
                ));
            }
        }
        Ok(())
    }

    pub(crate) async fn start_at(
        &mut self,
        me: &ActorRef<SupervisorMsg>,
        idx: usize,
    ) -> Result<ActorCell, String> {
        let child = &mut self.children[idx];
        debug_assert!(
            !matches!(child.status, Status::Running(_)),
            "starting a running child"
        );
        let started = tokio::time::timeout(START_TIMEOUT, (child.spec.start)(me.get_cell())).await;
        let cell = match started {
            Ok(Ok(cell)) => cell,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("start did not finish within {START_TIMEOUT:?}")),
        };
        child.status = Status::Running(cell.clone());
        info!(supervisor = %self.spec.name, child = %child.spec.id, "child started");
        let event = SupervisorEvent::ChildStarted {
            supervisor: self.spec.name.clone(),
            child: child.spec.id.clone(),
        };
        self.emit(event);
        Ok(cell)
    }

    /// Stops child `idx` if it runs, as its shutdown spec says.
    pub(crate) async fn stop_at(&mut self, idx: usize) {
        let child = &mut self.children[idx];
        let Status::Running(cell) = std::mem::replace(&mut child.status, Status::Terminated) else {
            return;
        };
        info!(supervisor = %self.spec.name, child = %child.spec.id, "stopping child");
        stop_child(child.spec.shutdown, &cell).await;
        info!(supervisor = %self.spec.name, child = %child.spec.id, "child stopped");
        let event = SupervisorEvent::ChildExited {
            supervisor: self.spec.name.clone(),
            child: child.spec.id.clone(),
            reason: ExitReason::Shutdown,
        };
        self.emit(event);
    }

    /// Stops the running children in `range`, last started first.
    pub(crate) async fn stop_range(&mut self, range: Range<usize>) {
        for idx in range.rev() {
            self.stop_at(idx).await;
        }
    }

    pub(crate) async fn stop_all(&mut self) {
        self.stop_range(0..self.children.len()).await;
    }

    /// Applies the restart type, strategy and intensity to a child's exit.
    pub(crate) async fn on_exit(
        &mut self,
        me: &ActorRef<SupervisorMsg>,
        who: ActorId,
        reason: ExitReason,
    ) -> Result<AfterExit, ActorProcessingErr> {
        // Exits of incarnations this supervisor already replaced or stopped are stale.
        let Some(idx) = self.index_of_running(who) else {
            return Ok(AfterExit::Continue);
        };
        let child = &mut self.children[idx];
        child.status = Status::Terminated;
        match &reason {
            ExitReason::Failed(why) => child.last_failure = Some(why.clone()),
            ExitReason::Killed => child.last_failure = Some("killed".into()),
            ExitReason::Normal | ExitReason::Shutdown => {}
        }
        if reason.is_abnormal() {
            warn!(supervisor = %self.spec.name, child = %child.spec.id, ?reason, "child failed");
        } else {
            info!(supervisor = %self.spec.name, child = %child.spec.id, "child exited normally");
        }
        let (id, restart, significant) = (
            child.spec.id.clone(),
            child.spec.restart,
            child.spec.significant,
        );
        let abnormal = reason.is_abnormal();
        self.emit(SupervisorEvent::ChildExited {
            supervisor: self.spec.name.clone(),
            child: id.clone(),
            reason,
        });
        let restarts = match restart {
            Restart::Permanent => true,
            Restart::Transient => abnormal,
            Restart::Temporary => false,
        };
        if restarts {
            self.begin_restart(me, idx).await?;
            return Ok(AfterExit::Continue);
        }
        if restart == Restart::Temporary || self.spec.strategy == Strategy::SimpleOneForOne {
            self.children.remove(idx);
        }
        if significant && self.auto_shutdown_due() {
            info!(supervisor = %self.spec.name, child = %id, "significant child exited; shutting down");
            self.emit(SupervisorEvent::AutoShutdown {
                supervisor: self.spec.name.clone(),
                child: id,
            });
            return Ok(AfterExit::ShutDown);
        }
        Ok(AfterExit::Continue)
    }

    fn auto_shutdown_due(&self) -> bool {
        match self.spec.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|c| c.spec.significant && !matches!(c.status, Status::Terminated)),
        }
    }

    /// Stops the children the strategy ties to child `idx`, marks them for
    /// restart, and restarts them now or after the backoff.
    async fn begin_restart(
        &mut self,
        me: &ActorRef<SupervisorMsg>,
        idx: usize,
    ) -> Result<(), ActorProcessingErr> {
        self.admit_restart().await?;
        let affected = match self.spec.strategy {
            Strategy::OneForOne | Strategy::SimpleOneForOne => idx..idx + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => idx..self.children.len(),
        };
        self.stop_range(affected.clone()).await;
        let affected = self.drop_temporaries(affected);
        for child in &mut self.children[affected] {
            if matches!(child.status, Status::Terminated) {
                child.status = Status::RestartPending;
                child.restarts += 1;
            }
        }
        self.restart_now_or_later(me).await
    }

    /// Counts one restart; past the intensity, stops everything and fails.
    async fn admit_restart(&mut self) -> Result<(), ActorProcessingErr> {
        if self.window.admit(self.spec.intensity, Instant::now()) {
            return Ok(());
        }
        let reason = format!(
            "supervisor {} reached its restart intensity",
            self.spec.name
        );
        error!(supervisor = %self.spec.name, "restart intensity exceeded; escalating");
        self.stop_all().await;
        self.emit(SupervisorEvent::Escalated {
            supervisor: self.spec.name.clone(),
            reason: reason.clone(),
        });
        Err(reason.into())
    }

    async fn restart_now_or_later(
        &mut self,
        me: &ActorRef<SupervisorMsg>,
    ) -> Result<(), ActorProcessingErr> {
        if self.schedule_backoff(me) {
            return Ok(());
        }
        self.restart_pending(me).await
    }

    /// With a backoff configured, schedules the pending restarts and returns true.
    fn schedule_backoff(&self, me: &ActorRef<SupervisorMsg>) -> bool {
        let Some(b) = &self.spec.backoff else {
            return false;
        };
        let round = self.window.len().saturating_sub(1) as u32;
        let delay = backoff_delay(&*b.entropy, round, b.min, b.max);
        info!(supervisor = %self.spec.name, ?delay, "restart after backoff");
        me.send_after(delay, || SupervisorMsg::RestartDue);
        true
    }

    /// Starts every child marked for restart, in order. A failed start counts
    /// as another restart against the intensity, and the round is retried.
    pub(crate) async fn restart_pending(
        &mut self,
        me: &ActorRef<SupervisorMsg>,
    ) -> Result<(), ActorProcessingErr> {
        loop {
            match self.start_pending_round(me).await {
                Ok(()) => return Ok(()),
                Err((idx, reason)) => {
                    let child = &mut self.children[idx];
                    warn!(supervisor = %self.spec.name, child = %child.spec.id, %reason, "restart failed");
                    child.last_failure = Some(reason);
                    child.restarts += 1;
                    self.admit_restart().await?;
                    if self.schedule_backoff(me) {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn start_pending_round(
        &mut self,
        me: &ActorRef<SupervisorMsg>,
    ) -> Result<(), (usize, String)> {
        let pending: Vec<usize> = (0..self.children.len())
            .filter(|&i| matches!(self.children[i].status, Status::RestartPending))
            .collect();
        let mut started = Vec::new();
        for idx in pending {
            if let Err(reason) = self.start_at(me, idx).await {
                for &done in started.iter().rev() {
                    self.stop_at(done).await;
                    self.children[done].status = Status::RestartPending;
                }
                return Err((idx, reason));
            }
            started.push(idx);
        }
        for idx in started {
            let child = &self.children[idx];
            self.emit(SupervisorEvent::ChildRestarted {
                supervisor: self.spec.name.clone(),
                child: child.spec.id.clone(),
                restarts: child.restarts,
            });
        }
        Ok(())
    }

    /// Temporary children are not restarted: those in `range` leave the list.
    fn drop_temporaries(&mut self, range: Range<usize>) -> Range<usize> {
        let before = self.children.len();
        let mut pos = 0;
        self.children.retain(|c| {
            let keep = !range.contains(&pos) || c.spec.restart != Restart::Temporary;
            pos += 1;
            keep
        });
        range.start..range.end - (before - self.children.len())
    }

    pub(crate) fn info(child: &Child) -> ChildInfo {
        let (actor, status) = match &child.status {
            Status::Running(cell) => (Some(cell.get_id()), ChildStatus::Running),
            Status::RestartPending => (None, ChildStatus::RestartPending),
            Status::Terminated => (None, ChildStatus::Terminated),
        };
        ChildInfo {
            id: child.spec.id.clone(),
            actor,
            status,
            kind: child.spec.kind,
            restart: child.spec.restart,
            restarts: child.restarts,
            last_failure: child.last_failure.clone(),
        }
    }

    pub(crate) fn cell(child: &Child) -> Option<ActorCell> {
        match &child.status {
            Status::Running(cell) => Some(cell.clone()),
            _ => None,
        }
    }

    pub(crate) fn is_supervisor(child: &Child) -> bool {
        child.spec.kind == ChildKind::Supervisor
    }
}

async fn stop_child(shutdown: Shutdown, cell: &ActorCell) {
    match shutdown {
        Shutdown::BrutalKill => {
            let _ = cell.kill_and_wait(Some(KILL_WAIT)).await;
        }
        Shutdown::Timeout(limit) => {
            let stopped = cell
                .stop_and_wait(Some("shutdown".into()), Some(limit))
                .await;
            if matches!(stopped, Err(ractor::RactorErr::Timeout)) {
                warn!(actor = %cell.get_id(), ?limit, "child did not stop in time; killing it");
                let _ = cell.kill_and_wait(Some(KILL_WAIT)).await;
            }
        }
    }
}
