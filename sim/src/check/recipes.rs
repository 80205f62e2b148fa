//! Recipes: a step of a run starts only once every step it needs has ended
//! in a way that lets it start (done, or failed for good with
//! `on_failure = "continue"`), in the order the cloud recorded them.

use std::collections::{BTreeMap, BTreeSet};

use swarmd_messages::recipe::{OnFailure, RecipePlan};
use swarmd_messages::{Event, EventKind, MissionChange, StepChange};

/// Violations, and how many step starts were checked, of the runs of
/// `plan` in `cloud_log` (the planning node's own log, in seq order).
pub fn recipe_steps_in_order(cloud_log: &[Event], plan: &RecipePlan) -> (Vec<String>, u64) {
    let goal = format!("recipe {}", plan.name);
    let mut runs: BTreeSet<u64> = BTreeSet::new();
    let mut ended: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
    let (mut wrong, mut checked) = (Vec::new(), 0);
    for e in cloud_log {
        let EventKind::Mission {
            mission, change, ..
        } = &e.kind
        else {
            continue;
        };
        match change {
            MissionChange::Planned { goal: g, .. } if *g == goal => {
                runs.insert(*mission);
            }
            MissionChange::Step { step, change } if runs.contains(mission) => {
                let Some(at) = plan.steps.iter().position(|s| s.name == *step) else {
                    wrong.push(format!("recipe {mission}: unknown step {step:?}"));
                    continue;
                };
                let done = ended.entry(*mission).or_default();
                match change {
                    StepChange::Started { .. } => {
                        checked += 1;
                        for need in &plan.steps[at].needs {
                            if !done.contains(need.as_str()) {
                                wrong.push(format!(
                                    "recipe {mission}: step {step} started (#{}) before {need} ended",
                                    e.id.seq
                                ));
                            }
                        }
                    }
                    StepChange::Done => {
                        done.insert(plan.steps[at].name.as_str());
                    }
                    StepChange::Failed {
                        retrying: false, ..
                    } if plan.steps[at].on_failure == OnFailure::Continue => {
                        done.insert(plan.steps[at].name.as_str());
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    (wrong, checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::recipe::{PlanStep, StepGoal};
    use swarmd_messages::{EventId, TraceContext};

    fn plan() -> RecipePlan {
        let step = |name: &str, needs: &[&str]| PlanStep {
            name: name.into(),
            goal: StepGoal::Wait { seconds: 1 },
            needs: needs.iter().map(|n| n.to_string()).collect(),
            retries: 0,
            timeout_s: 0,
            on_failure: OnFailure::Fail,
            squad: None,
            capability: None,
        };
        RecipePlan {
            name: "d".into(),
            description: String::new(),
            steps: vec![step("a", &[]), step("b", &["a"])],
        }
    }

    fn event(seq: u64, change: MissionChange) -> Event {
        Event {
            id: EventId {
                node: "cloud".into(),
                seq,
            },
            tenant: "t".into(),
            agent: None,
            trace: TraceContext::default(),
            time_us: seq,
            kind: EventKind::Mission {
                mission: 1,
                change,
                rationale: String::new(),
            },
        }
    }

    fn step(name: &str, change: StepChange) -> MissionChange {
        MissionChange::Step {
            step: name.into(),
            change,
        }
    }

    #[test]
    fn a_step_started_before_its_need_ended_is_named() {
        let planned = MissionChange::Planned {
            goal: "recipe d".into(),
            squad: "default".into(),
            tasks: 2,
        };
        let started = || StepChange::Started {
            attempt: 1,
            mission: None,
        };
        let good = vec![
            event(1, planned.clone()),
            event(2, step("a", started())),
            event(3, step("a", StepChange::Done)),
            event(4, step("b", started())),
        ];
        assert_eq!(recipe_steps_in_order(&good, &plan()), (vec![], 2));
        let bad = vec![
            event(1, planned),
            event(2, step("a", started())),
            event(3, step("b", started())),
        ];
        let (wrong, checked) = recipe_steps_in_order(&bad, &plan());
        assert_eq!(checked, 2);
        assert!(
            wrong[0].contains("step b started (#3) before a ended"),
            "{wrong:?}"
        );
    }
}
