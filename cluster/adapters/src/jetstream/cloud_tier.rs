//! The cloud tier on JetStream (DESIGN §18), as a node wires it: one
//! connection for the lease and the planner's state, made when the node
//! starts and retried until it is made.

use std::sync::Arc;
use std::time::Duration;

use swarmd_config::NodeConfig;
use swarmd_config::hub::JetStreamSection;
use swarmd_storage::Storage;
use tokio::sync::watch;
use tracing::warn;

use super::lease::{Leadership, LeaseConfig, bucket, contend};
use super::replica::{JetStreamLink, ReplicaConfig, ReplicatedStorage, restore, state_stream};

/// Waits between attempts to reach JetStream, at most.
const RETRY_MAX: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct CloudTier {
    section: JetStreamSection,
    lease: LeaseConfig,
    replica: ReplicaConfig,
    link: JetStreamLink,
}

impl CloudTier {
    pub fn new(config: &NodeConfig) -> Self {
        let (js, cloud) = (&config.hub.jetstream, &config.cloud);
        Self {
            section: js.clone(),
            lease: LeaseConfig {
                bucket: cloud.lease_bucket.clone(),
                key: "leader".into(),
                name: config.node.name.clone(),
                ttl: cloud.lease_ttl(),
                replicas: js.replicas,
            },
            replica: ReplicaConfig {
                stream: cloud.state_stream.clone(),
                subject: cloud.state_subject(&js.subject_prefix),
                replicas: js.replicas,
                timeout: js.timeout(),
            },
            link: Arc::default(),
        }
    }

    pub fn lease(&self) -> &LeaseConfig {
        &self.lease
    }

    /// `local`, with the planner's trees written to JetStream first, while
    /// `leadership` says this cloud holds the lease.
    pub fn storage(
        &self,
        local: Arc<dyn Storage>,
        leadership: watch::Receiver<Leadership>,
    ) -> ReplicatedStorage {
        ReplicatedStorage::new(local, self.link.clone(), self.replica.clone(), leadership)
    }

    /// Connects (again and again, until `stop`), then contends for the
    /// lease until `stop`, publishing what it sees on `seen`.
    pub async fn contend(self, seen: watch::Sender<Leadership>, mut stop: watch::Receiver<bool>) {
        let mut wait = Duration::from_millis(200);
        let store = loop {
            match self.connect().await {
                Ok(store) => break store,
                Err(why) => warn!(%why, "cloud tier: JetStream not reached; trying again"),
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
            wait = (wait * 2).min(RETRY_MAX);
        };
        contend(store, self.lease, seen, stop).await;
    }

    async fn connect(&self) -> Result<async_nats::jetstream::kv::Store, String> {
        let name = format!("{} cloud tier", self.lease.name);
        let js = super::connect(&self.section, &name)
            .await
            .map_err(|e| e.to_string())?;
        let store = bucket(&js, &self.lease).await?;
        state_stream(&js, &self.replica).await?;
        let _ = self.link.set(js);
        Ok(store)
    }

    /// Replaces the planner's trees in `local` by what JetStream holds.
    pub async fn restore(&self, local: &dyn Storage) -> Result<usize, String> {
        let js = self.link.get().ok_or("not connected to JetStream")?;
        restore(js, &self.replica, local).await
    }
}
