//! Tasks: completed once. The board's idempotency key is a task's
//! `MISSION/TASK`; its first `Done` closes the key (a `completion` policy
//! decision naming the agent) and every later one is a duplicate, so no
//! task may be completed by two different agents in the cloud's ledger.
//! (The same agent's completion recorded twice is a cloud that crashed
//! between recording it and saving the board: the report is read again on
//! restart, the task is not done again.)

use std::collections::BTreeMap;

use swarmd_messages::{Event, EventKind};

/// Violations, and how many completions were checked, in `cloud_log`.
pub fn tasks_completed_once(cloud_log: &[Event]) -> (Vec<String>, u64) {
    let mut by: BTreeMap<&str, (&str, u64)> = BTreeMap::new();
    let (mut wrong, mut checked) = (Vec::new(), 0);
    for e in cloud_log {
        let EventKind::PolicyDecision {
            policy,
            task: Some(task),
            agent: Some(agent),
            ..
        } = &e.kind
        else {
            continue;
        };
        if policy != "completion" {
            continue;
        }
        checked += 1;
        match by.get(task.as_str()) {
            Some((first, seq)) if first != agent => wrong.push(format!(
                "task {task} completed twice: by {first} (#{seq}) and by {agent} (#{})",
                e.id.seq
            )),
            Some(_) => {}
            None => {
                by.insert(task, (agent, e.id.seq));
            }
        }
    }
    (wrong, checked)
}
