//! Tasks: completed once. The board's idempotency key is a task's
//! `MISSION/TASK`; its first `Done` completes it and every later one is a
//! duplicate, so no task may end completed by two different agents in the
//! cloud's ledger. (The same agent's completion recorded twice is a cloud
//! that crashed between recording it and saving the book: the report is
//! re-read on restart, not the task done again.)

use std::collections::BTreeMap;

use swarmd_messages::{Event, EventKind, MissionOutcome, TaskChange};

/// Violations, and how many completions were checked, in `cloud_log`.
pub fn tasks_completed_once(cloud_log: &[Event]) -> (Vec<String>, u64) {
    let mut by: BTreeMap<(u64, u32), (&str, u64)> = BTreeMap::new();
    let (mut wrong, mut checked) = (Vec::new(), 0);
    for e in cloud_log {
        let EventKind::Task {
            mission,
            task,
            change: TaskChange::Ended(MissionOutcome::Completed),
            rationale,
        } = &e.kind
        else {
            continue;
        };
        checked += 1;
        let agent = rationale.strip_prefix("reported by ").unwrap_or(rationale);
        match by.get(&(*mission, *task)) {
            Some((first, seq)) if *first != agent => wrong.push(format!(
                "task {mission}/{task} completed twice: by {first} (#{seq}) and by {agent} (#{})",
                e.id.seq
            )),
            Some(_) => {}
            None => {
                by.insert((*mission, *task), (agent, e.id.seq));
            }
        }
    }
    (wrong, checked)
}
