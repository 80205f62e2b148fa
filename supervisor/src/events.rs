use tokio::sync::broadcast;

/// Why a child stopped running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitReason {
    /// It stopped itself.
    Normal,
    /// Its supervisor stopped it.
    Shutdown,
    /// It was killed (abnormal).
    Killed,
    /// It panicked or returned an error (abnormal).
    Failed(String),
}

impl ExitReason {
    pub fn is_abnormal(&self) -> bool {
        matches!(self, Self::Killed | Self::Failed(_))
    }
}

/// What the supervisors of a tree report, for the ledger and the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisorEvent {
    ChildStarted {
        supervisor: String,
        child: String,
    },
    ChildExited {
        supervisor: String,
        child: String,
        reason: ExitReason,
    },
    ChildRestarted {
        supervisor: String,
        child: String,
        restarts: u32,
    },
    /// The restart intensity was exceeded: the supervisor stopped its children and failed.
    Escalated {
        supervisor: String,
        reason: String,
    },
    /// A significant child exited and the supervisor shut itself down.
    AutoShutdown {
        supervisor: String,
        child: String,
    },
}

/// Where supervisors publish events. It is a bounded ring: a receiver that
/// falls more than its capacity behind loses the oldest events and is told how
/// many (`RecvError::Lagged`); a supervisor never waits on a slow reader.
pub type EventSender = broadcast::Sender<SupervisorEvent>;

/// A sender for `capacity` buffered events per receiver.
pub fn event_channel(capacity: usize) -> (EventSender, broadcast::Receiver<SupervisorEvent>) {
    broadcast::channel(capacity)
}
