//! Invariant checkers, kept apart from the code under test: each reads what
//! a run left behind (ledgers, the hub's copies, forwarder cursors, world
//! snapshots) and says what is wrong, if anything.

mod deadlock;
mod floor;
mod leaders;
mod missions;
mod origin;
mod placement;
mod recipes;
mod tally;
mod tasks;

use std::collections::BTreeMap;
use std::time::Duration;

use swarmd_messages::swarm::Cell;
use swarmd_messages::{Event, EventId, EventKind, SupervisionAction};

pub use deadlock::{DEADLOCK_AFTER, DeadlockWatch};
pub use floor::{FloorCount, one_agent_per_cell_over_time};
pub use leaders::{LeaderCount, leaders_never_overlap};
pub use missions::{MissionRecord, missions, missions_end};
pub use origin::hub_holds_only_what_nodes_wrote;
pub use placement::{Span, one_node_at_a_time};
pub use recipes::recipe_steps_in_order;
pub use tally::Tally;
pub use tasks::tasks_completed_once;

/// One edge's ledger as the edge has it and as the hub has it.
#[derive(Clone)]
pub struct Forwarded {
    pub node: String,
    /// The edge's own durable log.
    pub own: Vec<Event>,
    /// The first seq of the edge's ledger (its incarnation base).
    pub first_seq: u64,
    /// Events below this seq are acknowledged by the hub.
    pub acked_below: u64,
    /// The hub's copies of this edge's events.
    pub at_hub: Vec<Event>,
}

/// No acknowledged event is missing at the hub, changed there, or stored
/// twice. Returns the violations and how many acked events were verified.
pub fn acked_events_at_hub(edges: &[Forwarded]) -> (Vec<String>, u64) {
    let mut verified = 0;
    let mut wrong = Vec::new();
    for edge in edges {
        let mut at_hub: BTreeMap<u64, &Event> = BTreeMap::new();
        for e in &edge.at_hub {
            if at_hub.insert(e.id.seq, e).is_some() {
                wrong.push(format!(
                    "{}/{} stored twice at the hub",
                    edge.node, e.id.seq
                ));
            }
        }
        for e in edge.own.iter().filter(|e| e.id.seq < edge.acked_below) {
            match at_hub.get(&e.id.seq) {
                None => wrong.push(format!(
                    "{}/{} acked but missing at the hub",
                    edge.node, e.id.seq
                )),
                Some(copy) if *copy != e => {
                    wrong.push(format!("{}/{} differs at the hub", edge.node, e.id.seq))
                }
                Some(_) => verified += 1,
            }
        }
        let acked_at_edge = edge
            .own
            .iter()
            .filter(|e| e.id.seq < edge.acked_below)
            .count() as u64;
        let acked = edge.acked_below.saturating_sub(edge.first_seq);
        if acked_at_edge < acked {
            let lost = acked - acked_at_edge;
            wrong.push(format!(
                "{}: {lost} acked events gone from the edge's own log",
                edge.node
            ));
        }
    }
    (wrong, verified)
}

/// An append acknowledged to its appender, as the appender knows it.
pub struct AckedAppend<'a> {
    pub id: &'a EventId,
    pub tenant: &'a str,
    pub kind: &'a EventKind,
}

/// Every acked append is on its node's disk and (from an edge) at the hub,
/// unchanged; `hubs` are the clouds' names (their own appends are at no
/// other hub). `logs` and `at_hub` are by node.
/// Returns the violations and how many acks were verified.
pub fn acked_appends(
    acks: &[AckedAppend<'_>],
    hubs: &[String],
    logs: &BTreeMap<String, Vec<Event>>,
    at_hub: &BTreeMap<String, Vec<Event>>,
) -> (Vec<String>, u64) {
    let find = |events: Option<&Vec<Event>>, seq: u64| {
        events.and_then(|events| events.iter().find(|e| e.id.seq == seq).cloned())
    };
    let same = |a: &AckedAppend<'_>, e: &Event| e.tenant == a.tenant && &e.kind == a.kind;
    let mut wrong = Vec::new();
    let mut verified = 0;
    for a in acks {
        let (node, seq) = (&a.id.node, a.id.seq);
        let mut places = vec![("its own disk", find(logs.get(node), seq))];
        if !hubs.contains(node) {
            places.push(("the hub", find(at_hub.get(node), seq)));
        }
        let before = wrong.len();
        for (place, found) in places {
            match found {
                None => wrong.push(format!("{node}/{seq} was acked but is not on {place}")),
                Some(e) if !same(a, &e) => {
                    wrong.push(format!("{node}/{seq} on {place} is not what was acked"))
                }
                Some(_) => {}
            }
        }
        verified += u64::from(wrong.len() == before);
    }
    (wrong, verified)
}

/// Durable edge events recorded before `before_us(node)` (on the edge's own
/// clock) that are not at the hub: after the drain, none. Agents keep
/// recording to the end, so the newest may still be on their way. (The
/// forwarder's cursor may lag after a power cut: a resend is harmless.)
pub fn backlog(edges: &[Forwarded], before_us: impl Fn(&str) -> u64) -> (Vec<String>, u64) {
    let mut wrong = Vec::new();
    let mut total = 0;
    for edge in edges {
        let at_hub: std::collections::BTreeSet<u64> =
            edge.at_hub.iter().map(|e| e.id.seq).collect();
        let before = before_us(&edge.node);
        let left = edge
            .own
            .iter()
            .filter(|e| e.time_us < before && !at_hub.contains(&e.id.seq))
            .count() as u64;
        if left > 0 {
            wrong.push(format!(
                "{}: {left} events never forwarded after the drain",
                edge.node
            ));
        }
        total += left;
    }
    (wrong, total)
}

/// Refused moves the agents reported (each a near-collision), and the
/// supervision events recorders reported lost.
pub fn near_misses_and_losses(events: &[Event]) -> (u64, u64) {
    let (mut refused, mut lost) = (0, 0);
    for e in events {
        if let EventKind::Signal { status, detail } = &e.kind {
            match status.as_str() {
                "move_refused" => refused += 1,
                "events_lost" => lost += detail.parse::<u64>().unwrap_or(1),
                _ => {}
            }
        }
    }
    (refused, lost)
}

/// Never two agents in one cell, in any snapshot of the world.
pub fn one_agent_per_cell(at_us: u64, agents: &[(String, Cell)]) -> Option<String> {
    let mut seen: BTreeMap<Cell, &str> = BTreeMap::new();
    for (name, cell) in agents {
        if let Some(other) = seen.insert(*cell, name) {
            return Some(format!("t={at_us}us: {other} and {name} both at {cell}"));
        }
    }
    None
}

/// A supervisor's restart intensity, as configured.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max_restarts: u32,
    pub period: Duration,
}

/// No supervisor restarted more children within its period than its
/// intensity allows. `limit_of` names each supervisor's intensity. Returns
/// the violations and how many restart events were counted.
pub fn intensity_respected(
    system: &[Event],
    limit_of: impl Fn(&str) -> Limit,
) -> (Vec<String>, u64) {
    let mut restarts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut counted = 0;
    let mut wrong = Vec::new();
    for e in system {
        let EventKind::Supervision { child, what, .. } = &e.kind else {
            continue;
        };
        let Some((supervisor, child_name)) = child.rsplit_once('/') else {
            continue;
        };
        let restarted = *what == SupervisionAction::Restarted;
        if restarted || *what == SupervisionAction::Started {
            // A supervisor (re)started by its parent starts with a clean slate.
            if let Some(times) = restarts.remove(child_name) {
                wrong.extend(over_limit(child_name, &times, limit_of(child_name)));
            }
        }
        if restarted {
            counted += 1;
            // One failure under rest_for_one or one_for_all restarts several
            // children at one instant: that is one restart, as OTP counts.
            let times = restarts.entry(supervisor).or_default();
            if times.last() != Some(&e.time_us) {
                times.push(e.time_us);
            }
        }
    }
    for (supervisor, times) in restarts {
        wrong.extend(over_limit(supervisor, &times, limit_of(supervisor)));
    }
    (wrong, counted)
}

/// More than `limit` restarts (by time, µs) within its period, if so.
fn over_limit(supervisor: &str, times: &[u64], limit: Limit) -> Option<String> {
    let period = limit.period.as_micros() as u64;
    let window = limit.max_restarts as usize + 1;
    let w = times
        .windows(window)
        .find(|w| w[window - 1] - w[0] < period)?;
    Some(format!(
        "{supervisor}: {window} restarts within {:?} (intensity {} per {:?})",
        Duration::from_micros(w[window - 1] - w[0]),
        limit.max_restarts,
        limit.period
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::{EventId, TraceContext};
    use swarmd_messages::{MissionChange, MissionOutcome};

    fn event(node: &str, seq: u64, time_us: u64, kind: EventKind) -> Event {
        Event {
            id: EventId {
                node: node.into(),
                seq,
            },
            tenant: "t".into(),
            agent: None,
            trace: TraceContext::default(),
            time_us,
            kind,
        }
    }

    fn signal(node: &str, seq: u64) -> Event {
        let kind = EventKind::Signal {
            status: "s".into(),
            detail: format!("{seq}"),
        };
        event(node, seq, seq, kind)
    }

    #[test]
    fn a_missing_or_changed_acked_event_is_caught() {
        let own: Vec<Event> = (0..5).map(|s| signal("e", s)).collect();
        let good = Forwarded {
            node: "e".into(),
            own: own.clone(),
            first_seq: 0,
            acked_below: 4,
            at_hub: own[..4].to_vec(),
        };
        assert_eq!(acked_events_at_hub(&[good]), (vec![], 4));

        let mut at_hub = own[..4].to_vec();
        at_hub.remove(2);
        let missing = Forwarded {
            node: "e".into(),
            own: own.clone(),
            first_seq: 0,
            acked_below: 4,
            at_hub,
        };
        assert_eq!(
            acked_events_at_hub(&[missing]).0,
            ["e/2 acked but missing at the hub"]
        );

        let mut at_hub = own[..4].to_vec();
        at_hub[1] = signal("e", 9);
        at_hub[1].id.seq = 1;
        let changed = Forwarded {
            node: "e".into(),
            own,
            first_seq: 0,
            acked_below: 4,
            at_hub,
        };
        let (wrong, verified) = acked_events_at_hub(&[changed]);
        assert_eq!(
            (wrong, verified),
            (vec!["e/1 differs at the hub".to_string()], 3)
        );
    }

    #[test]
    fn events_not_at_the_hub_after_the_drain_are_a_backlog() {
        let own: Vec<Event> = (0..5).map(|s| signal("e", s)).collect();
        let edge = |at_hub: usize| Forwarded {
            node: "e".into(),
            own: own.clone(),
            first_seq: 0,
            acked_below: 0,
            at_hub: own[..at_hub].to_vec(),
        };
        assert_eq!(backlog(&[edge(5)], |_| 100), (vec![], 0));
        let (wrong, left) = backlog(&[edge(3)], |_| 100);
        assert_eq!(left, 2);
        assert_eq!(wrong, ["e: 2 events never forwarded after the drain"]);
        let (wrong, left) = backlog(&[edge(3)], |_| 4);
        assert_eq!((wrong.len(), left), (1, 1), "seq 4 is still on its way");
    }

    #[test]
    fn two_agents_in_one_cell_are_caught() {
        let ok = [
            ("a".to_string(), Cell::new(1, 1)),
            ("b".to_string(), Cell::new(1, 2)),
        ];
        assert_eq!(one_agent_per_cell(5, &ok), None);
        let clash = [
            ("a".to_string(), Cell::new(1, 1)),
            ("b".to_string(), Cell::new(1, 1)),
        ];
        assert!(
            one_agent_per_cell(5, &clash)
                .unwrap()
                .contains("both at (1,1)")
        );
    }

    #[test]
    fn missions_must_end_with_a_reason() {
        let planned = |id: u64| EventKind::Mission {
            mission: id,
            change: MissionChange::Planned {
                goal: "cover".into(),
                squad: "default".into(),
                tasks: 1,
            },
            rationale: String::new(),
        };
        let ended = |id: u64, outcome: MissionOutcome| EventKind::Mission {
            mission: id,
            change: MissionChange::Ended(outcome),
            rationale: String::new(),
        };
        let unexplained = MissionOutcome::Failed { reason: " ".into() };
        let events = [
            event("c", 0, 10, planned(1)),
            event("c", 1, 20, planned(2)),
            event("c", 2, 30, ended(1, MissionOutcome::Completed)),
            event("c", 3, 40, planned(3)),
            event("c", 4, 50, ended(3, unexplained)),
        ];
        let m = missions(&events);
        assert_eq!(
            missions_end(&m, 100),
            [
                "mission 2 (planned at 20us) never ended, nothing done on it since 20us; last: planned",
                "mission 3 failed without a reason"
            ]
        );
        assert_eq!(missions_end(&m, 15), ["mission 3 failed without a reason"]);
    }

    #[test]
    fn a_mission_still_worked_on_is_alive_and_a_silent_one_is_stuck() {
        let planned = |id: u64| EventKind::Mission {
            mission: id,
            change: MissionChange::Planned {
                goal: "fetch".into(),
                squad: "default".into(),
                tasks: 1,
            },
            rationale: String::new(),
        };
        // The typed task, not the words, says which mission it is about.
        let decided = |about: Option<u64>, rationale: &str| EventKind::Decision {
            rationale: rationale.into(),
            alternatives: vec![],
            confidence: 1.0,
            inputs_hash: 0,
            about: about.map(|mission| swarmd_messages::TaskRef { mission, task: 0 }),
        };
        let events = [
            event("c", 0, 10, planned(7)),
            event("c", 1, 10, planned(8)),
            event("e", 0, 30, decided(Some(8), "accepted task 8/0: fetch")),
            event(
                "e",
                1,
                90,
                decided(Some(7), "task 7/0 reached waypoint 0 at (1,1)"),
            ),
            event("e", 2, 95, decided(Some(70), "task 70/0 finished: Done")),
            event("e", 3, 97, decided(None, "task 8/0 said in words only")),
        ];
        let m = missions(&events);
        let wrong = missions_end(&m, 50);
        assert_eq!(wrong.len(), 1, "{wrong:?}");
        assert!(wrong[0].starts_with("mission 8 "), "{wrong:?}");
        assert!(wrong[0].contains("since 30us"), "{wrong:?}");
        assert!(missions_end(&m, 25).is_empty());
    }

    #[test]
    fn too_many_restarts_in_a_period_are_caught() {
        let restart = || EventKind::Supervision {
            child: "a1/reflex".into(),
            what: SupervisionAction::Restarted,
            restarts: 1,
        };
        let limit = |_: &str| Limit {
            max_restarts: 2,
            period: Duration::from_secs(1),
        };
        let spaced: Vec<Event> = [0, 600_000, 1_200_000]
            .iter()
            .map(|t| event("n", 0, *t, restart()))
            .collect();
        assert_eq!(intensity_respected(&spaced, limit), (vec![], 3));
        let burst: Vec<Event> = [0, 100, 200]
            .iter()
            .map(|t| event("n", 0, *t, restart()))
            .collect();
        assert_eq!(intensity_respected(&burst, limit).0.len(), 1);
    }
}
