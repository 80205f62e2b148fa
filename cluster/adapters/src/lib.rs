//! Adapters to the external engines a node may use: the JetStream event hub
//! (edges publish their flight recorders, clouds consume them) and the OTLP
//! span exporter. Each owns its network client; the simulator runs neither.

pub mod jetstream;
mod redact;
pub mod telemetry;

pub use redact::redacted_url;
