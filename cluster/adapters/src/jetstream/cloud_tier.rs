//! The cloud tier on JetStream (DESIGN §18), as a node wires it: one
//! connection for the lease bucket and the state stream, made when the
//! node starts and retried until it is made.

use std::sync::Arc;

use futures::future::BoxFuture;
use swarmd_config::NodeConfig;
use swarmd_config::hub::JetStreamSection;

use super::lease::{JetStreamLease, bucket};
use super::replica::{JetStreamStateLog, ReplicaConfig, state_stream};
use crate::cloud_tier::{CloudTier, Connected, LeaseConfig, TierConnector};

/// `config`'s cloud tier on its `[hub.jetstream]` servers.
pub fn cloud_tier(config: &NodeConfig) -> CloudTier {
    let (js, cloud) = (&config.hub.jetstream, &config.cloud);
    let lease = CloudTier::lease_of(config);
    let connector = JetStreamTier {
        section: js.clone(),
        lease: lease.clone(),
        replica: ReplicaConfig {
            stream: cloud.state_stream.clone(),
            subject: cloud.state_subject(&js.subject_prefix),
            replicas: js.replicas,
            timeout: js.timeout(),
        },
    };
    CloudTier::new(lease, Arc::new(connector))
}

struct JetStreamTier {
    section: JetStreamSection,
    lease: LeaseConfig,
    replica: ReplicaConfig,
}

impl TierConnector for JetStreamTier {
    fn connect(&self) -> BoxFuture<'_, Result<Connected, String>> {
        Box::pin(async move {
            let name = format!("{} cloud tier", self.lease.name);
            let js = super::connect(&self.section, &name)
                .await
                .map_err(|e| e.to_string())?;
            let store = bucket(&js, &self.lease).await?;
            state_stream(&js, &self.replica).await?;
            Ok(Connected {
                lease: Arc::new(JetStreamLease(store)),
                state: Arc::new(JetStreamStateLog {
                    js,
                    config: self.replica.clone(),
                }),
            })
        })
    }
}
