//! The supervisor actor: starts children in order, restarts them by strategy
//! within the restart intensity, escalates beyond it, and stops them in reverse.

use std::ops::Range;
use std::time::Duration;

use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::child::{ChildInfo, ChildSpec, Restart, Shutdown};
use crate::intensity::{Intensity, RestartWindow};

/// A start function that has not returned by then counts as a failed start.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for a killed child to be gone before moving on.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Which children restart when one of them exits and must be restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Only the child that exited.
    OneForOne,
    /// All children: the others are stopped in reverse order, then all start in order.
    OneForAll,
    /// The child that exited and every child started after it.
    RestForOne,
}

#[derive(Debug, Clone)]
pub struct SupervisorSpec {
    /// Shown in logs and in the tree snapshot.
    pub name: String,
    pub strategy: Strategy,
    pub intensity: Intensity,
    /// In start order.
    pub children: Vec<ChildSpec>,
}

impl SupervisorSpec {
    pub fn new(name: impl Into<String>, strategy: Strategy) -> Self {
        Self {
            name: name.into(),
            strategy,
            intensity: Intensity::default(),
            children: Vec::new(),
        }
    }

    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.intensity = Intensity {
            max_restarts,
            period,
        };
        self
    }

    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// This supervisor as a child of another. Like OTP, a supervisor child gets
    /// a long shutdown so its own children can stop in order.
    pub fn into_child(self) -> ChildSpec {
        let id = self.name.clone();
        ChildSpec::new(id, move |parent| {
            let spec = self.clone();
            async move {
                let (sup, _) = Actor::spawn_linked(None, Supervisor, spec, parent).await?;
                Ok(sup.get_cell())
            }
        })
        .shutdown(Shutdown::Timeout(Duration::from_secs(60)))
    }
}

pub enum SupervisorMsg {
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
}

impl ractor::Message for SupervisorMsg {}

pub struct Supervisor;

struct Child {
    spec: ChildSpec,
    cell: Option<ActorCell>,
    restarts: u32,
    last_failure: Option<String>,
}

pub struct SupervisorState {
    name: String,
    strategy: Strategy,
    intensity: Intensity,
    /// In start order. ractor's own child map is unordered, so this is the truth.
    children: Vec<Child>,
    window: RestartWindow,
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorSpec;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        spec: SupervisorSpec,
    ) -> Result<Self::State, ActorProcessingErr> {
        let children = spec
            .children
            .into_iter()
            .map(Child::new)
            .collect::<Vec<_>>();
        let mut state = SupervisorState {
            name: spec.name,
            strategy: spec.strategy,
            intensity: spec.intensity,
            window: RestartWindow::default(),
            children,
        };
        let all = 0..state.children.len();
        if let Err((idx, reason)) = state.start_range(&myself, all).await {
            let id = state.children[idx].spec.id.clone();
            state.stop_range(0..idx).await;
            return Err(format!(
                "supervisor {}: child {id} failed to start: {reason}",
                state.name
            )
            .into());
        }
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::WhichChildren(reply) => {
                let _ = reply.send(state.children.iter().map(Child::info).collect());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (who, failure) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let abnormal = reason.as_deref() == Some("killed");
                (cell.get_id(), abnormal.then(|| "killed".to_owned()))
            }
            SupervisionEvent::ActorFailed(cell, err) => (cell.get_id(), Some(err.to_string())),
            _ => return Ok(()),
        };
        // Exits of incarnations this supervisor already replaced or stopped are stale.
        let Some(idx) = state.index_of(who) else {
            return Ok(());
        };
        state.child_exited(idx, failure.clone());
        let child = &state.children[idx];
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => failure.is_some(),
            Restart::Temporary => false,
        };
        if !restart {
            if child.spec.restart == Restart::Temporary {
                state.children.remove(idx);
            }
            return Ok(());
        }
        state.restart(&myself, idx).await
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        info!(supervisor = %state.name, "shutting down children in reverse start order");
        state.stop_range(0..state.children.len()).await;
        Ok(())
    }
}

impl Child {
    fn new(spec: ChildSpec) -> Self {
        Self {
            spec,
            cell: None,
            restarts: 0,
            last_failure: None,
        }
    }

    fn info(&self) -> ChildInfo {
        ChildInfo {
            id: self.spec.id.clone(),
            actor: self.cell.as_ref().map(ActorCell::get_id),
            restart: self.spec.restart,
            restarts: self.restarts,
            last_failure: self.last_failure.clone(),
        }
    }
}

impl SupervisorState {
    fn index_of(&self, who: ActorId) -> Option<usize> {
        self.children
            .iter()
            .position(|c| c.cell.as_ref().is_some_and(|cell| cell.get_id() == who))
    }

    fn child_exited(&mut self, idx: usize, failure: Option<String>) {
        let child = &mut self.children[idx];
        child.cell = None;
        match &failure {
            Some(reason) => {
                warn!(supervisor = %self.name, child = %child.spec.id, %reason, "child failed")
            }
            None => info!(supervisor = %self.name, child = %child.spec.id, "child exited normally"),
        }
        if failure.is_some() {
            child.last_failure = failure;
        }
    }

    /// Restarts after child `idx` exited, per strategy. Every attempt, including
    /// one whose start fails, counts against the intensity; beyond it, all
    /// children stop in reverse order and the supervisor fails to its parent.
    async fn restart(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        idx: usize,
    ) -> Result<(), ActorProcessingErr> {
        let affected = match self.strategy {
            Strategy::OneForOne => idx..idx + 1,
            Strategy::OneForAll => 0..self.children.len(),
            Strategy::RestForOne => idx..self.children.len(),
        };
        loop {
            if !self.window.admit(self.intensity, Instant::now()) {
                error!(supervisor = %self.name, "restart intensity exceeded; escalating");
                self.stop_range(0..self.children.len()).await;
                return Err(
                    format!("supervisor {} reached its restart intensity", self.name).into(),
                );
            }
            self.stop_range(affected.clone()).await;
            let affected = self.drop_temporaries(affected.clone());
            for child in &mut self.children[affected.clone()] {
                child.restarts += 1;
            }
            match self.start_range(myself, affected.clone()).await {
                Ok(()) => return Ok(()),
                Err((failed, reason)) => {
                    let child = &mut self.children[failed];
                    warn!(supervisor = %self.name, child = %child.spec.id, %reason, "restart failed");
                    child.last_failure = Some(reason);
                }
            }
        }
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

    /// Starts the children in `range` in order. On a failure, stops the ones this
    /// call started and returns the index of the child that failed.
    async fn start_range(
        &mut self,
        myself: &ActorRef<SupervisorMsg>,
        range: Range<usize>,
    ) -> Result<(), (usize, String)> {
        for idx in range.clone() {
            let child = &mut self.children[idx];
            debug_assert!(child.cell.is_none(), "starting a running child");
            let started =
                tokio::time::timeout(START_TIMEOUT, (child.spec.start)(myself.get_cell())).await;
            match started {
                Ok(Ok(cell)) => {
                    info!(supervisor = %self.name, child = %child.spec.id, "child started");
                    child.cell = Some(cell);
                }
                Ok(Err(e)) => {
                    self.stop_range(range.start..idx).await;
                    return Err((idx, e.to_string()));
                }
                Err(_) => {
                    self.stop_range(range.start..idx).await;
                    return Err((
                        idx,
                        format!("start did not finish within {START_TIMEOUT:?}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Stops the running children in `range`, last started first.
    async fn stop_range(&mut self, range: Range<usize>) {
        for idx in range.rev() {
            let child = &mut self.children[idx];
            let Some(cell) = child.cell.take() else {
                continue;
            };
            info!(supervisor = %self.name, child = %child.spec.id, "stopping child");
            stop_child(child.spec.shutdown, &cell).await;
            info!(supervisor = %self.name, child = %child.spec.id, "child stopped");
        }
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
