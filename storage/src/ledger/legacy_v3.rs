//! Event kinds as versions 2 and 3 wrote them: today's, but for a decision
//! that did not name the task it was about (it reads as about none).

use serde::Deserialize;
use swarmd_messages::swarm::Cell;
use swarmd_messages::{
    AgentChange, AuditRecord, CodecError, Envelope, Event, EventId, EventKind, FloorChange,
    GovernanceAction, MemberState, MissionChange, SupervisionAction, TaskChange, TraceContext,
    decode_payload,
};

const VERSION_3: u16 = 3;

/// Field for field `EventKind` of versions 2 and 3 (bincode is positional:
/// the variants and their fields in the same order).
#[derive(Deserialize)]
pub enum KindV3 {
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
        what: SupervisionAction,
        restarts: u32,
    },
    Membership {
        node: String,
        state: MemberState,
    },
    Mission {
        mission: u64,
        change: MissionChange,
        rationale: String,
    },
    Task {
        mission: u64,
        task: u32,
        change: TaskChange,
        rationale: String,
    },
    Agent {
        agent: String,
        change: AgentChange,
    },
    Audit(AuditRecord),
    Moved {
        from: Option<Cell>,
        to: Cell,
        arrived_us: u64,
        unrecorded: u64,
    },
    Floor {
        at_us: u64,
        change: FloorChange,
    },
    Governance {
        action: GovernanceAction,
        detail: String,
    },
    PolicyDecision {
        policy: String,
        task: Option<String>,
        agent: Option<String>,
        decision: String,
    },
}

impl From<KindV3> for EventKind {
    fn from(kind: KindV3) -> EventKind {
        use KindV3 as V;
        match kind {
            V::Decision {
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
            V::StateChange {
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
            V::Message { from, to, summary } => EventKind::Message { from, to, summary },
            V::Signal { status, detail } => EventKind::Signal { status, detail },
            V::Supervision {
                child,
                what,
                restarts,
            } => EventKind::Supervision {
                child,
                what,
                restarts,
            },
            V::Membership { node, state } => EventKind::Membership { node, state },
            V::Mission {
                mission,
                change,
                rationale,
            } => EventKind::Mission {
                mission,
                change,
                rationale,
            },
            V::Task {
                mission,
                task,
                change,
                rationale,
            } => EventKind::Task {
                mission,
                task,
                change,
                rationale,
            },
            V::Agent { agent, change } => EventKind::Agent { agent, change },
            V::Audit(record) => EventKind::Audit(record),
            V::Moved {
                from,
                to,
                arrived_us,
                unrecorded,
            } => EventKind::Moved {
                from,
                to,
                arrived_us,
                unrecorded,
            },
            V::Floor { at_us, change } => EventKind::Floor { at_us, change },
            V::Governance { action, detail } => EventKind::Governance { action, detail },
            V::PolicyDecision {
                policy,
                task,
                agent,
                decision,
            } => EventKind::PolicyDecision {
                policy,
                task,
                agent,
                decision,
            },
        }
    }
}

#[derive(Deserialize)]
struct EventV3 {
    id: EventId,
    tenant: String,
    agent: Option<String>,
    trace: TraceContext,
    time_us: u64,
    kind: KindV3,
}

/// A version 3 event as today's [`Event`].
pub fn decode_v3(bytes: &[u8]) -> Result<Event, CodecError> {
    let envelope: Envelope<EventV3> = decode_payload(bytes)?;
    if envelope.version != VERSION_3 {
        return Err(CodecError::UnsupportedVersion {
            got: envelope.version,
            supported: VERSION_3,
        });
    }
    let old = envelope.payload;
    Ok(Event {
        id: old.id,
        tenant: old.tenant,
        agent: old.agent,
        trace: old.trace,
        time_us: old.time_us,
        kind: old.kind.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    /// Version 3's writer, as it was, for the kinds read back here.
    #[derive(Serialize)]
    enum WrittenV3 {
        Decision {
            rationale: String,
            alternatives: Vec<String>,
            confidence: f32,
            inputs_hash: u64,
        },
        #[allow(dead_code)]
        StateChange(u8),
        #[allow(dead_code)]
        Message(u8),
        Signal {
            status: String,
            detail: String,
        },
    }

    #[derive(Serialize)]
    struct WrittenEventV3 {
        id: EventId,
        tenant: String,
        agent: Option<String>,
        trace: TraceContext,
        time_us: u64,
        kind: WrittenV3,
    }

    fn written(kind: WrittenV3) -> Vec<u8> {
        let event = WrittenEventV3 {
            id: EventId {
                node: "n".into(),
                seq: 4,
            },
            tenant: "t".into(),
            agent: Some("a1".into()),
            trace: TraceContext::default(),
            time_us: 9,
            kind,
        };
        let envelope = Envelope {
            version: VERSION_3,
            tenant: "t".into(),
            trace: TraceContext::default(),
            payload: event,
        };
        swarmd_messages::encode_payload(&envelope).unwrap()
    }

    #[test]
    fn a_version_3_decision_reads_as_about_no_task_and_other_kinds_unchanged() {
        let decision = written(WrittenV3::Decision {
            rationale: "accepted task 1/0: cover".into(),
            alternatives: vec!["wait".into()],
            confidence: 0.5,
            inputs_hash: 7,
        });
        let event = crate::ledger::decode_event(&decision).unwrap();
        assert_eq!(event.agent.as_deref(), Some("a1"));
        assert_eq!(
            event.kind,
            EventKind::Decision {
                rationale: "accepted task 1/0: cover".into(),
                alternatives: vec!["wait".into()],
                confidence: 0.5,
                inputs_hash: 7,
                about: None,
            }
        );
        let signal = written(WrittenV3::Signal {
            status: "ok".into(),
            detail: "d".into(),
        });
        let event = crate::ledger::decode_event(&signal).unwrap();
        let expected = EventKind::Signal {
            status: "ok".into(),
            detail: "d".into(),
        };
        assert_eq!(event.kind, expected);
    }
}
