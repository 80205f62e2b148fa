//! `[cloud]`: the cloud tier. With `ha = true` (and the JetStream hub),
//! cloud nodes contend for one lease in a JetStream key-value bucket; the
//! holder plans, the others stand by and take over when it is gone, from
//! the planner's state kept in a JetStream stream (DESIGN §18).

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CloudSection {
    /// A cloud contends for the lease instead of planning alone (ignored
    /// on edges).
    pub ha: bool,
    /// The lease's time to live: a holder renews every third of it and
    /// stops planning by two thirds of it without a renewal; a standby
    /// takes over at most this long (plus one round) after the holder died.
    pub lease_ttl_ms: u64,
    /// The key-value bucket holding the lease.
    pub lease_bucket: String,
    /// The stream holding the planner's state (missions, board, recipe
    /// runs), written before each decision goes out.
    pub state_stream: String,
}

impl Default for CloudSection {
    fn default() -> Self {
        Self {
            ha: false,
            lease_ttl_ms: 3_000,
            lease_bucket: "swarmd-cloud-lease".into(),
            state_stream: "SWARMD_CLOUD_STATE".into(),
        }
    }
}

impl CloudSection {
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ttl_ms)
    }

    /// The subject prefix of the planner's state in `state_stream`.
    pub fn state_subject(&self, prefix: &str) -> String {
        format!("{prefix}.cloud.state")
    }
}

/// Letters, digits, `_` and `-`, as JetStream names want them.
fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl crate::NodeConfig {
    /// A cloud contending for the cloud tier's lease.
    pub fn runs_ha(&self) -> bool {
        self.cloud.ha && self.node.role.runs_cloud()
    }

    pub(crate) fn validate_cloud(&self) -> Result<(), (&'static str, String)> {
        let c = &self.cloud;
        if !plain(&c.lease_bucket) {
            let why = "must be 1..=64 letters, digits, '_' or '-'".into();
            return Err(("cloud.lease_bucket", why));
        }
        if !plain(&c.state_stream) {
            let why = "must be 1..=64 letters, digits, '_' or '-'".into();
            return Err(("cloud.state_stream", why));
        }
        if !c.ha {
            return Ok(());
        }
        if self.hub.backend != crate::hub::HubBackend::Jetstream {
            let why =
                "needs hub.backend = \"jetstream\": the lease and the planner's state live there"
                    .into();
            return Err(("cloud.ha", why));
        }
        // On an edge `ha` means nothing, so one file may serve the fleet.
        Ok(())
    }
}
