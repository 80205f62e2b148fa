//! One agent per cell, from the agents' own reports: each agent records
//! where it arrived and when (on the world's clock); the world records when
//! it took agents off the floor or opened empty. Two agents whose stays in
//! one cell overlap in time were both there.
//!
//! A stay that ended with the agent's node dying is not judged, nor one
//! still open when every node lost power at the end: its last reports may
//! have gone with the node's unflushed writes.

use std::collections::BTreeMap;

use swarmd_messages::swarm::Cell;
use swarmd_messages::{Event, EventKind, FloorChange};

/// One agent in one cell, `[from_us, to_us)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stay {
    agent: String,
    cell: Cell,
    from_us: u64,
    to_us: u64,
}

/// What happened to an agent at an instant (on the world's clock).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    /// Its own report of arriving, as recorded on `node` at `recorded_us`,
    /// after its journal had failed to record `unrecorded` events.
    Arrived {
        cell: Cell,
        node: String,
        recorded_us: u64,
        unrecorded: u64,
    },
    /// Off the floor: left (its reports are complete) or expired (they may not be).
    Off { complete: bool },
}

/// Stays judged, and stays not judged (their tail may be lost).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FloorCount {
    pub stays: u64,
    pub unjudged: u64,
}

/// Where reports may have gone missing: when each node's ledger recorded
/// that a commit failed (the events of that batch were never stored).
#[derive(Default)]
struct Gaps(BTreeMap<String, Vec<u64>>);

impl Gaps {
    /// A failed commit on `node` recorded in `(after_us, until_us]`.
    fn between(&self, node: &str, after_us: u64, until_us: u64) -> bool {
        let failures = self.0.get(node).map_or(&[][..], Vec::as_slice);
        failures.iter().any(|t| *t > after_us && *t <= until_us)
    }
}

/// Each agent's marks, by the instant they happened.
type Marks = BTreeMap<String, Vec<(u64, Mark)>>;

/// Every agent's marks, the floor's openings, and the ledgers' gaps.
fn marks(events: &[Event]) -> (Marks, Vec<u64>, Gaps) {
    let mut marks = Marks::new();
    let mut openings = Vec::new();
    let mut gaps = Gaps::default();
    let mut mark =
        |agent: &str, at: u64, m: Mark| marks.entry(agent.to_string()).or_default().push((at, m));
    for e in events {
        match &e.kind {
            EventKind::Moved {
                to,
                arrived_us,
                unrecorded,
                ..
            } => {
                if let Some(agent) = &e.agent {
                    let arrived = Mark::Arrived {
                        cell: *to,
                        node: e.id.node.clone(),
                        recorded_us: e.time_us,
                        unrecorded: *unrecorded,
                    };
                    mark(agent, *arrived_us, arrived);
                }
            }
            EventKind::Floor { at_us, change } => match change {
                FloorChange::Opened => openings.push(*at_us),
                FloorChange::Left { agent } => mark(agent, *at_us, Mark::Off { complete: true }),
                FloorChange::Expired { agent } => {
                    mark(agent, *at_us, Mark::Off { complete: false })
                }
            },
            EventKind::Signal { status, .. } if status == "storage_error" => {
                gaps.0.entry(e.id.node.clone()).or_default().push(e.time_us);
            }
            _ => {}
        }
    }
    (marks, openings, gaps)
}

/// Whether the agent's reports between an arrival and the mark that ends
/// its stay are known complete.
fn complete(arrived: &Mark, next: &Mark, gaps: &Gaps) -> bool {
    let Mark::Arrived {
        node,
        recorded_us,
        unrecorded,
        ..
    } = arrived
    else {
        return false;
    };
    match next {
        Mark::Off { complete: false } => false,
        // Left the floor, or the floor reopened: complete unless a commit
        // failed on its node since.
        Mark::Off { complete: true } => !gaps.between(node, *recorded_us, u64::MAX),
        Mark::Arrived {
            node: next_node,
            recorded_us: next_us,
            unrecorded: next_unrecorded,
            ..
        } => {
            next_node == node
                && next_unrecorded == unrecorded
                && !gaps.between(node, *recorded_us, *next_us)
        }
    }
}

/// Every agent's stays, from all nodes' events, and how many were not judged.
fn stays(events: &[Event]) -> (Vec<Stay>, u64) {
    let (marks, openings, gaps) = marks(events);
    let mut all = Vec::new();
    let mut unjudged = 0;
    for (agent, mut marks) in marks {
        // A world that opens empty ends every stay before it.
        marks.extend(openings.iter().map(|t| (*t, Mark::Off { complete: true })));
        marks.sort();
        marks.dedup();
        for pair in marks.windows(2) {
            let ((from_us, arrived), (to_us, next)) = (&pair[0], &pair[1]);
            let Mark::Arrived { cell, .. } = arrived else {
                continue;
            };
            if !complete(arrived, next, &gaps) {
                unjudged += 1;
                continue;
            }
            all.push(Stay {
                agent: agent.clone(),
                cell: *cell,
                from_us: *from_us,
                to_us: *to_us,
            });
        }
        // The last stay is open: every node lost power at the end.
        unjudged += u64::from(matches!(marks.last(), Some((_, Mark::Arrived { .. }))));
    }
    (all, unjudged)
}

/// Never two agents' stays in one cell overlapping in time.
pub fn one_agent_per_cell_over_time(events: &[Event]) -> (Vec<String>, FloorCount) {
    let (stays, unjudged) = stays(events);
    let mut by_cell: BTreeMap<Cell, Vec<&Stay>> = BTreeMap::new();
    for stay in &stays {
        by_cell.entry(stay.cell).or_default().push(stay);
    }
    let mut wrong = Vec::new();
    for (cell, mut in_cell) in by_cell {
        in_cell.sort_by_key(|s| (s.from_us, s.to_us));
        // Sorted by arrival: a stay overlaps an earlier one that had not ended.
        let mut longest: Option<&Stay> = None;
        for stay in in_cell {
            if let Some(before) = longest
                && before.agent != stay.agent
                && stay.from_us < before.to_us
            {
                wrong.push(format!(
                    "{} and {} both at {cell}: from {}us to {}us, and from {}us",
                    before.agent, stay.agent, before.from_us, before.to_us, stay.from_us
                ));
            }
            if longest.is_none_or(|l| stay.to_us > l.to_us) {
                longest = Some(stay);
            }
        }
    }
    let count = FloorCount {
        stays: stays.len() as u64,
        unjudged,
    };
    (wrong, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::{EventId, TraceContext};

    fn event(agent: Option<&str>, kind: EventKind) -> Event {
        Event {
            id: EventId {
                node: "n".into(),
                seq: 0,
            },
            tenant: "t".into(),
            agent: agent.map(str::to_string),
            trace: TraceContext::default(),
            time_us: 0,
            kind,
        }
    }

    fn moved(agent: &str, x: i32, at: u64) -> Event {
        let kind = EventKind::Moved {
            from: None,
            to: Cell::new(x, 0),
            arrived_us: at,
            unrecorded: 0,
        };
        let mut e = event(Some(agent), kind);
        e.time_us = at + 1;
        e
    }

    fn floor(at_us: u64, change: FloorChange) -> Event {
        event(None, EventKind::Floor { at_us, change })
    }

    #[test]
    fn agents_that_take_turns_in_a_cell_pass() {
        let events = [
            moved("a", 1, 10),
            moved("a", 2, 20),
            moved("b", 1, 20),
            moved("b", 3, 30),
        ];
        let (wrong, count) = one_agent_per_cell_over_time(&events);
        assert_eq!(wrong, Vec::<String>::new());
        assert_eq!(
            (count.stays, count.unjudged),
            (2, 2),
            "open stays are not judged"
        );
    }

    #[test]
    fn overlapping_stays_are_caught() {
        let events = [
            moved("a", 1, 10),
            moved("b", 1, 15),
            moved("a", 2, 20),
            moved("b", 3, 30),
        ];
        let (wrong, _) = one_agent_per_cell_over_time(&events);
        assert_eq!(
            wrong,
            ["a and b both at (1,0): from 10us to 20us, and from 15us"]
        );
    }

    #[test]
    fn leaving_ends_a_stay_and_expiry_leaves_it_unjudged() {
        let left = FloorChange::Left { agent: "a".into() };
        let events = [
            moved("a", 1, 10),
            floor(12, left),
            moved("b", 1, 15),
            moved("b", 2, 16),
        ];
        assert!(one_agent_per_cell_over_time(&events).0.is_empty());
        let expired = FloorChange::Expired { agent: "a".into() };
        let events = [
            moved("a", 1, 10),
            moved("b", 1, 15),
            moved("b", 2, 16),
            floor(30, expired),
        ];
        let (wrong, count) = one_agent_per_cell_over_time(&events);
        assert!(wrong.is_empty(), "a's stay may have ended unreported");
        assert_eq!((count.stays, count.unjudged), (1, 2));
    }

    #[test]
    fn a_stay_with_reports_missing_is_not_judged() {
        let mut lost = moved("a", 2, 20);
        if let EventKind::Moved { unrecorded, .. } = &mut lost.kind {
            *unrecorded = 1;
        }
        let events = [
            moved("a", 1, 10),
            moved("b", 1, 15),
            lost,
            moved("b", 2, 30),
        ];
        let (wrong, count) = one_agent_per_cell_over_time(&events);
        assert!(
            wrong.is_empty(),
            "a's move away from (1,0) may not have been recorded"
        );
        assert_eq!((count.stays, count.unjudged), (1, 3));
        let mut failed = event(
            None,
            EventKind::Signal {
                status: "storage_error".into(),
                detail: String::new(),
            },
        );
        failed.time_us = 18;
        let on_m = |mut e: Event| {
            e.id.node = "m".into();
            e
        };
        let events = [
            moved("a", 1, 10),
            on_m(moved("b", 1, 15)),
            failed,
            moved("a", 2, 20),
            on_m(moved("b", 2, 30)),
        ];
        let (wrong, count) = one_agent_per_cell_over_time(&events);
        assert!(wrong.is_empty(), "a commit failed on a's node meanwhile");
        assert_eq!(
            (count.stays, count.unjudged),
            (1, 3),
            "b's node lost nothing"
        );
    }

    #[test]
    fn a_world_that_opens_again_starts_empty() {
        let events = [
            moved("a", 1, 10),
            floor(20, FloorChange::Opened),
            moved("b", 1, 25),
            moved("b", 2, 26),
        ];
        let (wrong, count) = one_agent_per_cell_over_time(&events);
        assert!(wrong.is_empty());
        assert_eq!(count.stays, 2);
    }
}
