//! Session lifecycle from ractor_cluster, logged and re-published on a bounded
//! broadcast channel for the gateway (membership) and the dialers (reconnect).

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use ractor::{ActorId, ActorRef};
use ractor_cluster::node::{NodeServerSessionInformation, NodeSessionMessage};
use ractor_cluster::{NodeEventSubscription, NodeServerMessage};
use tokio::sync::broadcast;
use tracing::{info, warn};

/// Session events buffered per subscriber; a lagging one is told how many it lost.
pub const SESSION_EVENTS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPhase {
    Opened,
    /// Authenticated and synchronised: the peer's gateway is reachable.
    Ready,
    Closed,
}

#[derive(Debug, Clone)]
pub struct SessionEvent {
    pub phase: SessionPhase,
    /// The peer node's name, once it authenticated.
    pub peer: Option<String>,
    /// The incarnation its session name declares.
    pub incarnation: Option<u64>,
    /// The peer's address, or the dialer's label for sessions it opened.
    pub label: String,
    pub session: ActorRef<NodeSessionMessage>,
}

pub type SessionEvents = broadcast::Sender<SessionEvent>;

struct Publisher {
    events: SessionEvents,
    /// Sessions that authenticated and have not closed yet.
    authenticated: Mutex<BTreeSet<ActorId>>,
}

fn event(phase: SessionPhase, ses: &NodeServerSessionInformation) -> SessionEvent {
    SessionEvent {
        phase,
        peer: ses.peer_name.as_ref().map(|n| node_name(&n.name)),
        incarnation: ses
            .peer_name
            .as_ref()
            .and_then(|n| session_incarnation(&n.name)),
        label: ses.peer_addr.clone(),
        session: ses.actor.clone(),
    }
}

/// A node's name on its cluster sessions: `NAME~INCARNATION` (hex), so two
/// processes claiming one name are two sessions, and the gateway can keep
/// the first (`~` never appears in a node name).
pub fn session_name(node: &str, incarnation: u64) -> String {
    format!("{node}~{incarnation:016x}")
}

/// ractor_cluster names a peer `SESSION_NAME@HOST`; swarmd's node name is
/// the part before `~`.
pub fn node_name(peer_name: &str) -> String {
    let name = peer_name
        .split_once('@')
        .map_or(peer_name, |(name, _)| name);
    name.split_once('~')
        .map_or(name, |(node, _)| node)
        .to_string()
}

/// The incarnation a peer's session name carries, if it carries one.
pub fn session_incarnation(peer_name: &str) -> Option<u64> {
    let name = peer_name
        .split_once('@')
        .map_or(peer_name, |(name, _)| name);
    let (_, hex) = name.split_once('~')?;
    u64::from_str_radix(hex, 16).ok()
}

/// `NODE@HOST` for the log (the incarnation goes in its own field).
fn peer(ses: &NodeServerSessionInformation) -> String {
    let Some(name) = ses.peer_name.as_ref().map(|n| n.name.as_str()) else {
        return ses.peer_addr.clone();
    };
    match name.split_once('@') {
        Some((_, host)) => format!("{}@{host}", node_name(name)),
        None => node_name(name),
    }
}

impl NodeEventSubscription for Publisher {
    fn node_session_opened(&self, ses: NodeServerSessionInformation) {
        info!(peer_addr = %ses.peer_addr, inbound = ses.is_server, "cluster session opened");
        let _ = self.events.send(event(SessionPhase::Opened, &ses));
    }

    fn node_session_disconnected(&self, ses: NodeServerSessionInformation) {
        let was_authenticated = self.authenticated().remove(&ses.actor.get_id());
        if was_authenticated {
            warn!(peer = %peer(&ses), "cluster session closed");
        } else {
            warn!(
                peer_addr = %ses.peer_addr,
                "cluster authentication failed: session closed before it authenticated (wrong cookie, or not a swarmd node)"
            );
        }
        let _ = self.events.send(event(SessionPhase::Closed, &ses));
    }

    fn node_session_authenticated(&self, ses: NodeServerSessionInformation) {
        self.authenticated().insert(ses.actor.get_id());
        info!(peer = %peer(&ses), inbound = ses.is_server, "cluster session authenticated");
    }

    fn node_session_ready(&self, ses: NodeServerSessionInformation) {
        info!(peer = %peer(&ses), "cluster session ready");
        let _ = self.events.send(event(SessionPhase::Ready, &ses));
    }
}

impl Publisher {
    fn authenticated(&self) -> std::sync::MutexGuard<'_, BTreeSet<ActorId>> {
        self.authenticated
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

pub fn subscribe(server: &ActorRef<NodeServerMessage>, events: SessionEvents) {
    let publisher = Publisher {
        events,
        authenticated: Mutex::default(),
    };
    let _ = server.cast(NodeServerMessage::SubscribeToEvents {
        id: "session-events".into(),
        subscription: Box::new(publisher),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_carry_the_node_and_its_incarnation() {
        let name = format!("{}@127.0.0.1", session_name("edge-1", 0xabc));
        assert_eq!(node_name(&name), "edge-1");
        assert_eq!(session_incarnation(&name), Some(0xabc));
        assert_eq!(node_name("swarmd-console.17@console"), "swarmd-console.17");
        assert_eq!(session_incarnation("swarmd-console.17@console"), None);
        assert_eq!(session_incarnation("edge~zz@h"), None);
    }
}
