//! Adapters to the external engines a node may use: the JetStream event hub
//! (edges publish their flight recorders, clouds consume them), the cloud
//! tier's lease and state (`cloud_tier`, on JetStream in production) and
//! the OTLP span exporter. Each owns its network client; the simulator runs neither.

pub mod cloud_tier;
pub mod jetstream;
mod redact;
pub mod telemetry;

pub use redact::redacted_url;
