//! A cloud-side supervisor of children that run on other nodes.
//!
//! Each child is spawned through the cluster and watched; when it exits (the
//! reason comes over the wire) or its node goes down, the child's restart
//! policy decides, and its placement says where it runs again: on the same
//! node, or on the least-loaded edge that is up. Restart intensity applies as
//! in OTP: too many restarts in the period and this supervisor fails, which
//! escalates to its own parent. A node that is away is not a crash loop: such
//! a child waits (with backoff) for a place to run, outside the intensity count.
//!
//! Library-only: the node's own tree does not run one (its agents are local
//! children of `agents`); embedders and tests start it for cloud-owned
//! children on edges.

use std::collections::BTreeMap;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_messages::SpawnSpec;
use swarmd_supervisor::{Intensity, Restart, RestartWindow};
use tracing::{info, warn};

use super::placement::{Candidate, unfit};
use super::{ClusterHandle, ExitCause, MemberState, SpawnError};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Always on the node it was first placed on.
    SameNode,
    /// On whichever edge (or `both`) member is up, can host the child (by
    /// its advert: tenant, kind, capabilities, memory budget, free slots)
    /// and runs fewest of this supervisor's children; ties go to the
    /// smaller name.
    AnyEdge,
}

#[derive(Debug, Clone)]
pub struct RemoteChild {
    pub spec: SpawnSpec,
    /// Where it starts first.
    pub node: String,
    pub restart: Restart,
    pub placement: Placement,
}

#[derive(Clone)]
pub struct RemoteSupervisorArgs {
    pub cluster: ClusterHandle,
    pub children: Vec<RemoteChild>,
    pub intensity: Intensity,
    /// Wait before trying again to place a child with nowhere to run.
    pub retry: Duration,
}

/// Where a child runs now, for the console and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub id: String,
    pub node: Option<String>,
    pub restarts: u32,
}

pub enum RemoteSupervisorMsg {
    Place(usize),
    Exited(usize, u64, ExitCause),
    Which(RpcReplyPort<Vec<Placed>>),
}

impl ractor::Message for RemoteSupervisorMsg {}

pub struct RemoteSupervisor;

struct Slot {
    child: RemoteChild,
    node: Option<String>,
    /// Bumped per placement, so a stale exit notice is ignored.
    generation: u64,
    restarts: u32,
}

pub struct RemoteSupervisorState {
    args: RemoteSupervisorArgs,
    slots: Vec<Slot>,
    window: RestartWindow,
}

impl Actor for RemoteSupervisor {
    type Msg = RemoteSupervisorMsg;
    type State = RemoteSupervisorState;
    type Arguments = RemoteSupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: RemoteSupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let slots: Vec<Slot> = args
            .children
            .iter()
            .map(|child| Slot {
                child: child.clone(),
                node: None,
                generation: 0,
                restarts: 0,
            })
            .collect();
        for index in 0..slots.len() {
            myself.cast(RemoteSupervisorMsg::Place(index))?;
        }
        Ok(RemoteSupervisorState {
            args,
            slots,
            window: RestartWindow::default(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RemoteSupervisorMsg::Place(index) => state.place(&myself, index).await,
            RemoteSupervisorMsg::Exited(index, generation, cause) => {
                state.exited(&myself, index, generation, cause)
            }
            RemoteSupervisorMsg::Which(reply) => {
                let placed = state.slots.iter().map(|s| Placed {
                    id: s.child.spec.id.clone(),
                    node: s.node.clone(),
                    restarts: s.restarts,
                });
                let _ = reply.send(placed.collect());
                Ok(())
            }
        }
    }
}

impl RemoteSupervisorState {
    async fn place(
        &mut self,
        myself: &ActorRef<RemoteSupervisorMsg>,
        index: usize,
    ) -> Result<(), ActorProcessingErr> {
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
        let generation = slot.generation;
        info!(child = %id, %node, generation, "remote child started");
        let watch = remote.watch().await;
        let me = myself.clone();
        tokio::spawn(async move {
            let cause = match watch {
                Ok(exit) => exit.await.map(|e| e.cause).unwrap_or(ExitCause::NodeDown),
                Err(e) => ExitCause::NotRunning(e.to_string()),
            };
            let _ = me.cast(RemoteSupervisorMsg::Exited(index, generation, cause));
        });
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
                    let on = |s: &&Slot| s.node.as_deref() == Some(name);
                    self.slots.iter().filter(on).count()
                };
                let spec = &slot.child.spec;
                let edges = members.iter().filter(|m| {
                    let candidate = Candidate {
                        name: &m.info.name,
                        runs_edge: m.info.role.runs_edge(),
                        reachable: m.state == MemberState::Up && m.connected,
                        advert: m.advert.as_ref(),
                    };
                    unfit(&candidate, spec).is_none()
                });
                let best: BTreeMap<(usize, String), ()> = edges
                    .map(|m| ((load(&m.info.name), m.info.name.clone()), ()))
                    .collect();
                best.into_keys().next().map(|(_, name)| name)
            }
        }
    }

    fn exited(
        &mut self,
        myself: &ActorRef<RemoteSupervisorMsg>,
        index: usize,
        generation: u64,
        cause: ExitCause,
    ) -> Result<(), ActorProcessingErr> {
        let slot = &mut self.slots[index];
        if slot.generation != generation {
            return Ok(());
        }
        let node = slot.node.take().unwrap_or_default();
        let id = slot.child.spec.id.clone();
        warn!(child = %id, %node, ?cause, "remote child exited");
        let abnormal = match &cause {
            ExitCause::Exited(reason) => !matches!(reason.as_str(), "normal" | "shutdown"),
            ExitCause::NodeDown | ExitCause::NotRunning(_) => true,
        };
        let restart = match slot.child.restart {
            Restart::Permanent => true,
            Restart::Transient => abnormal,
            Restart::Temporary => false,
        };
        if !restart {
            return Ok(());
        }
        if cause == ExitCause::NodeDown {
            // Not the child's fault: place it again without counting a restart.
            slot.restarts += 1;
            myself.cast(RemoteSupervisorMsg::Place(index))?;
            return Ok(());
        }
        self.restart_later(myself, index, "exited")
    }

    fn restart_later(
        &mut self,
        myself: &ActorRef<RemoteSupervisorMsg>,
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
