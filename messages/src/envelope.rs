use serde::{Deserialize, Serialize};

/// Version of the wire format. It names the bincode configuration too
/// (`standard()`: little-endian varints), so changing either bumps it.
/// 2: typed event kinds (mission, task, agent, audit; member states and
/// supervision actions as enums), the node role as an enum, typed refusals.
pub const WIRE_VERSION: u16 = 2;

/// The operators' tenant: a node's own records (supervision, membership,
/// audit) and its cluster traffic. Console sessions in it see the whole node.
pub const SYSTEM_TENANT: &str = "system";

/// Trace context carried across nodes, W3C-sized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

/// The frame every cross-node payload travels in.
///
/// `version` comes first so a receiver can reject a frame from a newer node
/// before it tries to decode a payload it does not understand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub version: u16,
    pub tenant: String,
    pub trace: TraceContext,
    pub payload: T,
}

impl<T> Envelope<T> {
    pub fn new(tenant: impl Into<String>, trace: TraceContext, payload: T) -> Self {
        Self {
            version: WIRE_VERSION,
            tenant: tenant.into(),
            trace,
            payload,
        }
    }
}
