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
use crate::transport::hello::Purpose;
use crate::transport::{SessionEvent, SessionPhase};

/// With TLS, the DNS name a console's certificate must be issued for: a
/// console has no node name, and gets no exemption from the name check.
pub const CONSOLE_CERT_NAME: &str = "console";

impl GatewayState {
    /// `caught_up` when the event comes from a resync rather than live: the
    /// peer may have seen this session's ready long ago and will not offer
    /// a ticket unless asked.
    pub(super) fn on_session(&mut self, event: SessionEvent, caught_up: bool) {
        let Some(peer) = event.peer.clone() else {
            return;
        };
        if peer.starts_with(crate::transport::CONSOLE_PREFIX) {
            // A console: a hidden client that talks only to `control`.
            self.on_console_session(&event, &peer);
            return;
        }
        match event.phase {
            SessionPhase::Opened => {}
            SessionPhase::Ready => {
                let known = self.outbox.session(&peer).map(|s| s.get_id());
                if known == Some(event.session.get_id())
                    || !self.proven(&event, &peer, Purpose::Member)
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
                self.forget_proofs(&event.label);
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

    /// A console's session must have proven itself a console; with TLS,
    /// its certificate must be issued for [`CONSOLE_CERT_NAME`].
    fn on_console_session(&mut self, event: &SessionEvent, peer: &str) {
        match event.phase {
            SessionPhase::Opened => {}
            SessionPhase::Ready => {
                if self.proven(event, peer, Purpose::Console) {
                    self.certified_as(event, peer, CONSOLE_CERT_NAME);
                }
            }
            SessionPhase::Closed => self.forget_proofs(&event.label),
        }
    }

    fn forget_proofs(&mut self, label: &str) {
        self.args.proofs.forget(label);
        if let Some(certs) = &self.args.peer_certs {
            certs.forget(label);
        }
    }

    /// Whether the session proved, in swarmd's handshake, the very name it
    /// gave ractor_cluster. One that did not is closed and never ticketed.
    fn proven(&mut self, event: &SessionEvent, peer: &str, purpose: Purpose) -> bool {
        match self.args.proofs.check(&event.label, peer, purpose) {
            Ok(()) => true,
            Err(why) => {
                self.stats.refused_sessions += 1;
                warn!(%peer, label = %event.label, error = %why, "cluster session refused: it did not prove the name it claims");
                event.session.stop(Some(why));
                false
            }
        }
    }

    fn certified(&mut self, event: &SessionEvent, peer: &str) -> bool {
        self.certified_as(event, peer, peer)
    }

    /// With TLS, whether the session's certificate names its node; a session
    /// whose does not is closed, and never gets a ticket.
    fn certified_as(&mut self, event: &SessionEvent, peer: &str, name: &str) -> bool {
        let Some(certs) = &self.args.peer_certs else {
            return true;
        };
        match certs.check(&event.label, name) {
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
