//! Leaders (`[cloud] ha`, DESIGN §18): no two leaders' decisions accepted
//! under overlapping tokens. Every takeover writes a larger token, and
//! each token belongs to the one cloud that took it. On any node, the
//! tokens its agents accepted assignments under never go back: once one
//! of its agents took work from a newer leader, nothing of an older one
//! is accepted there again. A deposed leader that did not notice (its
//! assignments late on a slow link) is what this catches when an agent
//! does not check the token.

use std::collections::BTreeMap;

use swarmd_messages::{Event, EventKind, LeadershipChange};

/// What the leader checker counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LeaderCount {
    /// Takeovers recorded by the clouds.
    pub takeovers: u64,
    /// Assignments accepted under a token, checked for order.
    pub accepted: u64,
    /// Assignments of a deposed leader the agents refused.
    pub refused: u64,
}

/// Violations and counts over every node's own log (by node name).
pub fn leaders_never_overlap(logs: &BTreeMap<String, Vec<Event>>) -> (Vec<String>, LeaderCount) {
    let mut wrong = Vec::new();
    let mut count = LeaderCount::default();
    let mut taken_by: BTreeMap<u64, &str> = BTreeMap::new();
    for (node, log) in logs {
        let mut newest: Option<(u64, String)> = None;
        for e in log {
            match &e.kind {
                EventKind::Leadership {
                    change: LeadershipChange::Took { token, .. },
                } => {
                    count.takeovers += 1;
                    match taken_by.insert(*token, node) {
                        Some(other) if other != node => {
                            wrong.push(format!("token {token} taken by both {other} and {node}"))
                        }
                        _ => {}
                    }
                }
                EventKind::Leadership {
                    change: LeadershipChange::StaleRefused { .. },
                } => count.refused += 1,
                EventKind::Decision { rationale, .. } => {
                    let Some((task, token)) = accepted(rationale) else {
                        continue;
                    };
                    count.accepted += 1;
                    match &newest {
                        Some((seen, after)) if token < *seen => wrong.push(format!(
                            "{node}: {:?} accepted task {task} under token {token} \
                             after {after} under token {seen} (#{})",
                            e.agent, e.id.seq
                        )),
                        Some((seen, _)) if token == *seen => {}
                        _ => newest = Some((token, format!("task {task}"))),
                    }
                }
                _ => {}
            }
        }
    }
    (wrong, count)
}

/// `accepted task M/T (token N): …` as (`M/T`, N).
fn accepted(rationale: &str) -> Option<(&str, u64)> {
    let rest = rationale.strip_prefix("accepted task ")?;
    let (task, rest) = rest.split_once(" (token ")?;
    let (token, _) = rest.split_once(')')?;
    Some((task, token.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_accepted_assignment_names_its_task_and_token() {
        let line = "accepted task 4/2 (token 17): fetch the item at (1,2)";
        assert_eq!(accepted(line), Some(("4/2", 17)));
        assert_eq!(accepted("accepted task 4/2: fetch"), None, "no HA");
        assert_eq!(accepted("yield to a3"), None);
    }
}
