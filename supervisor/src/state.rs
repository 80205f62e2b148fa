//! A supervisor's children and the OTP rules that move them between running,
//! pending restart and terminated.

use std::time::Duration;

use ractor::{ActorCell, ActorId, ActorProcessingErr, ActorRef};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::api::SupervisorMsg;
use crate::child::{ChildInfo, ChildKind, ChildStatus, Restart, Shutdown};
pub(crate) use crate::children::{Child, Children, Key, Status};
use crate::events::{ExitReason, SupervisorEvent};
use crate::intensity::RestartWindow;
use crate::seams::backoff_delay;
use crate::spec::{AutoShutdown, Strategy, SupervisorSpec};

/// A start function that has not returned by then counts as a failed start.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a killed child to be gone before moving on.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// What the actor does after a child's exit has been handled.
pub(crate) enum AfterExit {
    Continue,
    /// A significant child's exit triggered the auto-shutdown policy.
    ShutDown,
}

pub struct SupervisorState {
    pub(crate) spec: SupervisorSpec,
    /// In start order. ractor's own child map is unordered, so this is the truth.
    pub(crate) children: Children,
    window: RestartWindow,
}

impl SupervisorState {
    pub(crate) fn new(mut spec: SupervisorSpec) -> Self {
        let mut children = Children::default();
        for child in std::mem::take(&mut spec.children) {
            children.push(child);
        }
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

    pub(crate) fn key_of(&self, id: &str) -> Option<Key> {
        self.children.key_of(id)
    }

    fn child(&self, key: Key) -> &Child {
        self.children.get(key).expect("a child of this supervisor")
    }

    fn child_mut(&mut self, key: Key) -> &mut Child {
        self.children
            .get_mut(key)
            .expect("a child of this supervisor")
    }

    /// Starts every child in order; on a failure, stops those already started.
    pub(crate) async fn start_all(&mut self, me: &ActorRef<SupervisorMsg>) -> Result<(), String> {
        let keys = self.children.keys();
        for (i, key) in keys.iter().enumerate() {
            if let Err(reason) = self.start_at(me, *key).await {
                self.stop_keys(&keys[..i]).await;
                let id = &self.child(*key).spec.id;
                return Err(format!("child {id} failed to start: {reason}"));
            }
        }
        Ok(())
    }

    pub(crate) async fn start_at(
        &mut self,
        me: &ActorRef<SupervisorMsg>,
        key: Key,
    ) -> Result<ActorCell, String> {
        let child = self.child(key);
        debug_assert!(child.cell().is_none(), "starting a running child");
        let start = (child.spec.start)(me.get_cell());
        let started = tokio::time::timeout(START_TIMEOUT, start).await;
        let cell = match started {
            Ok(Ok(cell)) => cell,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("start did not finish within {START_TIMEOUT:?}")),
        };
        self.children.set_status(key, Status::Running(cell.clone()));
        let child = self.child(key);
        debug!(supervisor = %self.spec.name, child = %child.spec.id, "child started");
        let event = SupervisorEvent::ChildStarted {
            supervisor: self.spec.name.clone(),
            child: child.spec.id.clone(),
        };
        self.emit(event);
        Ok(cell)
    }

    /// Stops child `key` if it runs, as its shutdown spec says.
    pub(crate) async fn stop_at(&mut self, key: Key) {
        let Some(cell) = self.child(key).cell().cloned() else {
            return;
        };
        self.children.set_status(key, Status::Terminated);
        let child = self.child(key);
        info!(supervisor = %self.spec.name, child = %child.spec.id, "stopping child");
        stop_child(child.spec.shutdown, &cell).await;
        debug!(supervisor = %self.spec.name, child = %child.spec.id, "child stopped");
        let event = SupervisorEvent::ChildExited {
            supervisor: self.spec.name.clone(),
            child: child.spec.id.clone(),
            reason: ExitReason::Shutdown,
        };
        self.emit(event);
    }

    /// Stops the running children of `keys` (in start order), last started first.
    pub(crate) async fn stop_keys(&mut self, keys: &[Key]) {
        for key in keys.iter().rev() {
            self.stop_at(*key).await;
        }
    }

    pub(crate) async fn stop_all(&mut self) {
        let keys = self.children.keys();
        self.stop_keys(&keys).await;
    }

    /// Applies the restart type, strategy and intensity to a child's exit.
    pub(crate) async fn on_exit(
        &mut self,
        me: &ActorRef<SupervisorMsg>,
        who: ActorId,
        reason: ExitReason,
    ) -> Result<AfterExit, ActorProcessingErr> {
        // Exits of incarnations this supervisor already replaced or stopped are stale.
        let Some(key) = self.children.key_of_running(who) else {
            return Ok(AfterExit::Continue);
        };
        self.children.set_status(key, Status::Terminated);
        let child = self.children.get_mut(key).expect("a running child");
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
            self.begin_restart(me, key).await?;
            return Ok(AfterExit::Continue);
        }
        if restart == Restart::Temporary || self.spec.strategy == Strategy::SimpleOneForOne {
            self.children.remove(key);
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
                .any(|c| c.spec.significant && !matches!(c.status(), Status::Terminated)),
        }
    }

    /// Stops the children the strategy ties to child `key`, marks them for
    /// restart, and restarts them now or after the backoff.
    async fn begin_restart(
        &mut self,
        me: &ActorRef<SupervisorMsg>,
        key: Key,
    ) -> Result<(), ActorProcessingErr> {
        self.admit_restart().await?;
        let affected = match self.spec.strategy {
            Strategy::OneForOne | Strategy::SimpleOneForOne => vec![key],
            Strategy::OneForAll => self.children.keys(),
            Strategy::RestForOne => self.children.keys_from(key),
        };
        self.stop_keys(&affected).await;
        for key in affected {
            // Temporary children are not restarted: they leave the list.
            if self.child(key).spec.restart == Restart::Temporary {
                self.children.remove(key);
            } else if matches!(self.child(key).status(), Status::Terminated) {
                self.children.set_status(key, Status::RestartPending);
                self.child_mut(key).restarts += 1;
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
                Err((key, reason)) => {
                    let child = self.children.get_mut(key).expect("a pending child");
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
    ) -> Result<(), (Key, String)> {
        let mut started = Vec::new();
        for key in self.children.pending() {
            if let Err(reason) = self.start_at(me, key).await {
                for &done in started.iter().rev() {
                    self.stop_at(done).await;
                    self.children.set_status(done, Status::RestartPending);
                }
                return Err((key, reason));
            }
            started.push(key);
        }
        for key in started {
            let child = self.child(key);
            self.emit(SupervisorEvent::ChildRestarted {
                supervisor: self.spec.name.clone(),
                child: child.spec.id.clone(),
                restarts: child.restarts,
            });
        }
        Ok(())
    }

    pub(crate) fn info(child: &Child) -> ChildInfo {
        let (actor, status) = match child.status() {
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
        child.cell().cloned()
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
