//! The OTP child API as messages, and async helpers that call them with a timeout.

use std::time::Duration;

use ractor::{ActorCell, ActorRef, RpcReplyPort};

use crate::child::{ChildCount, ChildInfo, ChildKind, ChildSpec};
use crate::strategy::Strategy;

/// Calls wait at most this long; a start function has its own 30 s limit inside.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(40);

pub enum SupervisorMsg {
    StartChild(ChildSpec, RpcReplyPort<Result<ActorCell, SupervisorError>>),
    TerminateChild(String, RpcReplyPort<Result<(), SupervisorError>>),
    RestartChild(String, RpcReplyPort<Result<ActorCell, SupervisorError>>),
    DeleteChild(String, RpcReplyPort<Result<(), SupervisorError>>),
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    CountChildren(RpcReplyPort<ChildCount>),
    Describe(RpcReplyPort<Description>),
    /// A restart backoff has elapsed.
    RestartDue,
}

impl ractor::Message for SupervisorMsg {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    #[error("a child with id {0:?} already exists")]
    AlreadyPresent(String),
    #[error("child {0:?} is running")]
    Running(String),
    #[error("no child with id {0:?}")]
    NotFound(String),
    #[error("the supervisor already has its maximum of {0} children")]
    MaxChildren(usize),
    #[error("child {id:?} failed to start: {reason}")]
    StartFailed { id: String, reason: String },
    #[error("invalid child spec: {0}")]
    InvalidSpec(String),
    #[error("the supervisor did not answer: {0}")]
    Unavailable(String),
}

/// One supervisor's own view: its name, strategy and children with their cells.
pub struct Description {
    pub name: String,
    pub strategy: Strategy,
    pub children: Vec<(ChildInfo, Option<ActorCell>)>,
}

/// The whole tree below a supervisor, for the console's `tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSnapshot {
    pub name: String,
    pub strategy: Strategy,
    pub children: Vec<ChildSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSnapshot {
    pub info: ChildInfo,
    /// Present for running child supervisors.
    pub subtree: Option<TreeSnapshot>,
}

async fn ask<T: Send + 'static>(
    sup: &ActorRef<SupervisorMsg>,
    msg: impl FnOnce(RpcReplyPort<T>) -> SupervisorMsg,
) -> Result<T, SupervisorError> {
    sup.call(msg, Some(CALL_TIMEOUT))
        .await
        .map_err(|e| SupervisorError::Unavailable(e.to_string()))?
        .success_or(())
        .map_err(|_| SupervisorError::Unavailable(format!("no reply within {CALL_TIMEOUT:?}")))
}

pub async fn start_child(
    sup: &ActorRef<SupervisorMsg>,
    spec: ChildSpec,
) -> Result<ActorCell, SupervisorError> {
    ask(sup, |r| SupervisorMsg::StartChild(spec, r)).await?
}

pub async fn terminate_child(
    sup: &ActorRef<SupervisorMsg>,
    id: &str,
) -> Result<(), SupervisorError> {
    ask(sup, |r| SupervisorMsg::TerminateChild(id.to_owned(), r)).await?
}

pub async fn restart_child(
    sup: &ActorRef<SupervisorMsg>,
    id: &str,
) -> Result<ActorCell, SupervisorError> {
    ask(sup, |r| SupervisorMsg::RestartChild(id.to_owned(), r)).await?
}

pub async fn delete_child(sup: &ActorRef<SupervisorMsg>, id: &str) -> Result<(), SupervisorError> {
    ask(sup, |r| SupervisorMsg::DeleteChild(id.to_owned(), r)).await?
}

pub async fn which_children(
    sup: &ActorRef<SupervisorMsg>,
) -> Result<Vec<ChildInfo>, SupervisorError> {
    ask(sup, SupervisorMsg::WhichChildren).await
}

pub async fn count_children(sup: &ActorRef<SupervisorMsg>) -> Result<ChildCount, SupervisorError> {
    ask(sup, SupervisorMsg::CountChildren).await
}

/// One supervisor's own children, with their cells (to address a child by path).
pub async fn describe(sup: &ActorRef<SupervisorMsg>) -> Result<Description, SupervisorError> {
    ask(sup, SupervisorMsg::Describe).await
}

/// Walks the tree from `sup` down, asking each supervisor in turn, so no
/// supervisor ever waits on another.
pub async fn snapshot(sup: &ActorRef<SupervisorMsg>) -> Result<TreeSnapshot, SupervisorError> {
    let description = describe(sup).await?;
    let mut children = Vec::with_capacity(description.children.len());
    for (info, cell) in description.children {
        let subtree = match (info.kind, cell) {
            (ChildKind::Supervisor, Some(cell)) => Box::pin(snapshot(&cell.into())).await.ok(),
            _ => None,
        };
        children.push(ChildSnapshot { info, subtree });
    }
    Ok(TreeSnapshot {
        name: description.name,
        strategy: description.strategy,
        children,
    })
}
