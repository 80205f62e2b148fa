//! Tasks that turn broadcast events (sessions, supervision) into gateway messages.

use ractor::ActorRef;
use swarmd_supervisor::{ExitReason, SupervisorEvent};
use tokio::sync::broadcast::error::RecvError;
use tracing::warn;

use super::GatewayMsg;
use crate::transport::SessionEvent;

/// Re-publishes session events into the gateway's mailbox.
pub(super) async fn relay_sessions(
    mut events: tokio::sync::broadcast::Receiver<SessionEvent>,
    gateway: ActorRef<GatewayMsg>,
) {
    loop {
        let msg = match events.recv().await {
            Ok(event) => GatewayMsg::Session(event),
            Err(RecvError::Lagged(lost)) => {
                warn!(lost, "session events lost; resyncing");
                GatewayMsg::Resync
            }
            Err(RecvError::Closed) => return,
        };
        if gateway.cast(msg).is_err() {
            return;
        }
    }
}

/// Turns exits of the agents supervisor's children into `LocalExit`.
pub(super) async fn relay_exits(
    mut events: tokio::sync::broadcast::Receiver<SupervisorEvent>,
    gateway: ActorRef<GatewayMsg>,
) {
    loop {
        let (name, reason) = match events.recv().await {
            Ok(SupervisorEvent::ChildExited {
                supervisor,
                child,
                reason,
            }) if supervisor == "agents" => (child, describe(&reason)),
            Ok(_) => continue,
            Err(RecvError::Lagged(lost)) => {
                warn!(
                    lost,
                    "supervision events lost; remote watchers may miss exits"
                );
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if gateway
            .cast(GatewayMsg::LocalExit { name, reason })
            .is_err()
        {
            return;
        }
    }
}

fn describe(reason: &ExitReason) -> String {
    match reason {
        ExitReason::Normal => "normal".into(),
        ExitReason::Shutdown => "shutdown".into(),
        ExitReason::Killed => "killed".into(),
        ExitReason::Failed(why) => format!("failed: {why}"),
    }
}
