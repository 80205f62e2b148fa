//! The agent protocol's own door. External bodies and brains connect to the
//! agent gateway, not to the mesh: a zenoh session of its own whose only
//! users are the tenants' agent credentials, each allowed its tenant's
//! `swarmd/<tenant>/agent/**` and nothing else. (On the mesh session, a
//! link this node dialed carries no user name, so zenoh's access control
//! could not tell an agent from a node there.) This node's actors reach the
//! agent protocol through the gateway and everything else through the mesh.

use std::sync::Arc;

use futures::future::BoxFuture;
use swarmd_actors::ctx::{MeshError, MeshIdentity, MeshStats, PubSub, Subscription};

pub struct AgentRouted {
    mesh: Arc<dyn PubSub>,
    agents: Arc<dyn PubSub>,
}

impl AgentRouted {
    pub fn new(mesh: Arc<dyn PubSub>, agents: Arc<dyn PubSub>) -> Self {
        Self { mesh, agents }
    }

    /// The gateway for `swarmd/<tenant>/agent/…`, the mesh for the rest.
    fn route(&self, key: &str) -> &dyn PubSub {
        let mut chunks = key.split('/');
        let agent_protocol = chunks.next() == Some("swarmd")
            && chunks.next().is_some_and(|t| !t.contains(['*', '$']))
            && chunks.next() == Some("agent");
        match agent_protocol {
            true => self.agents.as_ref(),
            false => self.mesh.as_ref(),
        }
    }
}

impl PubSub for AgentRouted {
    fn publish(&self, key: &str, payload: Vec<u8>) -> BoxFuture<'_, Result<(), MeshError>> {
        self.route(key).publish(key, payload)
    }

    fn subscribe(&self, key_expr: &str) -> BoxFuture<'_, Result<Subscription, MeshError>> {
        self.route(key_expr).subscribe(key_expr)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.agents.close().await;
            self.mesh.close().await;
        })
    }

    fn stats(&self) -> MeshStats {
        self.mesh.stats()
    }

    fn received_from(&self) -> Vec<(String, u64)> {
        self.mesh.received_from()
    }

    fn identity(&self) -> Option<MeshIdentity> {
        self.mesh.identity()
    }

    fn linked(&self) -> BoxFuture<'_, Vec<String>> {
        self.mesh.linked()
    }

    fn link(&self, peer: &MeshIdentity) -> BoxFuture<'_, Result<bool, MeshError>> {
        self.mesh.link(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl PubSub for Recorder {
        fn publish(&self, key: &str, _: Vec<u8>) -> BoxFuture<'_, Result<(), MeshError>> {
            self.0.lock().unwrap().push(key.to_string());
            Box::pin(async { Ok(()) })
        }
        fn subscribe(&self, key: &str) -> BoxFuture<'_, Result<Subscription, MeshError>> {
            self.0.lock().unwrap().push(key.to_string());
            Box::pin(async { Ok(Subscription::channel(1).1) })
        }
        fn close(&self) -> BoxFuture<'_, ()> {
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn only_the_agent_protocol_goes_through_the_gateway() {
        let (mesh, agents) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        let routed = AgentRouted::new(mesh.clone(), agents.clone());
        for key in ["swarmd/a/agent/d1/percept", "swarmd/a/agent/**"] {
            routed.subscribe(key).await.unwrap();
        }
        for key in [
            "swarmd/a/yield",
            "swarmd/*/agent/d1/percept",
            "swarmd/a/domain/agent",
        ] {
            routed.publish(key, vec![]).await.unwrap();
        }
        assert_eq!(
            *agents.0.lock().unwrap(),
            ["swarmd/a/agent/d1/percept", "swarmd/a/agent/**"]
        );
        assert_eq!(mesh.0.lock().unwrap().len(), 3);
    }
}
