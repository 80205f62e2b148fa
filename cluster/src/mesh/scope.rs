//! The mesh as one node may use it: only under the key space of the tenants
//! it serves (`swarmd/<tenant>/**`). A key outside is refused before it
//! reaches the transport, so an agent of tenant A can neither publish to nor
//! listen on tenant B's keys from this node. (Peers that bypass swarmd need
//! zenoh's own access control; see README, Security.)

use std::sync::Arc;

use futures::future::BoxFuture;
use swarmd_actors::ctx::{MeshError, MeshIdentity, MeshStats, PubSub, Subscription};

pub struct TenantScoped {
    inner: Arc<dyn PubSub>,
    /// `swarmd/<tenant>/`, one per tenant served.
    prefixes: Vec<String>,
}

impl TenantScoped {
    pub fn new(inner: Arc<dyn PubSub>, tenants: &[String]) -> Self {
        let prefixes = tenants.iter().map(|t| format!("swarmd/{t}/")).collect();
        Self { inner, prefixes }
    }

    fn check(&self, key: &str) -> Result<(), MeshError> {
        if self.prefixes.iter().any(|p| key.starts_with(p.as_str())) {
            return Ok(());
        }
        Err(MeshError::BadKey {
            key: key.to_string(),
            reason: "outside the key space of the tenants this node serves".into(),
        })
    }
}

impl PubSub for TenantScoped {
    fn publish(&self, key: &str, payload: Vec<u8>) -> BoxFuture<'_, Result<(), MeshError>> {
        if let Err(e) = self.check(key) {
            return Box::pin(async move { Err(e) });
        }
        self.inner.publish(key, payload)
    }

    fn subscribe(&self, key_expr: &str) -> BoxFuture<'_, Result<Subscription, MeshError>> {
        if let Err(e) = self.check(key_expr) {
            return Box::pin(async move { Err(e) });
        }
        self.inner.subscribe(key_expr)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }

    fn stats(&self) -> MeshStats {
        self.inner.stats()
    }

    fn received_from(&self) -> Vec<(String, u64)> {
        self.inner.received_from()
    }

    fn identity(&self) -> Option<MeshIdentity> {
        self.inner.identity()
    }

    fn linked(&self) -> BoxFuture<'_, Vec<String>> {
        self.inner.linked()
    }

    fn link(&self, peer: &MeshIdentity) -> BoxFuture<'_, Result<bool, MeshError>> {
        self.inner.link(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Accepts everything, remembering what it was asked.
    #[derive(Default)]
    struct Open(Mutex<Vec<String>>);

    impl PubSub for Open {
        fn publish(&self, key: &str, _: Vec<u8>) -> BoxFuture<'_, Result<(), MeshError>> {
            self.0.lock().unwrap().push(key.to_string());
            Box::pin(async { Ok(()) })
        }
        fn subscribe(&self, key_expr: &str) -> BoxFuture<'_, Result<Subscription, MeshError>> {
            self.0.lock().unwrap().push(key_expr.to_string());
            Box::pin(async { Ok(Subscription::channel(1).1) })
        }
        fn close(&self) -> BoxFuture<'_, ()> {
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn only_the_served_tenants_keys_reach_the_transport() {
        let open = Arc::new(Open::default());
        let mesh = TenantScoped::new(open.clone(), &["a".into(), "c".into()]);
        assert!(mesh.publish("swarmd/a/yield", vec![]).await.is_ok());
        assert!(mesh.subscribe("swarmd/c/**").await.is_ok());
        for refused in [
            "swarmd/b/yield",
            "swarmd/*/yield",
            "swarmd/**",
            "swarmd/ab/x",
            "other/a/x",
        ] {
            let err = mesh.publish(refused, vec![]).await.unwrap_err();
            assert!(matches!(err, MeshError::BadKey { .. }), "{refused}: {err}");
            assert!(mesh.subscribe(refused).await.is_err(), "{refused}");
        }
        let seen = open.0.lock().unwrap().clone();
        assert_eq!(seen, ["swarmd/a/yield", "swarmd/c/**"]);
    }
}
