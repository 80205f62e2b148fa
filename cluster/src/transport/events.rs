use ractor::ActorRef;
use ractor_cluster::node::NodeServerSessionInformation;
use ractor_cluster::{NodeEventSubscription, NodeServerMessage};
use tracing::{info, warn};

/// Logs the lifecycle of every cluster session. Membership will subscribe the same way.
struct SessionLog;

fn peer(ses: &NodeServerSessionInformation) -> String {
    ses.peer_name
        .as_ref()
        .map(|n| n.name.clone())
        .unwrap_or_else(|| ses.peer_addr.clone())
}

impl NodeEventSubscription for SessionLog {
    fn node_session_opened(&self, ses: NodeServerSessionInformation) {
        info!(peer_addr = %ses.peer_addr, inbound = ses.is_server, "cluster session opened");
    }

    fn node_session_disconnected(&self, ses: NodeServerSessionInformation) {
        warn!(peer = %peer(&ses), "cluster session closed");
    }

    fn node_session_authenticated(&self, ses: NodeServerSessionInformation) {
        info!(peer = %peer(&ses), inbound = ses.is_server, "cluster session authenticated");
    }

    fn node_session_ready(&self, ses: NodeServerSessionInformation) {
        info!(peer = %peer(&ses), "cluster session ready");
    }
}

pub fn subscribe(server: &ActorRef<NodeServerMessage>) {
    let _ = server.cast(NodeServerMessage::SubscribeToEvents {
        id: "session-log".into(),
        subscription: Box::new(SessionLog),
    });
}
