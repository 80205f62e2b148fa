//! Which node sent a frame: tickets bound to sessions.
//!
//! ractor_cluster hands a cast to its actor with no sender, and advertises
//! every remotable actor to every session, so a frame's `from` proves
//! nothing: any holder of the cookie could write "from: edge-1". What a
//! session does prove is where a cast *goes*: one sent through the proxy
//! under P's session reaches P's node and nobody else. So:
//!
//! 1. When a session to P is ready, this gateway issues P a fresh random
//!    ticket and sends it over P's session (`Ticket`). From then on it
//!    accepts a frame claiming `from: P` only if it carries that ticket.
//! 2. The offer itself arrives unauthenticated, so before P uses a ticket
//!    said to come from Q, P sends Q a nonce with it (`Confirm`, over Q's
//!    session); Q answers (`Confirmed`) only to the node it issued that
//!    ticket to. Only the real Q saw the nonce, so a forged offer can never
//!    redirect P's traffic.
//!
//! The nonce is a MAC of (Q, ticket, ask) under a secret of this gateway's,
//! so P keeps no state per offer: forged offers, however many, cannot
//! evict or crowd out a genuine one awaiting confirmation.
//!
//! The peer name a ticket is bound to is the one the session authenticated
//! (ractor_cluster's handshake, and with TLS the certificate's SAN).

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use swarmd_actors::ctx::Entropy;
use swarmd_messages::{NO_TICKET, Ticket};

/// Tickets issued at most: one per peer session, so this bounds sessions
/// that can speak to the gateway at once.
pub const MAX_TICKETS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub ticket: Ticket,
    pub nonce: u128,
    /// The issuer asked for a ticket of this node's in return.
    pub ask: bool,
}

pub struct Tickets {
    /// Ticket → the peer it was issued to.
    issued: BTreeMap<Ticket, String>,
    issued_to: BTreeMap<String, Ticket>,
    /// Keys the nonces of offers awaiting their issuer's confirmation.
    offer_secret: [u8; 32],
}

/// Why a frame's claimed sender was not believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The ticket belongs to another peer's session.
    Forged { holder: String },
    /// No such ticket: stale (a session or gateway since replaced) or made up.
    Unknown,
}

impl Tickets {
    pub fn new(entropy: &dyn Entropy) -> Tickets {
        let mut offer_secret = [0u8; 32];
        entropy.fill_bytes(&mut offer_secret);
        Tickets {
            issued: BTreeMap::new(),
            issued_to: BTreeMap::new(),
            offer_secret,
        }
    }

    /// A fresh ticket for `peer`'s new session; the old one stops working.
    /// `None` when [`MAX_TICKETS`] sessions already hold one.
    pub fn issue(&mut self, peer: &str, entropy: &dyn Entropy) -> Option<Ticket> {
        self.revoke(peer);
        if self.issued.len() >= MAX_TICKETS {
            return None;
        }
        let ticket = loop {
            let t = random_u128(entropy);
            if t != NO_TICKET && !self.issued.contains_key(&t) {
                break t;
            }
        };
        self.issued.insert(ticket, peer.to_string());
        self.issued_to.insert(peer.to_string(), ticket);
        Some(ticket)
    }

    /// The ticket `peer`'s current session holds, issuing one if it has none.
    pub fn current_or_issue(&mut self, peer: &str, entropy: &dyn Entropy) -> Option<Ticket> {
        match self.issued_to.get(peer) {
            Some(ticket) => Some(*ticket),
            None => self.issue(peer, entropy),
        }
    }

    /// `peer`'s session closed: its ticket goes with it.
    pub fn revoke(&mut self, peer: &str) {
        if let Some(old) = self.issued_to.remove(peer) {
            self.issued.remove(&old);
        }
    }

    /// Checks a ticketed frame's claimed sender.
    pub fn check(&self, from: &str, ticket: Ticket) -> Result<(), Refusal> {
        match self.issued.get(&ticket) {
            Some(holder) if holder == from => Ok(()),
            Some(holder) => Err(Refusal::Forged {
                holder: holder.clone(),
            }),
            None => Err(Refusal::Unknown),
        }
    }

    /// Who `ticket` was issued to, to answer a `Confirm`.
    pub fn holder(&self, ticket: Ticket) -> Option<&str> {
        self.issued.get(&ticket).map(String::as_str)
    }

    /// An offer said to come from `issuer`: the nonce to confirm it with.
    pub fn offered(&self, issuer: &str, ticket: Ticket, ask: bool) -> u128 {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.offer_secret)
            .expect("HMAC takes any key length");
        mac.update(&(issuer.len() as u64).to_le_bytes());
        mac.update(issuer.as_bytes());
        mac.update(&ticket.to_le_bytes());
        mac.update(&[u8::from(ask)]);
        let tag = mac.finalize().into_bytes();
        u128::from_le_bytes(tag[..16].try_into().expect("a SHA-256 tag has 32 bytes"))
    }

    /// `issuer` confirmed an offer: the offer, when `nonce` is the one this
    /// gateway asked it about; its ticket is then the one to use towards
    /// `issuer`.
    pub fn confirmed(&self, issuer: &str, ticket: Ticket, nonce: u128) -> Option<Offer> {
        [false, true]
            .into_iter()
            .find(|&ask| self.offered(issuer, ticket, ask) == nonce)
            .map(|ask| Offer { ticket, nonce, ask })
    }
}

fn random_u128(entropy: &dyn Entropy) -> u128 {
    let mut bytes = [0u8; 16];
    entropy.fill_bytes(&mut bytes);
    u128::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Counter(AtomicU64);

    impl Entropy for Counter {
        fn next_u64(&self) -> u64 {
            self.0.fetch_add(1, Ordering::Relaxed)
        }
        fn fill_bytes(&self, dest: &mut [u8]) {
            let n = self.next_u64().to_le_bytes();
            for (i, b) in dest.iter_mut().enumerate() {
                *b = n[i % 8];
            }
        }
    }

    #[test]
    fn a_ticket_proves_only_the_peer_it_was_issued_to() {
        let rng = Counter(AtomicU64::new(1));
        let mut t = Tickets::new(&rng);
        let a = t.issue("edge-1", &rng).unwrap();
        let b = t.issue("rogue", &rng).unwrap();
        assert_eq!(t.check("edge-1", a), Ok(()));
        let forged = t.check("edge-1", b).unwrap_err();
        assert_eq!(
            forged,
            Refusal::Forged {
                holder: "rogue".into()
            }
        );
        assert_eq!(t.check("edge-1", 12345), Err(Refusal::Unknown));
        assert_eq!(t.check("edge-1", NO_TICKET), Err(Refusal::Unknown));
    }

    #[test]
    fn a_new_session_or_a_close_revokes_the_old_ticket() {
        let rng = Counter(AtomicU64::new(1));
        let mut t = Tickets::new(&rng);
        let old = t.issue("edge-1", &rng).unwrap();
        let new = t.issue("edge-1", &rng).unwrap();
        assert_ne!(old, new);
        assert_eq!(t.check("edge-1", old), Err(Refusal::Unknown));
        assert_eq!(t.holder(new), Some("edge-1"));
        assert_eq!(
            t.current_or_issue("edge-1", &rng),
            Some(new),
            "re-offered, not replaced"
        );
        t.revoke("edge-1");
        assert_eq!(t.check("edge-1", new), Err(Refusal::Unknown));
    }

    #[test]
    fn only_a_confirmation_with_the_nonce_asked_adopts_an_offer() {
        let rng = Counter(AtomicU64::new(1));
        let t = Tickets::new(&rng);
        let nonce = t.offered("cloud", 77, true);
        assert_eq!(t.confirmed("cloud", 77, nonce.wrapping_add(1)), None);
        assert_eq!(t.confirmed("edge-2", 77, nonce), None);
        assert_eq!(t.confirmed("cloud", 78, nonce), None);
        let offer = t.confirmed("cloud", 77, nonce).unwrap();
        assert_eq!((offer.ticket, offer.ask), (77, true));
        let other = Tickets::new(&rng);
        assert_eq!(
            other.confirmed("cloud", 77, nonce),
            None,
            "another gateway's nonce"
        );
    }

    #[test]
    fn forged_offers_cannot_crowd_out_a_genuine_one() {
        let rng = Counter(AtomicU64::new(1));
        let mut t = Tickets::new(&rng);
        let genuine = t.offered("cloud", 1, false);
        for forged in 2..10_000u128 {
            t.offered("cloud", forged, true);
        }
        assert!(t.confirmed("cloud", 1, genuine).is_some());
        for peer in 0..MAX_TICKETS {
            assert!(t.issue(&format!("n{peer}"), &rng).is_some());
        }
        assert_eq!(t.issue("one-too-many", &rng), None);
        t.revoke("n0");
        assert!(t.issue("one-too-many", &rng).is_some());
    }
}
