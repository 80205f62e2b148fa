//! Outgoing messages per peer, sent as batched frames through the peer
//! gateway's proxy under that peer's session (never via ractor's global
//! registry or `pg`: the directory is this node's own).

use std::collections::BTreeMap;
use std::time::Duration;

use ractor::{ActorCell, ActorRef};
use ractor_cluster::node::NodeSessionMessage;
use swarmd_messages::{
    Envelope, MAX_FRAME_BYTES, NO_TICKET, SYSTEM_TENANT, Ticket, TraceContext, WireFrame, WireMsg,
    encode,
};
use tokio::time::Instant;
use tracing::warn;

use super::GatewayMsg;

/// Messages queued per peer at most; beyond, new ones are dropped and counted.
pub const MAX_QUEUED_PER_PEER: usize = 65_536;
/// Messages per frame at most, so one frame stays far below the frame limit.
pub const MAX_MSGS_PER_FRAME: usize = 1024;
/// Handshake messages queued per peer at most; beyond, the oldest is dropped
/// (a later offer supersedes an earlier one).
const MAX_HANDSHAKE_QUEUED: usize = 16;

/// Encoded frame size at most: below the codec's and ractor_cluster's 16 MiB
/// limits, with room for ractor_cluster's own envelope.
const FRAME_BUDGET: usize = MAX_FRAME_BYTES - 64 * 1024;

/// The name a node's gateway runs under; peers find its proxy by it.
pub fn gateway_name(node: &str) -> String {
    format!("swarmd.gateway.{node}")
}

struct Peer {
    session: ActorRef<NodeSessionMessage>,
    /// The proxy of the peer's gateway, once found among the session's children.
    gateway: Option<ActorRef<GatewayMsg>>,
    /// The ticket the peer issued this node, once confirmed; until then
    /// `queue` waits and only `handshake` leaves.
    ticket: Option<Ticket>,
    handshake: Vec<WireMsg>,
    queue: Vec<WireMsg>,
    /// When the last ticketed frame left for the peer: any such frame tells
    /// the peer this node is alive, so a heartbeat is only needed after quiet.
    last_frame: Option<Instant>,
}

pub struct Outbox {
    me: String,
    incarnation: u64,
    peers: BTreeMap<String, Peer>,
    pub dropped: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Queued {
    Yes,
    NoSession,
    Full,
}

impl Outbox {
    pub fn new(me: &str, incarnation: u64) -> Self {
        Self {
            me: me.to_string(),
            incarnation,
            peers: BTreeMap::new(),
            dropped: 0,
        }
    }

    /// A (new) session to `node` is ready. Anything queued for an older
    /// session is dropped: it may or may not have arrived.
    pub fn session_ready(&mut self, node: &str, session: ActorRef<NodeSessionMessage>) {
        let peer = Peer {
            session,
            gateway: None,
            ticket: None,
            handshake: Vec::new(),
            queue: Vec::new(),
            last_frame: None,
        };
        if let Some(old) = self.peers.insert(node.to_string(), peer) {
            self.dropped += old.queue.len() as u64;
        }
    }

    /// The session closed; returns whether it was the current one for `node`.
    pub fn session_closed(&mut self, node: &str, session: &ActorRef<NodeSessionMessage>) -> bool {
        let current = self
            .peers
            .get(node)
            .is_some_and(|p| p.session.get_id() == session.get_id());
        if current && let Some(old) = self.peers.remove(node) {
            self.dropped += old.queue.len() as u64;
        }
        current
    }

    pub fn session(&self, node: &str) -> Option<&ActorRef<NodeSessionMessage>> {
        self.peers.get(node).map(|p| &p.session)
    }

    pub fn connected(&self) -> impl Iterator<Item = &String> {
        self.peers.keys()
    }

    /// Whether `node` should get a heartbeat now: nothing is queued for it
    /// and no frame has left for it for `quiet`.
    pub fn needs_heartbeat(&self, node: &str, now: Instant, quiet: Duration) -> bool {
        self.peers
            .get(node)
            .is_some_and(|p| p.queue.is_empty() && heard_nothing_for(p.last_frame, now, quiet))
    }

    /// Sets (or, with `None`, withdraws) the ticket for frames to `node`.
    pub fn set_ticket(&mut self, node: &str, ticket: Option<Ticket>) {
        if let Some(peer) = self.peers.get_mut(node) {
            peer.ticket = ticket;
        }
    }

    /// Queues a handshake message: it leaves unticketed, ahead of the queue.
    pub fn push_handshake(&mut self, node: &str, msg: WireMsg) -> Queued {
        debug_assert!(msg.is_handshake());
        let Some(peer) = self.peers.get_mut(node) else {
            return Queued::NoSession;
        };
        if peer.handshake.len() >= MAX_HANDSHAKE_QUEUED {
            peer.handshake.remove(0);
            self.dropped += 1;
        }
        peer.handshake.push(msg);
        Queued::Yes
    }

    pub fn push(&mut self, node: &str, msg: WireMsg) -> Queued {
        let Some(peer) = self.peers.get_mut(node) else {
            return Queued::NoSession;
        };
        if peer.queue.len() >= MAX_QUEUED_PER_PEER {
            return Queued::Full;
        }
        peer.queue.push(msg);
        if peer.queue.len() >= MAX_MSGS_PER_FRAME {
            // A full frame leaves now rather than at the next flush.
            self.flush_peer(node);
        }
        Queued::Yes
    }

    pub fn has_queued(&self) -> bool {
        self.peers
            .values()
            .any(|p| !p.handshake.is_empty() || !p.queue.is_empty())
    }

    /// Sends everything queued whose peer gateway can be found; the rest
    /// waits for the next flush.
    pub fn flush(&mut self) {
        let nodes: Vec<String> = self.peers.keys().cloned().collect();
        for node in nodes {
            self.flush_peer(&node);
        }
    }

    fn flush_peer(&mut self, node: &str) {
        let Some(peer) = self.peers.get_mut(node) else {
            return;
        };
        let ready = peer.ticket.is_some() && !peer.queue.is_empty();
        if peer.handshake.is_empty() && !ready {
            return;
        }
        let Some(gateway) = resolve(peer, node) else {
            return;
        };
        let sender = (self.me.as_str(), self.incarnation);
        if !peer.handshake.is_empty() {
            let msgs = std::mem::take(&mut peer.handshake);
            self.dropped += send_frames(sender, NO_TICKET, msgs, &gateway, &mut peer.gateway);
        }
        let Some(ticket) = peer.ticket else {
            return;
        };
        while !peer.queue.is_empty() && peer.gateway.is_some() {
            let take = peer.queue.len().min(MAX_MSGS_PER_FRAME);
            let msgs: Vec<WireMsg> = peer.queue.drain(..take).collect();
            self.dropped += send_frames(sender, ticket, msgs, &gateway, &mut peer.gateway);
            if peer.gateway.is_some() {
                peer.last_frame = Some(Instant::now());
            }
        }
    }
}

/// True when no frame left after `now - quiet`.
fn heard_nothing_for(last_frame: Option<Instant>, now: Instant, quiet: Duration) -> bool {
    last_frame.is_none_or(|at| now.saturating_duration_since(at) >= quiet)
}

/// Encodes and casts `msgs`; returns how many were lost. A cast that fails
/// means the proxy died (the peer's gateway restarted): it is forgotten so
/// the next flush finds the new one.
fn send_frames(
    (from, incarnation): (&str, u64),
    ticket: Ticket,
    msgs: Vec<WireMsg>,
    gateway: &ActorRef<GatewayMsg>,
    known: &mut Option<ActorRef<GatewayMsg>>,
) -> u64 {
    let mut frames = Vec::new();
    let mut dropped = encode_frames(from, incarnation, ticket, msgs, &mut frames);
    for (bytes, count) in frames {
        if gateway.cast(GatewayMsg::Frame(bytes)).is_err() {
            *known = None;
            dropped += count;
        }
    }
    dropped
}

/// Encodes `msgs` into frames below the frame limit, halving a batch that is
/// too big. Returns how many messages were dropped: only one that is too big
/// on its own (it is logged).
fn encode_frames(
    from: &str,
    incarnation: u64,
    ticket: Ticket,
    msgs: Vec<WireMsg>,
    out: &mut Vec<(Vec<u8>, u64)>,
) -> u64 {
    let count = msgs.len() as u64;
    let frame = WireFrame {
        from: from.to_string(),
        incarnation,
        ticket,
        msgs,
    };
    let envelope = Envelope::new(SYSTEM_TENANT, TraceContext::default(), frame);
    match encode(&envelope) {
        Ok(bytes) if bytes.len() <= FRAME_BUDGET => {
            out.push((bytes, count));
            0
        }
        result => {
            let mut msgs = envelope.payload.msgs;
            if msgs.len() == 1 {
                let why = result
                    .err()
                    .map_or("too large".to_string(), |e| e.to_string());
                warn!(error = %why, "message too large for one frame; dropped");
                return 1;
            }
            let second = msgs.split_off(msgs.len() / 2);
            encode_frames(from, incarnation, ticket, msgs, out)
                + encode_frames(from, incarnation, ticket, second, out)
        }
    }
}

fn resolve(peer: &mut Peer, node: &str) -> Option<ActorRef<GatewayMsg>> {
    let alive = |g: &ActorRef<GatewayMsg>| g.get_status() <= ractor::ActorStatus::Running;
    if let Some(g) = peer.gateway.as_ref().filter(|g| alive(g)) {
        return Some(g.clone());
    }
    let name = gateway_name(node);
    let proxy: Option<ActorCell> = peer
        .session
        .get_children()
        .into_iter()
        .find(|c| c.get_name().as_deref() == Some(name.as_str()));
    peer.gateway = proxy.map(ActorRef::from);
    peer.gateway.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_batches_split_into_frames_under_the_budget_and_lose_only_the_oversized() {
        let chunk = vec![0u8; 3 * 1024 * 1024];
        let cast = |payload: Vec<u8>| WireMsg::Cast {
            to: "a".into(),
            payload,
        };
        let mut msgs: Vec<WireMsg> = (0..6).map(|_| cast(chunk.clone())).collect();
        msgs.push(cast(vec![0u8; MAX_FRAME_BYTES]));
        let mut frames = Vec::new();
        let dropped = encode_frames("n", 1, 7, msgs, &mut frames);
        assert_eq!(dropped, 1);
        assert_eq!(frames.iter().map(|(_, n)| n).sum::<u64>(), 6);
        assert!(frames.len() >= 2);
        assert!(frames.iter().all(|(bytes, _)| bytes.len() <= FRAME_BUDGET));
    }

    #[test]
    fn a_heartbeat_is_due_only_after_quiet() {
        let quiet = Duration::from_millis(50);
        let now = Instant::now() + Duration::from_secs(1);
        assert!(heard_nothing_for(None, now, quiet), "never sent: due");
        let recent = now - Duration::from_millis(49);
        assert!(!heard_nothing_for(Some(recent), now, quiet));
        assert!(heard_nothing_for(Some(now - quiet), now, quiet));
        // A frame stamped after `now` (a flush in the same instant) is recent.
        assert!(!heard_nothing_for(Some(now + quiet), now, quiet));
    }
}
