//! Events written under older wire versions, read after an upgrade: the
//! flight recorder stays readable in place.
//! - Version 1 had the same event but for two kinds that were text then: a
//!   supervision action and a member state.
//! - Versions 1 and 2 had a trace context without a parent span.

use super::legacy_v3::KindV3;
use serde::{Deserialize, Serialize};
use swarmd_messages::{
    CodecError, Event, EventId, EventKind, MemberState, SupervisionAction, TraceContext,
    decode_payload,
};

const VERSION: u16 = 1;
const VERSION_2: u16 = 2;

/// The trace context of versions 1 and 2.
#[derive(Serialize, Deserialize, Default)]
struct TraceV2 {
    trace_id: [u8; 16],
    span_id: [u8; 8],
}

impl TraceV2 {
    /// The parent was not recorded: the span reads as a root.
    fn upgrade(self) -> TraceContext {
        TraceContext::root(self.trace_id, self.span_id)
    }
}

#[derive(Serialize, Deserialize)]
struct EnvelopeV2<T> {
    version: u16,
    tenant: String,
    trace: TraceV2,
    payload: T,
}

fn decode_old<T: serde::de::DeserializeOwned>(bytes: &[u8], version: u16) -> Result<T, CodecError> {
    let envelope: EnvelopeV2<T> = decode_payload(bytes)?;
    if envelope.version != version {
        return Err(CodecError::UnsupportedVersion {
            got: envelope.version,
            supported: version,
        });
    }
    Ok(envelope.payload)
}

#[derive(Deserialize)]
struct EventV1 {
    id: EventId,
    tenant: String,
    agent: Option<String>,
    trace: TraceV2,
    time_us: u64,
    kind: KindV1,
}

#[derive(Deserialize)]
struct EventV2 {
    id: EventId,
    tenant: String,
    agent: Option<String>,
    trace: TraceV2,
    time_us: u64,
    kind: KindV3,
}

/// A version 2 event as today's [`Event`].
pub fn decode_v2(bytes: &[u8]) -> Result<Event, CodecError> {
    let old: EventV2 = decode_old(bytes, VERSION_2)?;
    Ok(Event {
        id: old.id,
        tenant: old.tenant,
        agent: old.agent,
        trace: old.trace.upgrade(),
        time_us: old.time_us,
        kind: old.kind.into(),
    })
}

#[derive(Deserialize)]
enum KindV1 {
    Decision {
        rationale: String,
        alternatives: Vec<String>,
        confidence: f32,
        inputs_hash: u64,
    },
    StateChange {
        target: String,
        before_hash: u64,
        after_hash: u64,
        diff: String,
    },
    Message {
        from: String,
        to: String,
        summary: String,
    },
    Signal {
        status: String,
        detail: String,
    },
    Supervision {
        child: String,
        what: String,
        restarts: u32,
    },
    Membership {
        node: String,
        state: String,
    },
}

/// A version 1 event as today's [`Event`].
pub fn decode_v1(bytes: &[u8]) -> Result<Event, CodecError> {
    let old: EventV1 = decode_old(bytes, VERSION)?;
    Ok(Event {
        id: old.id,
        tenant: old.tenant,
        agent: old.agent,
        trace: old.trace.upgrade(),
        time_us: old.time_us,
        kind: upgrade(old.kind),
    })
}

fn upgrade(kind: KindV1) -> EventKind {
    match kind {
        KindV1::Decision {
            rationale,
            alternatives,
            confidence,
            inputs_hash,
        } => EventKind::Decision {
            rationale,
            alternatives,
            confidence,
            inputs_hash,
            about: None,
        },
        KindV1::StateChange {
            target,
            before_hash,
            after_hash,
            diff,
        } => EventKind::StateChange {
            target,
            before_hash,
            after_hash,
            diff,
        },
        KindV1::Message { from, to, summary } => EventKind::Message { from, to, summary },
        KindV1::Signal { status, detail } => EventKind::Signal { status, detail },
        KindV1::Supervision {
            child,
            what,
            restarts,
        } => EventKind::Supervision {
            child,
            what: action(&what),
            restarts,
        },
        KindV1::Membership { node, state } => match member_state(&state) {
            Some(state) => EventKind::Membership { node, state },
            // Never written by version 1; kept as what it said, not dropped.
            None => EventKind::Signal {
                status: "membership".into(),
                detail: format!("{node}: {state}"),
            },
        },
    }
}

/// Version 1 wrote `started`, `restarted`, `auto_shutdown`, `exited: R`, `escalated: R`.
fn action(what: &str) -> SupervisionAction {
    if let Some(reason) = what.strip_prefix("exited: ") {
        return SupervisionAction::Exited {
            reason: reason.into(),
        };
    }
    if let Some(reason) = what.strip_prefix("escalated: ") {
        return SupervisionAction::Escalated {
            reason: reason.into(),
        };
    }
    match what {
        "started" => SupervisionAction::Started,
        "restarted" => SupervisionAction::Restarted,
        "auto_shutdown" => SupervisionAction::AutoShutdown,
        other => SupervisionAction::Exited {
            reason: other.into(),
        },
    }
}

fn member_state(state: &str) -> Option<MemberState> {
    match state {
        "up" => Some(MemberState::Up),
        "suspect" => Some(MemberState::Suspect),
        "down" => Some(MemberState::Down),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Version 1's writer, as it was.
    #[derive(Serialize)]
    enum WrittenV1 {
        #[allow(dead_code)]
        Decision(u8),
        #[allow(dead_code)]
        StateChange(u8),
        #[allow(dead_code)]
        Message(u8),
        #[allow(dead_code)]
        Signal(u8),
        Supervision {
            child: String,
            what: String,
            restarts: u32,
        },
        Membership {
            node: String,
            state: String,
        },
    }

    #[derive(Serialize)]
    struct WrittenEventV1 {
        id: EventId,
        tenant: String,
        agent: Option<String>,
        trace: TraceV2,
        time_us: u64,
        kind: WrittenV1,
    }

    fn written(kind: WrittenV1) -> Vec<u8> {
        let event = WrittenEventV1 {
            id: EventId {
                node: "n".into(),
                seq: 4,
            },
            tenant: "system".into(),
            agent: None,
            trace: TraceV2::default(),
            time_us: 9,
            kind,
        };
        enveloped(VERSION, event)
    }

    fn enveloped<T: Serialize>(version: u16, payload: T) -> Vec<u8> {
        let envelope = EnvelopeV2 {
            version,
            tenant: "system".into(),
            trace: TraceV2::default(),
            payload,
        };
        swarmd_messages::encode_payload(&envelope).unwrap()
    }

    #[derive(Serialize)]
    struct WrittenEventV2 {
        id: EventId,
        tenant: String,
        agent: Option<String>,
        trace: TraceV2,
        time_us: u64,
        kind: EventKind,
    }

    #[test]
    fn a_version_2_event_reads_with_its_span_as_a_root() {
        let kind = EventKind::Signal {
            status: "ok".into(),
            detail: "d".into(),
        };
        let bytes = enveloped(
            VERSION_2,
            WrittenEventV2 {
                id: EventId {
                    node: "n".into(),
                    seq: 7,
                },
                tenant: "acme".into(),
                agent: Some("a1".into()),
                trace: TraceV2 {
                    trace_id: [5; 16],
                    span_id: [6; 8],
                },
                time_us: 11,
                kind: kind.clone(),
            },
        );
        let event = super::super::record::decode_event(&bytes).unwrap();
        assert_eq!(event.kind, kind);
        assert_eq!(event.trace, TraceContext::root([5; 16], [6; 8]));
        assert_eq!((event.id.seq, event.time_us), (7, 11));
        assert!(decode_v2(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn version_1_supervision_and_membership_events_read_as_typed() {
        let exited = written(WrittenV1::Supervision {
            child: "node/agents".into(),
            what: "exited: Shutdown".into(),
            restarts: 0,
        });
        let event = decode_v1(&exited).unwrap();
        assert_eq!(event.id.seq, 4);
        assert_eq!(
            event.kind,
            EventKind::Supervision {
                child: "node/agents".into(),
                what: SupervisionAction::Exited {
                    reason: "Shutdown".into()
                },
                restarts: 0
            }
        );
        let down = written(WrittenV1::Membership {
            node: "edge-1".into(),
            state: "down".into(),
        });
        assert_eq!(
            decode_v1(&down).unwrap().kind,
            EventKind::Membership {
                node: "edge-1".into(),
                state: MemberState::Down
            }
        );
    }
}
