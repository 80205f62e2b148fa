//! The dead-letter queue of recipe steps: a step whose attempts are spent
//! waits here, with the history of its failures, until an operator looks
//! (`dlq list`, `dlq show R/STEP`) and, once the cause is fixed, replays it
//! (`dlq replay R/STEP|--all`). A replay gives the step fresh attempts and
//! reopens what its failure closed: the steps skipped because of it and,
//! when it failed the recipe, the recipe and the steps that never ran. A
//! step is replayed at most once per failure and never once done, so a
//! replay never completes a step twice.

use serde::Serialize;
use swarmd_messages::StepChange;

use super::book::MissionState;
use super::recipe::{FailedAttempt, Outcome, RECIPE_ENDED, RecipeRun, StepState};

/// One entry of the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// `RUN/STEP`, e.g. `7/restock`.
    pub id: String,
    pub recipe: u64,
    pub name: String,
    pub step: String,
    pub attempts: u32,
    pub history: Vec<FailedAttempt>,
}

impl RecipeRun {
    /// The run's steps in the queue.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.dead_letter)
            .map(|(i, s)| DeadLetter {
                id: format!("{}/{}", self.id, self.plan.steps[i].name),
                recipe: self.id,
                name: self.plan.name.clone(),
                step: self.plan.steps[i].name.clone(),
                attempts: s.attempts,
                history: s.history.clone(),
            })
            .collect()
    }

    /// Replays the dead-lettered `step`; why not, when it is not one.
    pub fn replay(&mut self, step: usize, now_us: u64) -> Result<Outcome, String> {
        let name = self.name(step);
        match &self.steps[step] {
            s if s.dead_letter => {}
            s if s.state == StepState::Done => return Err(format!("step {name} is done")),
            _ => return Err(format!("step {name} is not in the dead-letter queue")),
        }
        let mut out = Outcome::default();
        self.reopen(step);
        out.changes.push((name, StepChange::Replayed));
        for i in self.downstream_of(step) {
            if matches!(self.steps[i].state, StepState::Skipped(_)) {
                self.reopen(i);
            }
        }
        // The run ended (failed by this step, or completed around its
        // skip): it goes on, with the steps its end closed.
        if self.state != MissionState::Active {
            self.state = MissionState::Active;
            for s in &mut self.steps {
                if matches!(&s.state, StepState::Skipped(r) if r == RECIPE_ENDED) {
                    s.state = StepState::Waiting;
                }
            }
        }
        out.absorb(self.advance(now_us));
        Ok(out)
    }

    fn reopen(&mut self, step: usize) {
        let s = &mut self.steps[step];
        s.state = StepState::Waiting;
        s.attempts = 0;
        s.dead_letter = false;
    }

    /// Every step that needs `step`, directly or not.
    fn downstream_of(&self, step: usize) -> Vec<usize> {
        let mut found = vec![step];
        let mut i = 0;
        while i < found.len() {
            let at = found[i];
            for j in 0..self.steps.len() {
                if !found.contains(&j) && self.plan.needs_of(j).contains(&at) {
                    found.push(j);
                }
            }
            i += 1;
        }
        found.remove(0);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::MissionOutcome;
    use swarmd_messages::recipe::{OnFailure, PlanStep, RecipePlan, StepGoal};
    use swarmd_messages::swarm::{Cell, Goal};

    fn run(on_failure: OnFailure) -> RecipeRun {
        let step = |name: &str, needs: &[&str]| PlanStep {
            name: name.into(),
            goal: StepGoal::Mission(Goal::Fetch {
                item: Cell::new(1, 1),
                dock: Cell::new(0, 0),
            }),
            needs: needs.iter().map(|n| n.to_string()).collect(),
            retries: 1,
            timeout_s: 0,
            on_failure,
            squad: None,
            capability: None,
        };
        let plan = RecipePlan {
            name: "r".into(),
            description: String::new(),
            steps: vec![step("a", &[]), step("b", &["a"]), step("c", &["b"])],
        };
        RecipeRun::new(3, [3; 16], "default".into(), plan)
    }

    fn fail_twice(r: &mut RecipeRun) -> Outcome {
        let failed = MissionOutcome::Failed {
            reason: "no carrier".into(),
        };
        let mut out = r.advance(0);
        for m in [10, 11] {
            r.started(out.start[0].0, m, 0);
            out = r.mission_ended(m, &failed, 5).unwrap();
        }
        out
    }

    #[test]
    fn a_step_that_failed_the_recipe_waits_in_the_queue_and_a_replay_revives_both() {
        let mut r = run(OnFailure::Fail);
        let out = fail_twice(&mut r);
        assert!(matches!(out.ended, Some(MissionOutcome::Failed { .. })));
        let dead = r.dead_letters();
        assert_eq!(dead.len(), 1);
        assert_eq!((dead[0].id.as_str(), dead[0].attempts), ("3/a", 2));
        let missions: Vec<_> = dead[0].history.iter().map(|h| h.mission).collect();
        assert_eq!(missions, [Some(10), Some(11)]);

        let out = r.replay(0, 9).unwrap();
        assert_eq!(r.state, MissionState::Active);
        assert_eq!(out.start.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [0]);
        assert!(r.dead_letters().is_empty());
        assert!(
            r.replay(0, 9)
                .unwrap_err()
                .contains("not in the dead-letter queue")
        );
        r.started(0, 12, 9);
        r.mission_ended(12, &MissionOutcome::Completed, 10).unwrap();
        assert!(r.replay(0, 11).unwrap_err().contains("is done"));
    }

    #[test]
    fn a_skipped_step_s_replay_reopens_what_its_skip_closed() {
        let mut r = run(OnFailure::Skip);
        let out = fail_twice(&mut r);
        assert_eq!(out.ended, Some(MissionOutcome::Completed), "skips end it");
        assert!(
            r.steps
                .iter()
                .all(|s| matches!(s.state, StepState::Skipped(_)))
        );
        r.replay(0, 9).unwrap();
        assert_eq!(r.steps[1].state, StepState::Waiting);
        assert_eq!(r.steps[2].state, StepState::Waiting);
        assert_eq!(r.state, MissionState::Active);
    }
}
