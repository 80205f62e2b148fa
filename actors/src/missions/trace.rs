//! A mission's trace: its id, the span ids of its plan and of each
//! assignment (stable, so a seed's spans are the same every run), and the
//! `tracing` spans the planner logs them in.

use swarmd_messages::TraceContext;
use swarmd_messages::swarm::Assignment;
use swarmd_supervisor::seams::Entropy;
use tracing::{Span, info_span};

/// A fresh W3C trace id (never the all-zero "no trace").
pub fn fresh_trace_id(entropy: &dyn Entropy) -> [u8; 16] {
    let mut trace_id = [0u8; 16];
    while trace_id == [0; 16] {
        entropy.fill_bytes(&mut trace_id);
    }
    trace_id
}

/// A mission's root span (its plan): every other record of the mission is
/// a child of it, or of one of its assignments.
pub fn root_span(trace_id: [u8; 16], mission: u64) -> TraceContext {
    let span = swarmd_messages::stable_hash(&format!("mission/{mission}"));
    TraceContext::root(trace_id, span.max(1).to_be_bytes())
}

/// The span of assigning `task`'s attempt `attempt`, a child of the root:
/// the parent of everything the agent records while working on it, on
/// whichever node it runs.
pub fn assignment_span(trace_id: [u8; 16], mission: u64, task: u32, attempt: u32) -> TraceContext {
    let span = swarmd_messages::stable_hash(&format!("assign/{mission}/{task}/{attempt}"));
    root_span(trace_id, mission).child(span.max(1).to_be_bytes())
}

/// The log span of planning mission `id` in `trace`.
pub fn plan_span(id: u64, trace: &TraceContext) -> Span {
    info_span!("mission.plan", mission.id = id, trace_id = %trace.trace_hex(), span_id = %trace.span_hex())
}

/// The log span of sending assignment `a` to `agent`.
pub fn assign_span(agent: &str, a: &Assignment) -> Span {
    info_span!("task.assign", mission.id = a.mission, task = a.task, agent, attempt = a.attempt, trace_id = %a.trace.trace_hex())
}
