//! The ticket handshake (see `tickets.rs`) and the check every frame passes:
//! a frame is acted on only if it carries the ticket issued to the node it
//! names as its sender.

use swarmd_messages::{NO_TICKET, Ticket, WireFrame, WireMsg};
use tracing::{debug, warn};

use super::actor::GatewayState;
use super::outbox::Queued;
use super::tickets::Refusal;

impl GatewayState {
    /// A (new) session to `peer` is ready: issue it a fresh ticket over that
    /// session. `ask` when the peer will not offer one on its own (this
    /// gateway restarted and is catching up on sessions already open).
    pub(super) fn offer_ticket(&mut self, peer: &str, ask: bool) {
        let ticket = self.tickets.issue(peer, self.args.ctx.entropy.as_ref());
        self.send_offer(peer, ticket, ask);
    }

    /// The peer asked for a ticket: re-offer the one its session holds, so
    /// frames already on their way with it stay valid.
    fn answer_ask(&mut self, peer: &str) {
        let entropy = self.args.ctx.entropy.clone();
        let ticket = self.tickets.current_or_issue(peer, entropy.as_ref());
        self.send_offer(peer, ticket, false);
    }

    fn send_offer(&mut self, peer: &str, ticket: Option<Ticket>, ask: bool) {
        let Some(ticket) = ticket else {
            warn!(%peer, "too many peer sessions: no ticket issued, its frames will be refused");
            return;
        };
        self.send_handshake(peer, WireMsg::Ticket { ticket, ask });
    }

    /// Returns the frame's messages if its sender is proven, and handles
    /// an unticketed handshake frame itself.
    pub(super) fn admit(&mut self, frame: WireFrame) -> Option<Vec<WireMsg>> {
        if frame.ticket == NO_TICKET {
            self.on_handshake(&frame.from, frame.msgs);
            return None;
        }
        match self.tickets.check(&frame.from, frame.ticket) {
            Ok(()) => Some(frame.msgs),
            Err(refusal) => {
                self.refuse(&frame.from, &refusal);
                None
            }
        }
    }

    fn refuse(&mut self, claimed: &str, refusal: &Refusal) {
        self.stats.refused_frames += 1;
        let count = self.stats.refused_frames;
        // Logged at powers of two: a flood cannot flood the log.
        if count.is_power_of_two() {
            match refusal {
                Refusal::Forged { holder } => warn!(
                    %claimed, session = %holder, count,
                    "frame refused: it claims another node as its sender than its session's"
                ),
                Refusal::Unknown => warn!(
                    %claimed, count,
                    "frame refused: its ticket is stale or was never issued"
                ),
            }
        }
    }

    fn on_handshake(&mut self, from: &str, msgs: Vec<WireMsg>) {
        for msg in msgs {
            match msg {
                WireMsg::Ticket { ticket, ask } => self.on_offer(from, ticket, ask),
                WireMsg::Confirm { ticket, nonce } => self.on_confirm(from, ticket, nonce),
                WireMsg::Confirmed { ticket, nonce } => self.on_confirmed(from, ticket, nonce),
                _ => self.refuse(from, &Refusal::Unknown),
            }
        }
    }

    /// An offer claimed to come from `issuer`: ask the issuer, over its own
    /// session, whether it is its own. Nothing changes until it says so, so
    /// a forged offer can neither divert nor stall traffic.
    fn on_offer(&mut self, issuer: &str, ticket: Ticket, ask: bool) {
        if self.outbox.session(issuer).is_none() {
            debug!(%issuer, "ticket offer from a node without a session ignored");
            return;
        }
        let nonce = self.tickets.offered(issuer, ticket, ask);
        self.send_handshake(issuer, WireMsg::Confirm { ticket, nonce });
    }

    /// Answers only to the node the ticket was issued to, over its session:
    /// whoever sent this `Confirm`, only that node learns the answer.
    fn on_confirm(&mut self, from: &str, ticket: Ticket, nonce: u128) {
        match self.tickets.holder(ticket) {
            Some(holder) if holder == from => {
                let holder = holder.to_string();
                self.send_handshake(&holder, WireMsg::Confirmed { ticket, nonce });
            }
            _ => self.refuse(from, &Refusal::Unknown),
        }
    }

    fn on_confirmed(&mut self, issuer: &str, ticket: Ticket, nonce: u128) {
        let Some(offer) = self.tickets.confirmed(issuer, ticket, nonce) else {
            return self.refuse(issuer, &Refusal::Unknown);
        };
        debug!(peer = %issuer, "ticket confirmed; frames to it flow");
        self.outbox.set_ticket(issuer, Some(offer.ticket));
        self.schedule_flush();
        if offer.ask {
            self.answer_ask(issuer);
        }
    }

    fn send_handshake(&mut self, peer: &str, msg: WireMsg) {
        if self.outbox.push_handshake(peer, msg) != Queued::Yes {
            self.stats.dropped_outgoing += 1;
        }
        self.schedule_flush();
    }
}
