//! The production mesh: a zenoh peer session behind the `PubSub` seam,
//! scoped to the tenants the node serves. Every node opens one, the cloud
//! too: it hosts no agents, but edges joined through it learn of each other
//! from its gossip and link directly.

mod gateway;
mod linker;
mod plan;
mod scope;
mod sources;
mod zconfig;

pub use gateway::AgentRouted;
pub use linker::{LINK_TIMEOUT, MeshLinker, MeshLinkerArgs, mesh_linker_child};
pub use plan::{
    AGENT_USER_PREFIX, AGENT_USERS_FILE, GatewayPlan, MESH_USER, MESH_USERS_FILE, MeshAuth,
    MeshPlan, agent_credential,
};
pub use scope::TenantScoped;
use sources::Sources;

use std::sync::Arc;

use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};

use std::str::FromStr;
use swarmd_actors::ctx::{MeshError, MeshIdentity, MeshStats, PubSub, Sample, Subscription};
use tracing::info;
use zenoh::config::Locator;
use zenoh::internal::runtime::{Runtime, RuntimeBuilder};
use zenoh::qos::CongestionControl;
use zenoh_protocol::core::ZenohIdProto;

/// Opens a node's mesh, scoped to the tenants it serves, with the agent
/// gateway when the plan has one (the agent protocol then goes through it).
pub async fn open(plan: &MeshPlan) -> Result<Arc<dyn PubSub>, MeshError> {
    let mut mesh: Arc<dyn PubSub> = Arc::new(ZenohMesh::open(plan).await?);
    if let Some(gateway) = &plan.agents {
        let agents = Arc::new(ZenohMesh::open_gateway(plan, gateway).await?);
        mesh = Arc::new(AgentRouted::new(mesh, agents));
    }
    Ok(Arc::new(TenantScoped::new(mesh, &plan.tenants)))
}

pub struct ZenohMesh {
    session: zenoh::Session,
    /// Held for what the public API lacks: linking to a member's session at
    /// run time (zenoh's gossip does it too, but never on loopback).
    runtime: Runtime,
    subscription_capacity: usize,
    counts: Arc<Counts>,
    /// Carried on every sample published, so receivers count per node.
    node: String,
    identity: MeshIdentity,
    sources: Arc<Sources>,
}

#[derive(Default)]
struct Counts {
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
}

impl ZenohMesh {
    /// A peer session that carries only `swarmd/<tenant>/**` of the plan's
    /// tenants (zenoh's access control), over mutual TLS when `[mesh.tls]`
    /// is set, cookie-authenticated when the plan says so.
    pub async fn open(plan: &MeshPlan) -> Result<Self, MeshError> {
        let mesh = Self::start(zconfig::zenoh_config(plan)?, plan).await?;
        info!(
            zid = %mesh.session.zid(),
            listen = ?plan.listen,
            connect = ?plan.connect,
            tls = plan.section.tls.is_some(),
            authenticated = plan.auth.is_some() || plan.section.tls.is_some(),
            "mesh session open"
        );
        Ok(mesh)
    }

    /// The agent gateway's session (see [`GatewayPlan`]).
    pub async fn open_gateway(plan: &MeshPlan, gateway: &GatewayPlan) -> Result<Self, MeshError> {
        let mesh = Self::start(zconfig::gateway_config(gateway)?, plan).await?;
        info!(zid = %mesh.session.zid(), listen = ?gateway.listen, "agent gateway open");
        Ok(mesh)
    }

    async fn start(zconfig: zenoh::Config, plan: &MeshPlan) -> Result<Self, MeshError> {
        let transport = |e: zenoh::Error| MeshError::Transport(e.to_string());
        // What `zenoh::open` does, keeping the runtime.
        let mut runtime = RuntimeBuilder::new(zconfig)
            .build()
            .await
            .map_err(transport)?;
        let session = zenoh::session::init(runtime.clone().into())
            .await
            .map_err(transport)?;
        runtime.start().await.map_err(transport)?;
        let identity = MeshIdentity {
            id: session.zid().to_string(),
            locators: runtime
                .get_locators()
                .iter()
                .map(|l| l.to_string())
                .collect(),
        };
        Ok(Self {
            session,
            runtime,
            subscription_capacity: plan.section.subscription_capacity,
            counts: Arc::default(),
            node: plan.node.clone(),
            identity,
            sources: Arc::new(Sources::new(&plan.node)),
        })
    }
}

fn bad_key(key: &str, e: zenoh::Error) -> MeshError {
    MeshError::BadKey {
        key: key.to_owned(),
        reason: e.to_string(),
    }
}

impl PubSub for ZenohMesh {
    fn publish(&self, key: &str, payload: Vec<u8>) -> BoxFuture<'_, Result<(), MeshError>> {
        let key = key.to_owned();
        Box::pin(async move {
            let key_expr =
                zenoh::key_expr::KeyExpr::try_from(key.as_str()).map_err(|e| bad_key(&key, e))?;
            self.session
                .put(key_expr, payload)
                .attachment(self.node.as_bytes())
                .congestion_control(CongestionControl::Block)
                .await
                .map_err(|e| MeshError::Transport(e.to_string()))?;
            self.counts.published.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    }

    fn subscribe(&self, key_expr: &str) -> BoxFuture<'_, Result<Subscription, MeshError>> {
        let key = key_expr.to_owned();
        Box::pin(async move {
            let key_expr =
                zenoh::key_expr::KeyExpr::try_from(key.as_str()).map_err(|e| bad_key(&key, e))?;
            let (sink, mut subscription) = Subscription::channel(self.subscription_capacity);
            let counts = self.counts.clone();
            let sources = self.sources.clone();
            let subscriber = self
                .session
                .declare_subscriber(key_expr)
                .callback(move |sample| {
                    counts.received.fetch_add(1, Ordering::Relaxed);
                    sources.count(sample.attachment().map(|a| a.to_bytes()).as_deref());
                    let queued = sink.offer(Sample {
                        key: sample.key_expr().to_string(),
                        payload: sample.payload().to_bytes().into_owned(),
                    });
                    if !queued {
                        counts.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .await
                .map_err(|e| MeshError::Transport(e.to_string()))?;
            subscription.keep_alive(Box::new(subscriber));
            Ok(subscription)
        })
    }

    fn stats(&self) -> MeshStats {
        MeshStats {
            published: self.counts.published.load(Ordering::Relaxed),
            received: self.counts.received.load(Ordering::Relaxed),
            dropped: self.counts.dropped.load(Ordering::Relaxed),
        }
    }

    fn received_from(&self) -> Vec<(String, u64)> {
        self.sources.snapshot()
    }

    fn identity(&self) -> Option<MeshIdentity> {
        Some(self.identity.clone())
    }

    fn linked(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let peers = self.session.info().peers_zid().await;
            peers.map(|zid| zid.to_string()).collect()
        })
    }

    fn link(&self, peer: &MeshIdentity) -> BoxFuture<'_, Result<bool, MeshError>> {
        let peer = peer.clone();
        Box::pin(async move {
            let zid = ZenohIdProto::from_str(&peer.id)
                .map_err(|e| MeshError::Transport(format!("mesh id {:?}: {e}", peer.id)))?;
            let locators: Vec<Locator> = peer
                .locators
                .iter()
                .filter_map(|l| Locator::from_str(l).ok())
                .collect();
            Ok(self.runtime.connect_peer(&zid, &locators).await)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(e) = self.session.close().await {
                tracing::warn!(error = %e, "mesh session did not close cleanly");
            }
            // A session made from a runtime leaves the runtime (its links
            // and listeners) open.
            if let Err(e) = self.runtime.close().await {
                tracing::warn!(error = %e, "mesh runtime did not close cleanly");
            }
        })
    }
}
