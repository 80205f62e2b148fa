//! Missions: every one planned either ends (with a reason if it failed) or
//! keeps showing signs of life.

use std::collections::BTreeMap;

use swarmd_messages::{Event, EventKind, MissionChange, MissionOutcome};

/// What the ledger says of each mission: when planned, how it ended, and
/// its last sign of life.
#[derive(Debug, Default)]
pub struct MissionRecord {
    pub planned_us: u64,
    /// `None` while active.
    pub outcome: Option<MissionOutcome>,
    /// The last thing done on it (planned, a task assigned or released, or
    /// an agent accepting, advancing or finishing one of its tasks), and when.
    pub last_sign: Option<(u64, String)>,
}

impl MissionRecord {
    fn sign(&mut self, time_us: u64, what: String) {
        if self.last_sign.as_ref().is_none_or(|(t, _)| *t <= time_us) {
            self.last_sign = Some((time_us, what));
        }
    }
}

/// The missions `events` record, by id (the planner's events, and the
/// agents' for signs of life).
pub fn missions<'a>(events: impl IntoIterator<Item = &'a Event>) -> BTreeMap<u64, MissionRecord> {
    let mut out: BTreeMap<u64, MissionRecord> = BTreeMap::new();
    for e in events {
        let (id, what) = match &e.kind {
            EventKind::Mission {
                mission, change, ..
            } => {
                let record = out.entry(*mission).or_default();
                let what = match change {
                    MissionChange::Planned { .. } => {
                        record.planned_us = e.time_us;
                        "planned".to_string()
                    }
                    MissionChange::Ended(outcome) => {
                        record.outcome = Some(outcome.clone());
                        "planned".to_string()
                    }
                    // A recipe's step moving is a sign of its life.
                    MissionChange::Step { step, change } => format!("step {step} {change:?}"),
                };
                (*mission, what)
            }
            EventKind::Task {
                mission,
                task,
                change,
                ..
            } => (*mission, format!("task {task} {change:?}")),
            EventKind::Decision {
                about: Some(task),
                rationale,
                ..
            } => (task.mission, format!("{:?}: {rationale}", e.agent)),
            _ => continue,
        };
        out.entry(id).or_default().sign(e.time_us, what);
    }
    // Agents' words on missions this ledger never planned are no missions.
    out.retain(|_, m| m.planned_us > 0 || m.outcome.is_some());
    out
}

/// Every mission alive before `deadline_us` ended or still showed signs of
/// life after it (tasks retried, agents advancing); and none failed without
/// a reason.
pub fn missions_end(missions: &BTreeMap<u64, MissionRecord>, deadline_us: u64) -> Vec<String> {
    let mut wrong = Vec::new();
    for (id, m) in missions {
        let (last_us, last) = m.last_sign.clone().unwrap_or_default();
        match &m.outcome {
            None if last_us < deadline_us => wrong.push(format!(
                "mission {id} (planned at {}us) never ended, nothing done on it since {last_us}us; last: {last}",
                m.planned_us,
            )),
            Some(MissionOutcome::Failed { reason }) if reason.trim().is_empty() => {
                wrong.push(format!("mission {id} failed without a reason"))
            }
            _ => {}
        }
    }
    wrong
}
