//! The production mesh: a zenoh peer session behind the `PubSub` seam,
//! scoped to the tenants the node serves.

mod scope;
mod zconfig;

pub use scope::TenantScoped;

use std::sync::Arc;

use futures::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};

use swarmd_actors::ctx::{MeshError, MeshStats, PubSub, Sample, Subscription};
use swarmd_config::{MeshSection, Role};
use tracing::info;
use zenoh::qos::CongestionControl;

/// Opens the mesh for nodes that run agents; a cloud-only node gets a mesh
/// that refuses use with a clear error.
pub async fn open(
    config: &MeshSection,
    role: Role,
    tenants: &[String],
) -> Result<Arc<dyn PubSub>, MeshError> {
    if !role.runs_edge() {
        return Ok(Arc::new(DisabledMesh));
    }
    let mesh: Arc<dyn PubSub> = Arc::new(ZenohMesh::open(config, tenants).await?);
    Ok(Arc::new(TenantScoped::new(mesh, tenants)))
}

pub struct ZenohMesh {
    session: zenoh::Session,
    subscription_capacity: usize,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    published: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
}

impl ZenohMesh {
    /// A peer session that carries only `swarmd/<tenant>/**` of `tenants`
    /// (zenoh's access control), over mutual TLS when `[mesh.tls]` is set.
    pub async fn open(config: &MeshSection, tenants: &[String]) -> Result<Self, MeshError> {
        let zconfig = zconfig::zenoh_config(config, tenants)?;
        let session = zenoh::open(zconfig)
            .await
            .map_err(|e| MeshError::Transport(e.to_string()))?;
        info!(zid = %session.zid(), listen = ?config.listen, connect = ?config.connect, tls = config.tls.is_some(), "mesh session open");
        Ok(Self {
            session,
            subscription_capacity: config.subscription_capacity,
            counts: Arc::default(),
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
            let subscriber = self
                .session
                .declare_subscriber(key_expr)
                .callback(move |sample| {
                    counts.received.fetch_add(1, Ordering::Relaxed);
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

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(e) = self.session.close().await {
                tracing::warn!(error = %e, "mesh session did not close cleanly");
            }
        })
    }
}

/// The mesh of a node that runs no agents.
pub struct DisabledMesh;

impl PubSub for DisabledMesh {
    fn publish(&self, _key: &str, _payload: Vec<u8>) -> BoxFuture<'_, Result<(), MeshError>> {
        Box::pin(async {
            Err(MeshError::Disabled(
                "a cloud node does not join the mesh".into(),
            ))
        })
    }

    fn subscribe(&self, _key_expr: &str) -> BoxFuture<'_, Result<Subscription, MeshError>> {
        Box::pin(async {
            Err(MeshError::Disabled(
                "a cloud node does not join the mesh".into(),
            ))
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
