//! The horizontal plane on one node (DESIGN §3): agents announce their state
//! and the hazards they see over the mesh, and read their peers' from a
//! board; yield requests reach this node's agents through it too. One
//! subscription per key and one outbox per tenant and node, however many
//! agents the node runs, so the cost of a peer's message is paid once per node.
//!
//! Bounds: the outbox holds `OUTBOX_CAPACITY` messages and drops the oldest
//! (counted), so announcing never waits on the mesh; the board holds
//! `MAX_PEERS` states and `MAX_HAZARDS` hazards and forgets what is older
//! than its TTL; the subscription's own queue drops the newest (counted).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use ractor::{ActorId, ActorRef};
use swarmd_messages::peer::{
    HazardSeen, PeerState, TagKind, TagMark, hazard_key, state_key, states_key, tag_key,
};
use swarmd_messages::swarm::{Cell, YieldRequest, yield_key};
use swarmd_messages::{decode_payload, encode_payload};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::debug;

use super::SituationMsg;
use super::peer_states::PeerStates;
use super::tags::{TagField, TagView};
use swarmd_actors::NodeCtx;
use swarmd_actors::ctx::PubSub;

/// A peer's state is believed this long after it arrived.
pub const STATE_TTL: Duration = Duration::from_millis(1500);
/// A shared hazard is avoided this long after it was last reported.
pub const HAZARD_TTL: Duration = Duration::from_secs(5);
pub const MAX_PEERS: usize = 4096;
pub const MAX_HAZARDS: usize = 256;
pub const OUTBOX_CAPACITY: usize = 256;
/// How long one answer to `tagged` serves every agent of the node.
pub const TAG_QUERY_EVERY: Duration = Duration::from_millis(100);

/// What the node's peer traffic has done, for stats and tests.
#[derive(Debug, Default)]
pub struct PeerCounts {
    pub announced: AtomicU64,
    /// Outbox messages dropped (oldest first) because the mesh lagged.
    pub dropped: AtomicU64,
    pub received: AtomicU64,
    /// Received messages that did not decode.
    pub undecodable: AtomicU64,
    /// States or hazards forgotten early because the board was full.
    pub evicted: AtomicU64,
}

/// One link per tenant, started when the tenant's first agent asks.
#[derive(Clone, Default)]
pub struct PeerLinks(Arc<Mutex<BTreeMap<String, Arc<PeerLink>>>>);

impl PeerLinks {
    /// Every tenant's tags standing now, by tenant.
    pub fn tags(&self) -> BTreeMap<String, Vec<TagView>> {
        let links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        links.iter().map(|(t, l)| (t.clone(), l.tags())).collect()
    }

    pub fn for_tenant(&self, ctx: &NodeCtx, tenant: &str) -> Arc<PeerLink> {
        let mut links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        links
            .entry(tenant.to_string())
            .or_insert_with(|| PeerLink::start(ctx.mesh.clone(), tenant))
            .clone()
    }
}

#[derive(Default)]
struct Board {
    states: PeerStates,
    /// Hazards by cell: when last reported.
    hazards: BTreeMap<Cell, Instant>,
    /// Stigmergic tags, marked here and by peers.
    tags: TagField,
    /// Agents that marked through this link: their marks coming back over
    /// the mesh are this node's own, already counted (at most `MAX_PEERS`).
    markers: BTreeSet<String>,
    /// The latest `tagged` answer: which kind, from which intensity, when.
    tag_query: Option<(TagKind, u32, Instant, Vec<Cell>)>,
    last_prune: Option<Instant>,
}

struct Outbox {
    queue: Mutex<VecDeque<(String, Vec<u8>)>>,
    ready: Notify,
}

/// A tenant's board and outbox on this node, and the two tasks that keep
/// them (stopped when the link is dropped).
pub struct PeerLink {
    tenant: String,
    board: Arc<Mutex<Board>>,
    /// This node's agents of the tenant that hear yield requests: their
    /// Situation layers, by agent (one subscription for them all).
    yielders: Mutex<BTreeMap<String, ActorRef<SituationMsg>>>,
    outbox: Arc<Outbox>,
    pub counts: Arc<PeerCounts>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

impl PeerLink {
    fn start(mesh: Arc<dyn PubSub>, tenant: &str) -> Arc<Self> {
        Arc::new_cyclic(|me: &Weak<PeerLink>| {
            let outbox = Arc::new(Outbox {
                queue: Mutex::new(VecDeque::new()),
                ready: Notify::new(),
            });
            let counts = Arc::new(PeerCounts::default());
            let tasks = vec![
                tokio::spawn(publish(mesh.clone(), outbox.clone())),
                tokio::spawn(listen(mesh, tenant.to_string(), me.clone())),
            ];
            PeerLink {
                tenant: tenant.to_string(),
                board: Arc::default(),
                yielders: Mutex::default(),
                outbox,
                counts,
                tasks,
            }
        })
    }

    /// Tells the tenant's peers (and this node's board at once) where the
    /// agent is and where it means to go. Never waits.
    pub fn announce(&self, state: PeerState) {
        let key = state_key(&self.tenant, &state.agent);
        if let Ok(payload) = encode_payload(&state) {
            self.send(key, payload);
        }
        self.counts.announced.fetch_add(1, Ordering::Relaxed);
        self.learn_state(state, Instant::now());
    }

    /// Hands the yield requests of the tenant's peers to `situation`, the
    /// Situation layer of `agent` on this node, until `stop_yield_requests`.
    pub fn hear_yield_requests(&self, agent: &str, situation: ActorRef<SituationMsg>) {
        let mut yielders = self.yielders.lock().unwrap_or_else(PoisonError::into_inner);
        yielders.insert(agent.to_string(), situation);
    }

    /// Stops handing requests to `agent`'s Situation `layer` (a restarted
    /// layer that registered since keeps hearing them).
    pub fn stop_yield_requests(&self, agent: &str, layer: ActorId) {
        let mut yielders = self.yielders.lock().unwrap_or_else(PoisonError::into_inner);
        if yielders.get(agent).is_some_and(|s| s.get_id() == layer) {
            yielders.remove(agent);
        }
    }

    /// Every listening agent but the asker may be on one of the cells: its
    /// Situation decides.
    fn hand_out(&self, request: YieldRequest) {
        let yielders = self.yielders.lock().unwrap_or_else(PoisonError::into_inner);
        for (agent, situation) in yielders.iter() {
            if *agent != request.from {
                let _ = situation.cast(SituationMsg::YieldAsked(request.clone()));
            }
        }
    }

    /// Tells the tenant's peers a hazard is (or is no longer) on `cell`.
    pub fn share_hazard(&self, seen: HazardSeen) {
        if let Ok(payload) = encode_payload(&seen) {
            self.send(hazard_key(&self.tenant), payload);
        }
        self.learn_hazard(seen, Instant::now());
    }

    /// Marks `cell` for every agent of the tenant (this node's at once).
    /// A tag still standing is only reinforced here, not sent again, so a
    /// crowd marking one cell costs the mesh little: peers on other nodes
    /// see one deposit per fade.
    pub fn mark(&self, from: &str, cell: Cell, kind: TagKind) {
        let now = Instant::now();
        let mut board = self.lock();
        if board.markers.len() < MAX_PEERS {
            board.markers.insert(from.to_string());
        }
        let before = board.tags.intensity(cell, kind, now);
        board.tags.mark(cell, kind, now);
        drop(board);
        // Peers hear a cell again only once its tag has mostly faded.
        if before >= super::tags::DEPOSIT / 2 {
            return;
        }
        let mark = TagMark {
            from: from.to_string(),
            cell,
            kind,
        };
        if let Ok(payload) = encode_payload(&mark) {
            self.send(tag_key(&self.tenant), payload);
        }
    }

    /// Cells whose `kind` tag is at least `threshold` now. Every agent of
    /// the node asks on every Situation tick, so the answer is worked out
    /// at most once per `TAG_QUERY_EVERY` and shared (a tag fades by at most
    /// 2 % of its range in that time, a congested one).
    pub fn tagged(&self, kind: TagKind, threshold: u32) -> Vec<Cell> {
        let now = Instant::now();
        let mut board = self.lock();
        if let Some((k, t, at, cells)) = &board.tag_query
            && (*k, *t) == (kind, threshold)
            && now.saturating_duration_since(*at) < TAG_QUERY_EVERY
        {
            return cells.clone();
        }
        let cells = board.tags.cells_at_least(kind, threshold, now);
        board.tag_query = Some((kind, threshold, now, cells.clone()));
        cells
    }

    /// Every tag standing now.
    pub fn tags(&self) -> Vec<TagView> {
        self.lock().tags.view(Instant::now())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Peers other than `me` within `radius` of `at`, newer than the TTL.
    pub fn peers_near(&self, me: &str, at: Cell, radius: u32) -> Vec<PeerState> {
        let now = Instant::now();
        let board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        board
            .states
            .near(at, radius, |s, got| s.agent != me && now - got <= STATE_TTL)
    }

    /// Hazards peers reported within the TTL.
    pub fn hazards(&self) -> Vec<Cell> {
        let now = Instant::now();
        let board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = |(c, seen): (&Cell, &Instant)| (now - *seen <= HAZARD_TTL).then_some(*c);
        board.hazards.iter().filter_map(fresh).collect()
    }

    fn send(&self, key: String, payload: Vec<u8>) {
        let mut queue = self
            .outbox
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if queue.len() >= OUTBOX_CAPACITY {
            queue.pop_front();
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queue.push_back((key, payload));
        drop(queue);
        self.outbox.ready.notify_one();
    }

    fn learn_state(&self, state: PeerState, now: Instant) {
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        let newer = board
            .states
            .get(&state.agent)
            .is_none_or(|(known, _)| known.sent_us <= state.sent_us);
        if !newer {
            return;
        }
        board.prune(now);
        if board.states.len() >= MAX_PEERS && board.states.get(&state.agent).is_none() {
            board.evict_stalest_state();
            self.counts.evicted.fetch_add(1, Ordering::Relaxed);
        }
        board.states.insert(state, now);
    }

    fn learn_mark(&self, mark: &TagMark, now: Instant) {
        let mut board = self.lock();
        if board.markers.contains(&mark.from) {
            return;
        }
        board.prune(now);
        board.tags.mark(mark.cell, mark.kind, now);
    }

    fn learn_hazard(&self, seen: HazardSeen, now: Instant) {
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.cleared {
            board.hazards.remove(&seen.cell);
            return;
        }
        board.prune(now);
        if board.hazards.len() >= MAX_HAZARDS && !board.hazards.contains_key(&seen.cell) {
            board.evict_stalest_hazard();
            self.counts.evicted.fetch_add(1, Ordering::Relaxed);
        }
        board.hazards.insert(seen.cell, now);
    }
}

impl Board {
    /// Forgets what is past its TTL, at most twice per state TTL.
    fn prune(&mut self, now: Instant) {
        if self.last_prune.is_some_and(|t| now - t < STATE_TTL / 2) {
            return;
        }
        self.last_prune = Some(now);
        self.states.retain(|_, got| now - got <= STATE_TTL);
        self.hazards.retain(|_, seen| now - *seen <= HAZARD_TTL);
        self.tags.forget_faded(now);
    }

    fn evict_stalest_state(&mut self) {
        if let Some(agent) = self.states.stalest() {
            self.states.remove(&agent);
        }
    }

    fn evict_stalest_hazard(&mut self) {
        let stalest = self.hazards.iter().min_by_key(|(_, seen)| **seen);
        if let Some(cell) = stalest.map(|(c, _)| *c) {
            self.hazards.remove(&cell);
        }
    }
}

async fn publish(mesh: Arc<dyn PubSub>, outbox: Arc<Outbox>) {
    loop {
        let next = outbox
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        match next {
            Some((key, payload)) => {
                if let Err(e) = mesh.publish(&key, payload).await {
                    debug!(%key, error = %e, "peer message not published");
                }
            }
            None => outbox.ready.notified().await,
        }
    }
}

/// Feeds the board from the tenant's state, hazard and tag keys.
async fn listen(mesh: Arc<dyn PubSub>, tenant: String, link: Weak<PeerLink>) {
    let keys = [
        states_key(&tenant),
        hazard_key(&tenant),
        tag_key(&tenant),
        yield_key(&tenant),
    ];
    let (mut states, mut hazards, mut tags, mut yields) = match (
        mesh.subscribe(&keys[0]).await,
        mesh.subscribe(&keys[1]).await,
        mesh.subscribe(&keys[2]).await,
        mesh.subscribe(&keys[3]).await,
    ) {
        (Ok(s), Ok(h), Ok(t), Ok(y)) => (s, h, t, y),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            debug!(%tenant, error = %e, "no mesh: agents coordinate by perception alone");
            return;
        }
    };
    loop {
        let (sample, which) = tokio::select! {
            biased; // no random branch choice: the simulator replays it
            Some(s) = states.recv() => (s, 0),
            Some(h) = hazards.recv() => (h, 1),
            Some(t) = tags.recv() => (t, 2),
            Some(y) = yields.recv() => (y, 3),
            else => return,
        };
        let Some(link) = link.upgrade() else { return };
        link.counts.received.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let learnt = match which {
            0 => decode_payload::<PeerState>(&sample.payload).map(|s| link.learn_state(s, now)),
            1 => decode_payload::<HazardSeen>(&sample.payload).map(|h| link.learn_hazard(h, now)),
            2 => decode_payload::<TagMark>(&sample.payload).map(|m| link.learn_mark(&m, now)),
            _ => decode_payload::<YieldRequest>(&sample.payload).map(|r| link.hand_out(r)),
        };
        if learnt.is_err() {
            link.counts.undecodable.fetch_add(1, Ordering::Relaxed);
        }
    }
}
