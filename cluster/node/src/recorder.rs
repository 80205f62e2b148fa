use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_actors::ctx::{LedgerError, LedgerHandle};
use swarmd_messages::{
    EventDraft, EventId, EventKind, SYSTEM_TENANT, SupervisionAction, TraceContext,
};
use swarmd_supervisor::{EventSender, SupervisorEvent};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::{self, Receiver};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use swarmd_cluster::gateway::MemberChange;

/// Acks the recorder waits for at once; beyond, it waits before reading more.
const MAX_IN_FLIGHT: usize = 256;

/// How long a stopping recorder may take to write what is still buffered.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// The node's own recorder: supervision events and membership changes into
/// the ledger. It runs in the `storage` subtree right after the writer, so
/// on shutdown it stops before the writer and first writes everything the
/// rest of the tree reported while stopping.
#[derive(Clone)]
pub struct Recorder;

#[derive(Clone)]
pub struct RecorderArgs {
    pub ledger: LedgerHandle,
    pub supervision: EventSender,
    pub membership: broadcast::Sender<MemberChange>,
    /// Receivers subscribed at node start, so the first incarnation misses
    /// nothing; a restarted recorder subscribes anew.
    pub early: Arc<Mutex<Option<EarlyReceivers>>>,
}

pub type EarlyReceivers = (Receiver<SupervisorEvent>, Receiver<MemberChange>);

pub struct RecorderState {
    finish: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Actor for Recorder {
    type Msg = ();
    type State = RecorderState;
    type Arguments = RecorderArgs;

    async fn pre_start(
        &self,
        _: ActorRef<()>,
        args: RecorderArgs,
    ) -> Result<RecorderState, ActorProcessingErr> {
        let early = args
            .early
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let (supervision, membership) =
            early.unwrap_or_else(|| (args.supervision.subscribe(), args.membership.subscribe()));
        let (finish, finishing) = watch::channel(false);
        let ledger = args.ledger.clone();
        let tasks = vec![
            tokio::spawn(record(
                supervision,
                ledger.clone(),
                finishing.clone(),
                supervision_kind,
            )),
            tokio::spawn(record(membership, ledger, finishing, membership_kind)),
        ];
        Ok(RecorderState { finish, tasks })
    }

    async fn post_stop(
        &self,
        _: ActorRef<()>,
        state: &mut RecorderState,
    ) -> Result<(), ActorProcessingErr> {
        let _ = state.finish.send(true);
        for task in state.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(DRAIN_LIMIT, task).await.is_err() {
                warn!(limit = ?DRAIN_LIMIT, "recorder did not drain in time");
                abort.abort();
            }
        }
        Ok(())
    }
}

fn membership_kind(change: MemberChange) -> EventKind {
    EventKind::Membership {
        node: change.node,
        state: change.to,
    }
}

/// Writes what `events` carries into the ledger, in order, with many in
/// flight. If it falls behind the ring, it records how many were lost. When
/// told to finish, it writes what is buffered, waits for the acks and ends.
async fn record<T: Clone>(
    mut events: Receiver<T>,
    ledger: LedgerHandle,
    mut finish: watch::Receiver<bool>,
    to_kind: impl Fn(T) -> EventKind,
) {
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            Some(acked) = in_flight.next(), if !in_flight.is_empty() => report(acked),
            _ = finish.changed() => {
                loop {
                    let kind = match events.try_recv() {
                        Ok(event) => to_kind(event),
                        Err(TryRecvError::Lagged(lost)) => lost_kind(lost),
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    };
                    match ledger.submit(draft(kind)).await {
                        Ok(ack) => in_flight.push(ack),
                        Err(e) => report(Err(e)),
                    }
                }
                break;
            }
            received = events.recv(), if in_flight.len() < MAX_IN_FLIGHT => {
                let kind = match received {
                    Ok(event) => to_kind(event),
                    Err(RecvError::Lagged(lost)) => lost_kind(lost),
                    Err(RecvError::Closed) => break,
                };
                match ledger.submit(draft(kind)).await {
                    Ok(ack) => in_flight.push(ack),
                    Err(e) => report(Err(e)),
                }
            }
        }
    }
    while let Some(acked) = in_flight.next().await {
        report(acked);
    }
}

fn lost_kind(lost: u64) -> EventKind {
    warn!(lost, "events lost before reaching the ledger");
    EventKind::Signal {
        status: "events_lost".into(),
        detail: lost.to_string(),
    }
}

fn draft(kind: EventKind) -> EventDraft {
    EventDraft {
        tenant: SYSTEM_TENANT.into(),
        agent: None,
        trace: TraceContext::default(),
        kind,
    }
}

fn report(acked: Result<EventId, LedgerError>) {
    match acked {
        Ok(_) => {}
        // The writer stops before the rest of the tree during shutdown.
        Err(LedgerError::Closed) => debug!("ledger closed; event not recorded"),
        Err(e) => warn!(error = %e, "event not recorded"),
    }
}

fn supervision_kind(event: SupervisorEvent) -> EventKind {
    use SupervisionAction as Did;
    let (child, what, restarts) = match event {
        SupervisorEvent::ChildStarted { supervisor, child } => {
            (format!("{supervisor}/{child}"), Did::Started, 0)
        }
        SupervisorEvent::ChildExited {
            supervisor,
            child,
            reason,
        } => (
            format!("{supervisor}/{child}"),
            Did::Exited {
                reason: format!("{reason:?}"),
            },
            0,
        ),
        SupervisorEvent::ChildRestarted {
            supervisor,
            child,
            restarts,
        } => (format!("{supervisor}/{child}"), Did::Restarted, restarts),
        SupervisorEvent::Escalated { supervisor, reason } => (
            supervisor,
            Did::Escalated {
                reason: reason.to_string(),
            },
            0,
        ),
        SupervisorEvent::AutoShutdown { supervisor, child } => {
            (format!("{supervisor}/{child}"), Did::AutoShutdown, 0)
        }
    };
    EventKind::Supervision {
        child,
        what,
        restarts,
    }
}
