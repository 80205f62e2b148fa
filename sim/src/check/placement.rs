//! The split-brain rule (DESIGN §6): no agent runs on two nodes at once for
//! longer than the placement grace. Where an agent ran is read from each
//! node's own ledger: its `agents` supervisor starting it, until the agent
//! exits, is fenced, or the node's run ends: its incarnation (a disk
//! wiped), or a restart on the same disk (its tree starting again).

use std::collections::BTreeMap;

use swarmd_messages::{
    Event, EventKind, PlacementChange, SEQ_INCARNATION_SHIFT, SupervisionAction,
};

/// One stretch of an agent running on a node, µs on that node's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub node: String,
    pub from_us: u64,
    pub to_us: u64,
}

/// Violations, and how many spans were compared.
pub fn one_node_at_a_time(
    logs: &BTreeMap<String, Vec<Event>>,
    grace_us: u64,
) -> (Vec<String>, u64) {
    let mut spans: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for (node, log) in logs {
        for (agent, span) in spans_of(node, log) {
            spans.entry(agent).or_default().push(span);
        }
    }
    let mut wrong = Vec::new();
    let mut compared = 0;
    for (agent, spans) in &spans {
        compared += spans.len() as u64;
        for (i, a) in spans.iter().enumerate() {
            for b in spans[i + 1..].iter().filter(|b| b.node != a.node) {
                let overlap = a
                    .to_us
                    .min(b.to_us)
                    .saturating_sub(a.from_us.max(b.from_us));
                if overlap > grace_us {
                    wrong.push(format!(
                        "agent {agent} ran on {} and {} at once for {} ms (grace {} ms)",
                        a.node,
                        b.node,
                        overlap / 1000,
                        grace_us / 1000
                    ));
                }
            }
        }
    }
    (wrong, compared)
}

/// The stretches each agent ran on `node`, by its own log (in seq order).
fn spans_of(node: &str, log: &[Event]) -> Vec<(String, Span)> {
    let mut open: BTreeMap<String, u64> = BTreeMap::new();
    let mut done = Vec::new();
    let mut close = |open: &mut BTreeMap<String, u64>, agent: &str, to_us: u64| {
        if let Some(from_us) = open.remove(agent) {
            let span = Span {
                node: node.to_string(),
                from_us,
                to_us,
            };
            done.push((agent.to_string(), span));
        }
    };
    let (mut incarnation, mut last_us, mut booted) = (None, 0, false);
    for e in log {
        let this = e.id.seq >> SEQ_INCARNATION_SHIFT;
        let boot = is_boot(&e.kind);
        if incarnation.is_some_and(|i| i != this) || (booted && boot) {
            // The node restarted: what ran before died with it.
            for agent in open.keys().cloned().collect::<Vec<_>>() {
                close(&mut open, &agent, last_us);
            }
        }
        booted |= boot;
        (incarnation, last_us) = (Some(this), e.time_us);
        match &e.kind {
            EventKind::Supervision { child, what, .. } => {
                let Some(agent) = child.strip_prefix("agents/").filter(|a| !a.contains('/')) else {
                    continue;
                };
                match what {
                    SupervisionAction::Started | SupervisionAction::Restarted => {
                        open.entry(agent.to_string()).or_insert(e.time_us);
                    }
                    _ => close(&mut open, agent, e.time_us),
                }
            }
            EventKind::Placement {
                agent,
                change: PlacementChange::Fenced { .. },
            } => close(&mut open, agent, e.time_us),
            _ => {}
        }
    }
    for agent in open.keys().cloned().collect::<Vec<_>>() {
        close(&mut open, &agent, last_us);
    }
    done
}

/// The first record of a node's every start: its storage subtree started.
fn is_boot(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Supervision { child, what: SupervisionAction::Started, .. } if child == "node/storage")
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::{EventId, TraceContext};

    fn event(node: &str, seq: u64, time_s: u64, kind: EventKind) -> Event {
        Event {
            id: EventId {
                node: node.into(),
                seq,
            },
            tenant: "default".into(),
            agent: None,
            trace: TraceContext::default(),
            time_us: time_s * 1_000_000,
            kind,
        }
    }

    fn started(node: &str, seq: u64, time_s: u64, agent: &str) -> Event {
        let kind = EventKind::Supervision {
            child: format!("agents/{agent}"),
            what: SupervisionAction::Started,
            restarts: 0,
        };
        event(node, seq, time_s, kind)
    }

    fn fenced(node: &str, seq: u64, time_s: u64, agent: &str) -> Event {
        let change = PlacementChange::Fenced { node: node.into() };
        event(
            node,
            seq,
            time_s,
            EventKind::Placement {
                agent: agent.into(),
                change,
            },
        )
    }

    fn logs(of: Vec<(&str, Vec<Event>)>) -> BTreeMap<String, Vec<Event>> {
        of.into_iter().map(|(n, l)| (n.to_string(), l)).collect()
    }

    #[test]
    fn a_fenced_agent_moved_after_the_grace_passes_and_one_left_running_fails() {
        let moved = logs(vec![
            (
                "edge-1",
                vec![started("edge-1", 1, 10, "r"), fenced("edge-1", 2, 13, "r")],
            ),
            (
                "edge-2",
                vec![started("edge-2", 1, 16, "r"), started("edge-2", 2, 40, "x")],
            ),
        ]);
        let (wrong, compared) = one_node_at_a_time(&moved, 5_000_000);
        assert_eq!((wrong.len(), compared), (0, 3), "{wrong:?}");
        let twice = logs(vec![
            (
                "edge-1",
                vec![started("edge-1", 1, 10, "r"), started("edge-1", 2, 40, "y")],
            ),
            (
                "edge-2",
                vec![started("edge-2", 1, 16, "r"), started("edge-2", 2, 40, "x")],
            ),
        ]);
        let (wrong, _) = one_node_at_a_time(&twice, 5_000_000);
        assert_eq!(
            wrong,
            ["agent r ran on edge-1 and edge-2 at once for 24000 ms (grace 5000 ms)"]
        );
    }

    #[test]
    fn a_crash_ends_what_ran_on_the_node() {
        let next = 1 << SEQ_INCARNATION_SHIFT;
        let crashed = logs(vec![
            (
                "edge-1",
                vec![
                    started("edge-1", 1, 10, "r"),
                    started("edge-1", 2, 12, "y"),
                    started("edge-1", next, 30, "z"),
                ],
            ),
            (
                "edge-2",
                vec![started("edge-2", 1, 18, "r"), started("edge-2", 2, 40, "x")],
            ),
        ]);
        let (wrong, _) = one_node_at_a_time(&crashed, 5_000_000);
        assert!(wrong.is_empty(), "{wrong:?}");
    }

    #[test]
    fn a_restart_on_the_same_disk_ends_what_ran_on_the_node() {
        let boot = |seq, time_s| {
            let kind = EventKind::Supervision {
                child: "node/storage".into(),
                what: SupervisionAction::Started,
                restarts: 0,
            };
            event("edge-1", seq, time_s, kind)
        };
        let edge_1 = vec![
            boot(1, 0),
            started("edge-1", 2, 10, "r"),
            boot(3, 30),
            started("edge-1", 4, 31, "y"),
        ];
        let restarted = logs(vec![
            ("edge-1", edge_1.clone()),
            (
                "edge-2",
                vec![started("edge-2", 1, 25, "r"), started("edge-2", 2, 60, "x")],
            ),
        ]);
        let (wrong, _) = one_node_at_a_time(&restarted, 5_000_000);
        assert!(wrong.is_empty(), "{wrong:?}");
        let mut never = edge_1;
        never.remove(2);
        let ran_on = logs(vec![
            ("edge-1", never),
            (
                "edge-2",
                vec![started("edge-2", 1, 25, "r"), started("edge-2", 2, 60, "x")],
            ),
        ]);
        let (wrong, _) = one_node_at_a_time(&ran_on, 5_000_000);
        assert_eq!(wrong.len(), 1, "without the restart r ran twice");
    }
}
