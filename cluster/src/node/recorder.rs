use futures::StreamExt;
use futures::stream::FuturesUnordered;
use swarmd_actors::ctx::{LedgerError, LedgerHandle};
use swarmd_messages::{EventDraft, EventId, EventKind, TraceContext};
use swarmd_supervisor::SupervisorEvent;
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tracing::{debug, warn};

use crate::gateway::MemberChange;

/// The tenant of the node's own records.
pub const SYSTEM_TENANT: &str = "system";

/// Acks the recorder waits for at once; beyond, it waits before reading more.
const MAX_IN_FLIGHT: usize = 256;

/// Writes every supervision event of the node's tree into the ledger.
pub async fn record_supervision(events: Receiver<SupervisorEvent>, ledger: LedgerHandle) {
    record(events, ledger, supervision_kind).await
}

/// Writes every membership change into the ledger.
pub async fn record_membership(changes: Receiver<MemberChange>, ledger: LedgerHandle) {
    record(changes, ledger, |c| EventKind::Membership {
        node: c.node,
        state: c.to.to_string(),
    })
    .await
}

/// Writes what `events` carries into the ledger, in order, with many in
/// flight. If it falls behind the ring, it records how many were lost. Ends
/// when every sender is gone.
async fn record<T: Clone>(
    mut events: Receiver<T>,
    ledger: LedgerHandle,
    to_kind: impl Fn(T) -> EventKind,
) {
    let mut in_flight = FuturesUnordered::new();
    loop {
        tokio::select! {
            Some(acked) = in_flight.next(), if !in_flight.is_empty() => report(acked),
            received = events.recv(), if in_flight.len() < MAX_IN_FLIGHT => {
                let kind = match received {
                    Ok(event) => to_kind(event),
                    Err(RecvError::Lagged(lost)) => {
                        warn!(lost, "events lost before reaching the ledger");
                        EventKind::Signal {
                            status: "events_lost".into(),
                            detail: lost.to_string(),
                        }
                    }
                    Err(RecvError::Closed) => break,
                };
                let draft = EventDraft {
                    tenant: SYSTEM_TENANT.into(),
                    agent: None,
                    trace: TraceContext::default(),
                    kind,
                };
                match ledger.submit(draft).await {
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

fn report(acked: Result<EventId, LedgerError>) {
    match acked {
        Ok(_) => {}
        // The writer stops before the rest of the tree during shutdown.
        Err(LedgerError::Closed) => debug!("ledger closed; event not recorded"),
        Err(e) => warn!(error = %e, "event not recorded"),
    }
}

fn supervision_kind(event: SupervisorEvent) -> EventKind {
    let (child, what, restarts) = match event {
        SupervisorEvent::ChildStarted { supervisor, child } => {
            (format!("{supervisor}/{child}"), "started".into(), 0)
        }
        SupervisorEvent::ChildExited {
            supervisor,
            child,
            reason,
        } => (
            format!("{supervisor}/{child}"),
            format!("exited: {reason:?}"),
            0,
        ),
        SupervisorEvent::ChildRestarted {
            supervisor,
            child,
            restarts,
        } => (
            format!("{supervisor}/{child}"),
            "restarted".into(),
            restarts,
        ),
        SupervisorEvent::Escalated { supervisor, reason } => {
            (supervisor, format!("escalated: {reason}"), 0)
        }
        SupervisorEvent::AutoShutdown { supervisor, child } => {
            (format!("{supervisor}/{child}"), "auto_shutdown".into(), 0)
        }
    };
    EventKind::Supervision {
        child,
        what,
        restarts,
    }
}
