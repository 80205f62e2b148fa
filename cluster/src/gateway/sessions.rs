//! The gateway's sessions: a ready session gets a ticket and a hello, unless
//! its certificate is not for its node (TLS) or a live member already holds
//! its name; a closed one takes its ticket and calls with it; a resync
//! rebuilds the table from the node server after lost events.

use ractor_cluster::NodeServerMessage;
use swarmd_messages::WireMsg;
use tracing::warn;

use super::CallError;
use super::ExitCause;
use super::actor::GatewayState;
use crate::transport::{SessionEvent, SessionPhase};

impl GatewayState {
    /// `caught_up` when the event comes from a resync rather than live: the
    /// peer may have seen this session's ready long ago and will not offer
    /// a ticket unless asked.
    pub(super) fn on_session(&mut self, event: SessionEvent, caught_up: bool) {
        let Some(peer) = event.peer.clone() else {
            return;
        };
        if peer.starts_with(crate::control::CONSOLE_PREFIX) {
            // A console: a hidden client that talks only to `control`.
            return;
        }
        match event.phase {
            SessionPhase::Opened => {}
            SessionPhase::Ready => {
                let known = self.outbox.session(&peer).map(|s| s.get_id());
                if known == Some(event.session.get_id())
                    || !self.certified(&event, &peer)
                    || self.name_taken(&event, &peer)
                {
                    return;
                }
                self.outbox.session_ready(&peer, event.session);
                self.offer_ticket(&peer, caught_up);
                self.send(&peer, WireMsg::Hello(self.view.me().clone()));
                self.send(&peer, WireMsg::Members(self.view.up_infos()));
                self.send(&peer, self.advert());
            }
            SessionPhase::Closed => {
                if let Some(certs) = &self.args.peer_certs {
                    certs.forget(&event.label);
                }
                if self.outbox.session_closed(&peer, &event.session) {
                    self.tickets.revoke(&peer);
                    let error = CallError::Disconnected(peer.clone());
                    self.waited.node_lost(&peer, error, ExitCause::NodeDown);
                    let changes = self.view.disconnected(&peer);
                    self.apply(changes);
                }
            }
        }
    }

    /// Whether another live session already speaks for `peer` under another
    /// incarnation: the first keeps the name (as Erlang keeps the first node
    /// registered under a name), and the newcomer's session is closed.
    fn name_taken(&mut self, event: &SessionEvent, peer: &str) -> bool {
        let Some(current) = self.outbox.session(peer) else {
            return false;
        };
        let alive = current.get_status() <= ractor::ActorStatus::Running;
        let holder = self.view.get(peer).map(|m| m.info.incarnation);
        let same_node = holder.is_none() || holder == event.incarnation;
        if !alive || same_node {
            return false;
        }
        self.stats.refused_sessions += 1;
        warn!(
            %peer, label = %event.label, holder = ?holder, claimant = ?event.incarnation,
            "cluster session refused: another node already holds this name"
        );
        event
            .session
            .stop(Some(format!("node name {peer:?} is in use")));
        true
    }

    /// With TLS, whether the session's certificate names its node; a session
    /// whose does not is closed, and never gets a ticket.
    fn certified(&mut self, event: &SessionEvent, peer: &str) -> bool {
        let Some(certs) = &self.args.peer_certs else {
            return true;
        };
        match certs.check(&event.label, peer) {
            Ok(()) => true,
            Err(why) => {
                warn!(%peer, label = %event.label, error = %why, "cluster session refused: its certificate is not for the node it claims to be");
                event.session.stop(Some(why));
                false
            }
        }
    }

    /// Rebuilds the session table from the node server: at start, and after
    /// session events were lost.
    pub(super) async fn resync(&mut self) {
        let Some(server) = self.args.server.get() else {
            return;
        };
        let sessions = match ractor::call_t!(server, NodeServerMessage::GetSessions, 5_000) {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot list cluster sessions");
                return;
            }
        };
        let mut ready: Vec<_> = sessions.into_values().collect();
        ready.sort_by_key(|s| s.node_id);
        for ses in ready {
            let Some(full) = ses.peer_name.map(|n| n.name) else {
                continue;
            };
            let name = crate::transport::node_name(&full);
            if self.outbox.session(&name).is_none() {
                let event = SessionEvent {
                    phase: SessionPhase::Ready,
                    peer: Some(name),
                    incarnation: crate::transport::session_incarnation(&full),
                    label: ses.peer_addr,
                    session: ses.actor,
                };
                self.on_session(event, true);
            }
        }
    }
}
