//! Events written under wire version 1, read after an upgrade: the flight
//! recorder stays readable in place. Version 1 had the same event but for
//! two kinds that were text then: a supervision action and a member state.

use serde::Deserialize;
use swarmd_messages::{
    CodecError, Event, EventId, EventKind, MemberState, SupervisionAction, TraceContext,
    decode_version,
};

const VERSION: u16 = 1;

#[derive(Deserialize)]
struct EventV1 {
    id: EventId,
    tenant: String,
    agent: Option<String>,
    trace: TraceContext,
    time_us: u64,
    kind: KindV1,
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
    let old: EventV1 = decode_version(bytes, VERSION)?.payload;
    Ok(Event {
        id: old.id,
        tenant: old.tenant,
        agent: old.agent,
        trace: old.trace,
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
    use serde::Serialize;
    use swarmd_messages::Envelope;

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
        trace: TraceContext,
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
            trace: TraceContext::default(),
            time_us: 9,
            kind,
        };
        let mut envelope = Envelope::new("system", TraceContext::default(), event);
        envelope.version = VERSION;
        swarmd_messages::encode(&envelope).unwrap()
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
