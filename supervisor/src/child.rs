use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorId, SpawnErr};

use crate::slot::ActorSlot;

pub type StartFuture = Pin<Box<dyn Future<Output = Result<ActorCell, SpawnErr>> + Send>>;

/// Spawns the child linked to the given supervisor cell and returns the child's cell.
pub type StartFn = Arc<dyn Fn(ActorCell) -> StartFuture + Send + Sync>;

/// When a child that exited is started again (OTP restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only after an abnormal exit (a failure or a kill).
    Transient,
    /// Never restarted; removed from the supervisor when it exits.
    Temporary,
}

/// How a child is stopped when its supervisor shuts it down.
///
/// ractor gives a stopping actor no way to drain its mailbox: the message in
/// hand finishes, `post_stop` runs (not after a kill), and every message still
/// queued is dropped. A caller waiting on a reply from it gets a `SenderError`
/// at once, because the reply port is dropped with the message. A restarted
/// child is a new actor with a new id and an empty mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Killed at once; its `post_stop` does not run.
    BrutalKill,
    /// Asked to stop, and killed if it has not stopped within the timeout.
    Timeout(Duration),
}

/// OTP's child type: supervisors are looked into by tree snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    Worker,
    Supervisor,
}

/// How to start and look after one child.
#[derive(Clone)]
pub struct ChildSpec {
    pub id: String,
    pub start: StartFn,
    pub restart: Restart,
    pub shutdown: Shutdown,
    /// With an auto-shutdown policy, this child's own exit can stop the supervisor.
    pub significant: bool,
    pub kind: ChildKind,
}

impl ChildSpec {
    /// A permanent worker with a 5 s shutdown timeout.
    pub fn new<F, Fut>(id: impl Into<String>, start: F) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorCell, SpawnErr>> + Send + 'static,
    {
        Self {
            id: id.into(),
            start: Arc::new(move |sup| Box::pin(start(sup))),
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(Duration::from_secs(5)),
            significant: false,
            kind: ChildKind::Worker,
        }
    }

    /// A child that runs `actor` with a clone of `args`, linked to its supervisor.
    pub fn for_actor<A>(id: impl Into<String>, actor: A, args: A::Arguments) -> Self
    where
        A: Actor + Clone + Sync,
        A::Arguments: Clone + Sync,
    {
        Self::for_actor_in(id, actor, args, ActorSlot::new())
    }

    /// Like [`for_actor`](Self::for_actor), keeping each incarnation's ref in
    /// `slot` for whoever talks to the child.
    pub fn for_actor_in<A>(
        id: impl Into<String>,
        actor: A,
        args: A::Arguments,
        slot: ActorSlot<A::Msg>,
    ) -> Self
    where
        A: Actor + Clone + Sync,
        A::Arguments: Clone + Sync,
    {
        Self::new(id, move |sup| {
            let (actor, args, slot) = (actor.clone(), args.clone(), slot.clone());
            async move {
                let (started, _) = Actor::spawn_linked(None, actor, args, sup).await?;
                slot.set(started.clone());
                Ok(started.get_cell())
            }
        })
    }

    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("significant", &self.significant)
            .field("kind", &self.kind)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStatus {
    Running,
    /// Waiting out a restart backoff.
    RestartPending,
    /// Not running, spec kept: stopped by `terminate_child`, or a transient
    /// child that exited normally.
    Terminated,
}

/// One row of `which_children`, in start order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInfo {
    pub id: String,
    /// Set while the child runs.
    pub actor: Option<ActorId>,
    pub status: ChildStatus,
    pub kind: ChildKind,
    pub restart: Restart,
    pub restarts: u32,
    pub last_failure: Option<String>,
}

/// OTP's `count_children`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChildCount {
    pub specs: usize,
    pub active: usize,
    pub supervisors: usize,
    pub workers: usize,
}
