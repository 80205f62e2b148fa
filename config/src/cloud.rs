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

impl CloudSection {
    pub(crate) fn validate(
        &self,
        hub: crate::hub::HubBackend,
    ) -> Result<(), (&'static str, String)> {
        if !plain(&self.lease_bucket) {
            let why = "must be 1..=64 letters, digits, '_' or '-'".into();
            return Err(("cloud.lease_bucket", why));
        }
        if !plain(&self.state_stream) {
            let why = "must be 1..=64 letters, digits, '_' or '-'".into();
            return Err(("cloud.state_stream", why));
        }
        // On an edge `ha` means nothing, so one file may serve the fleet.
        if self.ha && hub != crate::hub::HubBackend::Jetstream {
            let why =
                "needs hub.backend = \"jetstream\": the lease and the planner's state live there"
                    .into();
            return Err(("cloud.ha", why));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::HubBackend;

    #[test]
    fn ha_needs_the_jetstream_hub_and_plain_names() {
        let mut cloud = CloudSection {
            ha: true,
            ..CloudSection::default()
        };
        assert_eq!(
            cloud.validate(HubBackend::Ledger).unwrap_err().0,
            "cloud.ha"
        );
        assert!(cloud.validate(HubBackend::Jetstream).is_ok());
        cloud.lease_bucket = "a.b".into();
        let refused = cloud.validate(HubBackend::Jetstream).unwrap_err();
        assert_eq!(refused.0, "cloud.lease_bucket", "{refused:?}");
        cloud.ha = false;
        cloud.lease_bucket = "ok".into();
        assert!(
            cloud.validate(HubBackend::Ledger).is_ok(),
            "one cloud on sled"
        );
    }
}
