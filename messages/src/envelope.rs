use serde::{Deserialize, Serialize};

/// Version of the wire format. It names the bincode configuration too
/// (`standard()`: little-endian varints), so changing either bumps it.
/// 2: typed event kinds (mission, task, agent, audit; member states and
/// supervision actions as enums), the node role as an enum, typed refusals.
/// 3: the trace context names its parent span.
/// 4: a decision names the task it is about (`EventKind::Decision::about`).
pub const WIRE_VERSION: u16 = 6;

/// The operators' tenant: a node's own records (supervision, membership,
/// audit) and its cluster traffic. Console sessions in it see the whole node.
pub const SYSTEM_TENANT: &str = "system";

/// Trace context carried across nodes, W3C-sized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    /// The span this one is a step of; zero for a trace's root span.
    pub parent_span_id: [u8; 8],
}

impl TraceContext {
    /// The root span `span_id` of trace `trace_id`.
    pub fn root(trace_id: [u8; 16], span_id: [u8; 8]) -> Self {
        Self {
            trace_id,
            span_id,
            parent_span_id: [0; 8],
        }
    }

    /// Span `span_id` in this trace, a step of this span.
    pub fn child(&self, span_id: [u8; 8]) -> Self {
        Self {
            trace_id: self.trace_id,
            span_id,
            parent_span_id: self.span_id,
        }
    }

    /// Whether this is in a trace at all (the zero trace id is none).
    pub fn is_traced(&self) -> bool {
        self.trace_id != [0; 16]
    }

    /// The parent span id in hex, `None` for a root span.
    pub fn parent_hex(&self) -> Option<String> {
        (self.parent_span_id != [0; 8]).then(|| hex(&self.parent_span_id))
    }

    /// The trace id as `traceparent` writes it: 32 lower-case hex digits.
    pub fn trace_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id: 16 lower-case hex digits.
    pub fn span_hex(&self) -> String {
        hex(&self.span_id)
    }

    /// The W3C `traceparent` header value (version 00, sampled).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace_hex(), self.span_hex())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

#[cfg(test)]
mod trace_tests {
    use super::TraceContext;

    #[test]
    fn traceparent_is_lower_case_hex() {
        let t = TraceContext::root([0xab; 16], [0x0c; 8]);
        assert_eq!(
            t.traceparent(),
            "00-abababababababababababababababab-0c0c0c0c0c0c0c0c-01"
        );
        assert_eq!(t.parent_hex(), None);
    }

    #[test]
    fn a_child_span_names_its_parent() {
        let root = TraceContext::root([1; 16], [2; 8]);
        let step = root.child([3; 8]);
        assert_eq!(step.trace_id, root.trace_id);
        assert_eq!(step.parent_span_id, root.span_id);
        assert_eq!(step.parent_hex().as_deref(), Some("0202020202020202"));
        assert!(step.is_traced() && !TraceContext::default().is_traced());
    }
}
