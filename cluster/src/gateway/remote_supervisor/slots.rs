//! The remote supervisor's children and what it does on each event.

use std::collections::BTreeMap;

use ractor::{ActorProcessingErr, ActorRef};
use swarmd_messages::PlacementChange;
use swarmd_supervisor::Restart;
use tokio::time::Instant;
use tracing::{info, warn};

use super::super::fence::majority;
use super::super::placement::{Candidate, unfit};
use super::super::{CallError, ExitCause, MemberState, RemoteExit, SpawnError};
use super::{
    MAX_REMOTE_CHILDREN, Placed, Placement, RemoteChild, RemoteSupervisorMsg, RemoteSupervisorState,
};

pub struct Slot {
    child: RemoteChild,
    node: Option<String>,
    /// Bumped per placement and per node loss, so a stale notice is ignored.
    generation: u64,
    restarts: u32,
    /// The node it ran on when that node went down, until it runs again.
    away_from: Option<String>,
    /// Reported lost (its node stayed down past the grace).
    lost: bool,
    /// No longer supervised (stopped on purpose).
    retired: bool,
}

impl Slot {
    pub fn new(child: RemoteChild) -> Self {
        Self {
            child,
            node: None,
            generation: 0,
            restarts: 0,
            away_from: None,
            lost: false,
            retired: false,
        }
    }

    pub fn placed(&self) -> Option<Placed> {
        let state = match (&self.node, &self.away_from, self.lost) {
            (Some(_), _, _) => "running",
            (None, _, true) => "lost",
            (None, Some(_), false) => "away",
            (None, None, false) => "placing",
        };
        (!self.retired).then(|| Placed {
            id: self.child.spec.id.clone(),
            kind: self.child.spec.kind.clone(),
            tenant: self.child.spec.tenant.clone(),
            node: self.node.clone().or_else(|| self.away_from.clone()),
            restarts: self.restarts,
            state,
        })
    }
}

type Myself<'a> = &'a ActorRef<RemoteSupervisorMsg>;

/// Tells the supervisor when the child placed at `generation` exits.
fn watch_exit<E: std::fmt::Display + Send + 'static>(
    myself: Myself,
    index: usize,
    generation: u64,
    watch: Result<tokio::sync::oneshot::Receiver<RemoteExit>, E>,
) {
    let me = myself.clone();
    tokio::spawn(async move {
        let cause = match watch {
            Ok(exit) => exit.await.map(|e| e.cause).unwrap_or(ExitCause::NodeDown),
            Err(e) => ExitCause::NotRunning(e.to_string()),
        };
        let _ = me.cast(RemoteSupervisorMsg::Exited(index, generation, cause));
    });
}

impl RemoteSupervisorState {
    fn note(&self, index: usize, change: PlacementChange) {
        let spec = &self.slots[index].child.spec;
        info!(child = %spec.id, ?change, "remote child placement");
        if let Some(notes) = &self.args.notes {
            notes(&spec.id, &spec.tenant, change);
        }
    }

    pub(super) fn adopt(&mut self, myself: Myself, child: RemoteChild) -> Result<(), String> {
        let id = &child.spec.id;
        if self
            .slots
            .iter()
            .any(|s| !s.retired && s.child.spec.id == *id)
        {
            return Err(format!("{id} is supervised already"));
        }
        if self.slots.iter().filter(|s| !s.retired).count() >= MAX_REMOTE_CHILDREN {
            return Err(format!("{MAX_REMOTE_CHILDREN} supervised agents at most"));
        }
        self.slots.push(Slot::new(child));
        let index = self.slots.len() - 1;
        myself
            .cast(RemoteSupervisorMsg::Place(index))
            .map_err(|e| e.to_string())
    }

    pub(super) fn forget(&mut self, id: &str) -> Option<Placed> {
        let slot = self
            .slots
            .iter_mut()
            .find(|s| !s.retired && s.child.spec.id == id)?;
        let placed = slot.placed();
        slot.retired = true;
        slot.generation += 1;
        placed
    }

    pub(super) async fn place(
        &mut self,
        myself: Myself<'_>,
        index: usize,
    ) -> Result<(), ActorProcessingErr> {
        if self.slots[index].retired || self.slots[index].node.is_some() {
            return Ok(());
        }
        if self.rejoined(myself, index).await {
            return Ok(());
        }
        let Some(node) = self.target(index).await else {
            myself.send_after(self.args.retry, move || RemoteSupervisorMsg::Place(index));
            return Ok(());
        };
        let spec = self.slots[index].child.spec.clone();
        let id = spec.id.clone();
        let remote = match self.args.cluster.spawn(&node, spec).await {
            Ok(remote) => remote,
            Err(SpawnError::Call(e)) => {
                warn!(child = %id, %node, error = %e, "cannot reach the node; will retry");
                myself.send_after(self.args.retry, move || RemoteSupervisorMsg::Place(index));
                return Ok(());
            }
            Err(SpawnError::Rejected(e)) => {
                // A refused start counts like a crash, as in OTP.
                warn!(child = %id, %node, error = %e, "remote start refused");
                return self.restart_later(myself, index, "start refused");
            }
        };
        let slot = &mut self.slots[index];
        slot.node = Some(node.clone());
        slot.generation += 1;
        slot.lost = false;
        let generation = slot.generation;
        let change = match slot.away_from.take() {
            Some(from) if from != node => PlacementChange::Moved { from, to: node },
            _ => PlacementChange::Started { node },
        };
        self.note(index, change);
        watch_exit(myself, index, generation, remote.watch().await);
        Ok(())
    }

    /// The node child `index` should run on now, if any is up.
    async fn target(&self, index: usize) -> Option<String> {
        let slot = &self.slots[index];
        let members = self.args.cluster.members().await.ok()?;
        let up = |name: &str| {
            members
                .iter()
                .any(|m| m.info.name == name && m.state == MemberState::Up && m.connected)
        };
        let first = &slot.child.node;
        match slot.child.placement {
            Placement::SameNode => up(first).then(|| first.clone()),
            Placement::AnyEdge => {
                let load = |name: &str| {
                    let on = |s: &&Slot| !s.retired && s.node.as_deref() == Some(name);
                    self.slots.iter().filter(on).count()
                };
                let spec = &slot.child.spec;
                let edges = members
                    .iter()
                    .filter(|m| unfit(&Candidate::member(m), spec).is_none());
                let best: BTreeMap<(usize, String), ()> = edges
                    .map(|m| ((load(&m.info.name), m.info.name.clone()), ()))
                    .collect();
                best.into_keys().next().map(|(_, name)| name)
            }
        }
    }

    pub(super) fn exited(
        &mut self,
        myself: Myself,
        index: usize,
        generation: u64,
        cause: ExitCause,
    ) -> Result<(), ActorProcessingErr> {
        let slot = &mut self.slots[index];
        if slot.generation != generation || slot.retired {
            return Ok(());
        }
        let node = slot.node.take().unwrap_or_default();
        warn!(child = %slot.child.spec.id, %node, ?cause, "remote child exited");
        let abnormal = match &cause {
            ExitCause::Exited(reason) => !matches!(reason.as_str(), "normal" | "shutdown"),
            ExitCause::NodeDown | ExitCause::NotRunning(_) => true,
        };
        let restart = match slot.child.restart {
            Restart::Permanent => true,
            Restart::Transient => abnormal,
            Restart::Temporary => false,
        };
        if cause == ExitCause::NodeDown && restart {
            // Not the child's fault: it waits out the grace, outside the
            // intensity count, then moves or is reported lost.
            slot.away_from = Some(node.clone());
            slot.generation += 1;
            let generation = slot.generation;
            self.note(index, PlacementChange::NodeDown { node });
            let grace = self.args.grace;
            myself.send_after(grace, move || {
                RemoteSupervisorMsg::GraceOver(index, generation)
            });
            return Ok(());
        }
        let reason = match &cause {
            ExitCause::Exited(reason) => reason.clone(),
            other => format!("{other:?}"),
        };
        self.note(index, PlacementChange::Exited { node, reason });
        if !restart {
            self.slots[index].retired = true;
            return Ok(());
        }
        self.restart_later(myself, index, "exited")
    }

    pub(super) async fn grace_over(
        &mut self,
        myself: Myself<'_>,
        index: usize,
        generation: u64,
    ) -> Result<(), ActorProcessingErr> {
        let slot = &self.slots[index];
        if slot.generation != generation || slot.retired || slot.node.is_some() {
            return Ok(());
        }
        // The split-brain rule: only a side that sees a majority moves an
        // agent; the minority's own node stops it (see `fence`).
        let members = self.args.cluster.members().await.unwrap_or_default();
        if !majority(&members) {
            warn!(child = %slot.child.spec.id, "no majority in sight: not moving it yet");
            let retry = self.args.retry;
            myself.send_after(retry, move || {
                RemoteSupervisorMsg::GraceOver(index, generation)
            });
            return Ok(());
        }
        let slot = &mut self.slots[index];
        slot.restarts += 1;
        if slot.child.placement == Placement::SameNode {
            slot.lost = true;
            let node = slot.away_from.clone().unwrap_or_default();
            self.note(index, PlacementChange::Lost { node });
        }
        myself.cast(RemoteSupervisorMsg::Place(index))?;
        Ok(())
    }

    /// After a partition heals, the agent may still run where it was (its
    /// node kept a majority): watch that one again rather than start a second.
    async fn rejoined(&mut self, myself: Myself<'_>, index: usize) -> bool {
        let Some(home) = self.slots[index].away_from.clone() else {
            return false;
        };
        let id = self.slots[index].child.spec.id.clone();
        let Ok(exit) = self.args.cluster.remote_ref(&home, &id).watch().await else {
            return false;
        };
        let slot = &mut self.slots[index];
        slot.node = Some(home.clone());
        slot.away_from = None;
        slot.lost = false;
        slot.generation += 1;
        let generation = slot.generation;
        self.note(index, PlacementChange::Started { node: home });
        watch_exit::<CallError>(myself, index, generation, Ok(exit));
        true
    }

    fn restart_later(
        &mut self,
        myself: Myself,
        index: usize,
        why: &str,
    ) -> Result<(), ActorProcessingErr> {
        let now = Instant::now();
        if !self.window.admit(self.args.intensity, now) {
            let id = &self.slots[index].child.spec.id;
            return Err(format!("restart intensity exceeded: {id} {why}").into());
        }
        self.slots[index].restarts += 1;
        myself.cast(RemoteSupervisorMsg::Place(index))?;
        Ok(())
    }
}
