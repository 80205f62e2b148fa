//! The peer board of a domain over the mesh: each agent tells its tenant's
//! peers its domain's peer state, and every agent of the domain on the node
//! reads the states heard within a TTL. One subscription and one publisher
//! per tenant and node, shared by the node's agents of the domain.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::debug;

use super::Domain;
use crate::NodeCtx;
use crate::ctx::PubSub;

/// Peers remembered at most per board; beyond, the stalest is forgotten.
pub const MAX_PEERS: usize = 4096;

/// What travels on the mesh: whose state it is, as JSON.
#[derive(Serialize, Deserialize)]
struct PeerSample<S> {
    agent: String,
    state: S,
}

/// The mesh key of `agent`'s state.
fn state_key(tenant: &str, domain: &str, agent: &str) -> String {
    format!("swarmd/{tenant}/domain/{domain}/peer/{agent}")
}

/// Each tenant's board of domain `D` on this node.
pub struct DomainPeers<D: Domain>(Arc<Mutex<BTreeMap<String, Weak<PeerBoard<D>>>>>);

impl<D: Domain> Default for DomainPeers<D> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<D: Domain> Clone for DomainPeers<D> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<D: Domain> DomainPeers<D> {
    /// `tenant`'s board, started if no agent of it holds one.
    pub fn for_tenant(
        &self,
        ctx: &NodeCtx,
        tenant: &str,
        domain: &str,
        ttl: Duration,
    ) -> Arc<PeerBoard<D>> {
        let mut boards = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(board) = boards.get(tenant).and_then(Weak::upgrade) {
            return board;
        }
        let board = PeerBoard::start(ctx.mesh.clone(), tenant, domain, ttl);
        boards.insert(tenant.to_string(), Arc::downgrade(&board));
        board
    }
}

/// The peer states of one tenant's agents of a domain, as heard.
pub struct PeerBoard<D: Domain> {
    tenant: String,
    domain: String,
    ttl: Duration,
    heard: Mutex<BTreeMap<String, (D::PeerState, Instant)>>,
    /// The states to publish, newest per agent (an older one not yet sent
    /// is replaced: the overflow policy of a board that only wants the latest).
    outbox: Mutex<BTreeMap<String, Vec<u8>>>,
    ready: Arc<Notify>,
    pub undecodable: AtomicU64,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    _domain: PhantomData<fn() -> D>,
}

impl<D: Domain> Drop for PeerBoard<D> {
    fn drop(&mut self) {
        let tasks = self.tasks.get_mut().unwrap_or_else(PoisonError::into_inner);
        tasks.iter().for_each(JoinHandle::abort);
    }
}

impl<D: Domain> PeerBoard<D> {
    fn start(mesh: Arc<dyn PubSub>, tenant: &str, domain: &str, ttl: Duration) -> Arc<Self> {
        let board = Arc::new(Self {
            tenant: tenant.to_string(),
            domain: domain.to_string(),
            ttl,
            heard: Mutex::default(),
            outbox: Mutex::default(),
            ready: Arc::new(Notify::new()),
            undecodable: AtomicU64::new(0),
            tasks: Mutex::default(),
            _domain: PhantomData,
        });
        let weak = Arc::downgrade(&board);
        let tasks = vec![
            tokio::spawn(publish(mesh.clone(), weak.clone())),
            tokio::spawn(listen(mesh, weak, state_key(tenant, domain, "*"))),
        ];
        *board.tasks.lock().unwrap_or_else(PoisonError::into_inner) = tasks;
        board
    }

    /// Tells the tenant's peers (and this node's board at once) `agent`'s
    /// state. Never waits.
    pub fn announce(&self, agent: &str, state: D::PeerState) {
        let sample = PeerSample {
            agent: agent.to_string(),
            state,
        };
        if let Ok(payload) = serde_json::to_vec(&sample) {
            let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
            outbox.insert(agent.to_string(), payload);
            self.ready.notify_one();
        }
        self.learn(sample.agent, sample.state, Instant::now());
    }

    /// The states of every peer but `me` heard within the TTL.
    pub fn peers(&self, me: &str) -> Vec<D::PeerState> {
        let now = Instant::now();
        let heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        heard
            .iter()
            .filter(|(agent, (_, at))| *agent != me && now.duration_since(*at) <= self.ttl)
            .map(|(_, (state, _))| state.clone())
            .collect()
    }

    /// Forgets `agent` (it stopped on this node).
    pub fn forget(&self, agent: &str) {
        let mut heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        heard.remove(agent);
    }

    fn learn(&self, agent: String, state: D::PeerState, at: Instant) {
        let mut heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        if heard.len() >= MAX_PEERS && !heard.contains_key(&agent) {
            let stalest = heard
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(a, _)| a.clone());
            stalest.map(|a| heard.remove(&a));
        }
        heard.insert(agent, (state, at));
    }

    fn next_to_publish(&self) -> Option<(String, Vec<u8>)> {
        let mut outbox = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        outbox.pop_first()
    }
}

async fn publish<D: Domain>(mesh: Arc<dyn PubSub>, board: Weak<PeerBoard<D>>) {
    loop {
        let Some(b) = board.upgrade() else { return };
        match b.next_to_publish() {
            Some((agent, payload)) => {
                let key = state_key(&b.tenant, &b.domain, &agent);
                drop(b);
                if let Err(e) = mesh.publish(&key, payload).await {
                    debug!(%key, error = %e, "peer state not published");
                }
            }
            None => {
                let ready = b.ready.clone();
                drop(b);
                ready.notified().await;
            }
        }
    }
}

async fn listen<D: Domain>(mesh: Arc<dyn PubSub>, board: Weak<PeerBoard<D>>, key: String) {
    let mut states = match mesh.subscribe(&key).await {
        Ok(s) => s,
        Err(e) => {
            debug!(%key, error = %e, "no mesh: agents know only this node's peers");
            return;
        }
    };
    while let Some(sample) = states.recv().await {
        let Some(b) = board.upgrade() else { return };
        match serde_json::from_slice::<PeerSample<D::PeerState>>(&sample.payload) {
            Ok(s) => b.learn(s.agent, s.state, Instant::now()),
            Err(_) => {
                b.undecodable.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
