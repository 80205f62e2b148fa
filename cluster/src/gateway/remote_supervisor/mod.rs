//! A cloud-side supervisor of children that run on other nodes.
//!
//! Each child is spawned through the cluster and watched; when it exits (the
//! reason comes over the wire) the child's restart policy decides, under OTP
//! restart intensity: too many restarts in the period and this supervisor
//! fails, which escalates to its own parent. When its node goes down, the
//! child waits out a grace period (a node that is away is not a crash loop:
//! outside the intensity count); then a relocatable child (`AnyEdge`) starts
//! on another node that can host it, with its id kept, and a node-bound one
//! (`SameNode`) is reported lost and starts again when its node is back.
//! Every move is told to `notes` (the daemon records it in the ledger and
//! releases the child's tasks on a move or a loss, once).
//!
//! The daemon runs one on cloud nodes (`spawn --place --supervised` adopts
//! children into it); embedders and tests may start their own.

mod slots;

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_messages::{PlacementChange, SpawnSpec};
use swarmd_supervisor::{Intensity, Restart, RestartWindow};

use super::{ClusterHandle, ExitCause};
use slots::Slot;

/// Children one remote supervisor holds at most; more are refused.
pub const MAX_REMOTE_CHILDREN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Always on the node it was first placed on (a robot's agent).
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

/// Told of every placement change: `(child, tenant, change)`.
pub type PlacementNotes = Arc<dyn Fn(&str, &str, PlacementChange) + Send + Sync>;

#[derive(Clone)]
pub struct RemoteSupervisorArgs {
    pub cluster: ClusterHandle,
    pub children: Vec<RemoteChild>,
    pub intensity: Intensity,
    /// Wait before trying again to place a child with nowhere to run.
    pub retry: Duration,
    /// How long a child's node may be down before the child moves (or is
    /// reported lost). Zero: at once.
    pub grace: Duration,
    pub notes: Option<PlacementNotes>,
}

/// Where a child runs now, for the console and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub id: String,
    pub kind: String,
    pub tenant: String,
    pub node: Option<String>,
    pub restarts: u32,
    /// `running`, `placing`, `away` (its node is down, within the grace) or `lost`.
    pub state: &'static str,
}

pub enum RemoteSupervisorMsg {
    Place(usize),
    Exited(usize, u64, ExitCause),
    /// The grace after its node went down (at that generation) is over.
    GraceOver(usize, u64),
    Which(RpcReplyPort<Vec<Placed>>),
    /// Supervise one more child (refused if its id is taken or the table full).
    Adopt(RemoteChild, RpcReplyPort<Result<(), String>>),
    /// Stop supervising `id` (it is being stopped on purpose); true if it was here.
    Forget(String, RpcReplyPort<Option<Placed>>),
}

impl ractor::Message for RemoteSupervisorMsg {}

pub struct RemoteSupervisor;

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
        let slots: Vec<Slot> = args.children.iter().cloned().map(Slot::new).collect();
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
            RemoteSupervisorMsg::GraceOver(index, generation) => {
                state.grace_over(&myself, index, generation).await
            }
            RemoteSupervisorMsg::Which(reply) => {
                let _ = reply.send(state.slots.iter().filter_map(Slot::placed).collect());
                Ok(())
            }
            RemoteSupervisorMsg::Adopt(child, reply) => {
                let _ = reply.send(state.adopt(&myself, child));
                Ok(())
            }
            RemoteSupervisorMsg::Forget(id, reply) => {
                let _ = reply.send(state.forget(&id));
                Ok(())
            }
        }
    }
}
