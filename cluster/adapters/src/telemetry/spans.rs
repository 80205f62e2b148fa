//! A traced flight-recorder event as an OpenTelemetry span: the same trace,
//! span and parent ids the ledger, the console and the dashboard show.
//! Events are instants, so their spans start and end at the event's time.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use swarmd_messages::{Event, EventKind, MissionChange, MissionOutcome, TaskChange};

/// Text attributes longer than this are cut (a rationale can be long).
const MAX_TEXT: usize = 512;

/// The span of `event`, `None` when it is in no trace.
pub fn span_of(event: &Event, scope: &InstrumentationScope) -> Option<SpanData> {
    let trace = &event.trace;
    if !trace.is_traced() {
        return None;
    }
    let at = SystemTime::UNIX_EPOCH + Duration::from_micros(event.time_us);
    Some(SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes(trace.trace_id),
            SpanId::from_bytes(trace.span_id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from_bytes(trace.parent_span_id),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed(name_of(&event.kind)),
        start_time: at,
        end_time: at,
        attributes: attributes_of(event),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: status_of(&event.kind),
        instrumentation_scope: scope.clone(),
    })
}

/// Few names, so a tracing UI can group by them.
fn name_of(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Mission {
            change: MissionChange::Planned { .. },
            ..
        } => "mission.planned",
        EventKind::Mission { .. } => "mission.ended",
        EventKind::Task {
            change: TaskChange::Assigned { .. },
            ..
        } => "task.assigned",
        EventKind::Task {
            change: TaskChange::Released { .. },
            ..
        } => "task.released",
        EventKind::Task { .. } => "task.ended",
        other => other.name(),
    }
}

fn attributes_of(event: &Event) -> Vec<KeyValue> {
    let mut out = vec![
        KeyValue::new("swarmd.node", event.id.node.clone()),
        KeyValue::new("swarmd.tenant", event.tenant.clone()),
        KeyValue::new("swarmd.event", event.kind.name()),
        // Where the record lives: the node's ledger is its partition.
        KeyValue::new("partition", event.id.node.clone()),
        KeyValue::new("offset", event.id.seq as i64),
    ];
    if let Some(agent) = &event.agent {
        out.push(KeyValue::new("agent", agent.clone()));
    }
    match &event.kind {
        EventKind::Mission {
            mission, rationale, ..
        } => {
            out.push(KeyValue::new("mission.id", *mission as i64));
            out.push(text("rationale", rationale));
        }
        EventKind::Task {
            mission,
            task,
            change,
            rationale,
        } => {
            out.push(KeyValue::new("mission.id", *mission as i64));
            out.push(KeyValue::new("task", i64::from(*task)));
            if let TaskChange::Assigned { agent } | TaskChange::Released { agent } = change {
                out.push(KeyValue::new("agent", agent.clone()));
            }
            out.push(text("rationale", rationale));
        }
        EventKind::Decision {
            rationale,
            confidence,
            ..
        } => {
            out.push(text("rationale", rationale));
            out.push(KeyValue::new("confidence", f64::from(*confidence)));
        }
        EventKind::StateChange { target, diff, .. } => {
            out.push(text("target", target));
            out.push(text("diff", diff));
        }
        EventKind::Signal { status, detail } => {
            out.push(text("status", status));
            out.push(text("detail", detail));
        }
        EventKind::Moved { to, .. } => out.push(text("to", &to.to_string())),
        _ => {}
    }
    out
}

fn text(key: &'static str, value: &str) -> KeyValue {
    let cut = match value.char_indices().nth(MAX_TEXT) {
        Some((at, _)) => &value[..at],
        None => value,
    };
    KeyValue::new(key, cut.to_string())
}

fn status_of(kind: &EventKind) -> Status {
    match kind {
        EventKind::Mission {
            change: MissionChange::Ended(MissionOutcome::Failed { reason }),
            ..
        }
        | EventKind::Task {
            change: TaskChange::Ended(MissionOutcome::Failed { reason }),
            ..
        } => Status::error(reason.clone()),
        _ => Status::Unset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::{EventId, TraceContext};

    fn event(trace: TraceContext, kind: EventKind) -> Event {
        Event {
            id: EventId {
                node: "edge-1".into(),
                seq: 42,
            },
            tenant: "acme".into(),
            agent: Some("a1".into()),
            trace,
            time_us: 1_500_000,
            kind,
        }
    }

    #[test]
    fn a_traced_event_is_a_span_with_the_ledgers_ids() {
        let trace = TraceContext::root([1; 16], [2; 8]).child([3; 8]);
        let kind = EventKind::Task {
            mission: 7,
            task: 2,
            change: TaskChange::Ended(MissionOutcome::Failed {
                reason: "blocked".into(),
            }),
            rationale: "r".into(),
        };
        let span = span_of(
            &event(trace, kind),
            &InstrumentationScope::builder("t").build(),
        )
        .expect("traced");
        assert_eq!(span.span_context.trace_id(), TraceId::from_bytes([1; 16]));
        assert_eq!(span.span_context.span_id(), SpanId::from_bytes([3; 8]));
        assert_eq!(span.parent_span_id, SpanId::from_bytes([2; 8]));
        assert_eq!(span.name, "task.ended");
        assert_eq!(span.status, Status::error("blocked"));
        assert_eq!(
            span.start_time,
            SystemTime::UNIX_EPOCH + Duration::from_micros(1_500_000)
        );
        let has = |k: &str, v: opentelemetry::Value| {
            span.attributes
                .iter()
                .any(|a| a.key.as_str() == k && a.value == v)
        };
        assert!(has("mission.id", 7.into()));
        assert!(has("task", 2.into()));
        assert!(has("offset", 42.into()));
        assert!(has("swarmd.node", "edge-1".into()));
    }

    #[test]
    fn untraced_events_are_no_spans_and_long_text_is_cut() {
        let kind = EventKind::Signal {
            status: "s".into(),
            detail: "x".repeat(2000),
        };
        let scope = InstrumentationScope::builder("t").build();
        assert!(span_of(&event(TraceContext::default(), kind.clone()), &scope).is_none());
        let span = span_of(&event(TraceContext::root([1; 16], [2; 8]), kind), &scope).unwrap();
        let detail = span.attributes.iter().find(|a| a.key.as_str() == "detail");
        assert_eq!(detail.unwrap().value.as_str().len(), MAX_TEXT);
    }
}
