use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ractor::{ActorCell, ActorId, SpawnErr};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Killed at once; its `post_stop` does not run.
    BrutalKill,
    /// Asked to stop: it finishes the message in hand, runs `post_stop`, and its
    /// still-queued messages are dropped. Killed if it has not stopped in time.
    Timeout(Duration),
}

/// How to start and look after one child.
#[derive(Clone)]
pub struct ChildSpec {
    pub id: String,
    pub start: StartFn,
    pub restart: Restart,
    pub shutdown: Shutdown,
    pub significant: bool,
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
        }
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
            .finish()
    }
}

/// One row of `which_children`, in start order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInfo {
    pub id: String,
    /// `None` when the child is not running (a transient child that exited normally).
    pub actor: Option<ActorId>,
    pub restart: Restart,
    pub restarts: u32,
    pub last_failure: Option<String>,
}
