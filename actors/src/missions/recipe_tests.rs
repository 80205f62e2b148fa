use super::*;
use swarmd_messages::recipe::PlanStep;
use swarmd_messages::swarm::Cell;

const S: u64 = 1_000_000;

fn fetch() -> StepGoal {
    StepGoal::Mission(Goal::Fetch {
        item: Cell::new(1, 1),
        dock: Cell::new(0, 0),
    })
}

fn step(name: &str, needs: &[&str], goal: StepGoal) -> PlanStep {
    PlanStep {
        name: name.into(),
        goal,
        needs: needs.iter().map(|n| n.to_string()).collect(),
        retries: 0,
        timeout_s: 0,
        on_failure: OnFailure::Fail,
        squad: None,
        capability: None,
    }
}

fn run(steps: Vec<PlanStep>) -> RecipeRun {
    let plan = RecipePlan {
        name: "r".into(),
        description: String::new(),
        steps,
    };
    RecipeRun::new(1, [1; 16], "default".into(), plan)
}

/// Starts the missions `out` asks for, as the planner does, numbering them from `next`.
fn start_all(r: &mut RecipeRun, out: &Outcome, next: &mut u64, now: u64) -> Vec<u64> {
    out.start
        .iter()
        .map(|(step, _)| {
            *next += 1;
            r.started(*step, *next, now);
            *next
        })
        .collect()
}

fn failed() -> MissionOutcome {
    MissionOutcome::Failed {
        reason: "blocked".into(),
    }
}

#[test]
fn a_diamond_runs_its_branches_together_and_the_join_after_both() {
    let mut r = run(vec![
        step("a", &[], StepGoal::Wait { seconds: 1 }),
        step("b", &["a"], fetch()),
        step("c", &["a"], fetch()),
        step("d", &["b", "c"], fetch()),
    ]);
    let mut next = 10;
    let out = r.advance(0);
    assert!(out.start.is_empty(), "a waits first");
    let out = r.advance(S);
    let branches = start_all(&mut r, &out, &mut next, S);
    assert_eq!(
        out.start.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [1, 2]
    );
    let out = r
        .mission_ended(branches[0], &MissionOutcome::Completed, 2 * S)
        .unwrap();
    assert!(out.start.is_empty(), "d needs c too");
    let out = r
        .mission_ended(branches[1], &MissionOutcome::Completed, 2 * S)
        .unwrap();
    assert_eq!(out.start.len(), 1);
    let join = start_all(&mut r, &out, &mut next, 2 * S)[0];
    let out = r
        .mission_ended(join, &MissionOutcome::Completed, 3 * S)
        .unwrap();
    assert_eq!(out.ended, Some(MissionOutcome::Completed));
    assert_eq!(r.progress(), (4, 4));
    assert_eq!(
        r.mission_ended(join, &MissionOutcome::Completed, 4 * S),
        None
    );
}

#[test]
fn a_failing_step_is_retried_then_fails_the_recipe() {
    let mut failing = step("a", &[], fetch());
    failing.retries = 2;
    let mut r = run(vec![failing, step("b", &["a"], fetch())]);
    let mut next = 0;
    let mut out = r.advance(0);
    for attempt in 1..=3 {
        let m = start_all(&mut r, &out, &mut next, 0)[0];
        assert_eq!(r.steps[0].attempts, attempt);
        out = r.mission_ended(m, &failed(), 0).unwrap();
    }
    assert!(
        matches!(&out.ended, Some(MissionOutcome::Failed { reason }) if reason.contains("step a: after 3 attempts")),
        "{out:?}"
    );
    assert!(matches!(r.steps[1].state, StepState::Skipped(_)));
}

#[test]
fn skip_skips_the_dependents_and_continue_lets_them_run() {
    let mut skip = step("s", &[], fetch());
    skip.on_failure = OnFailure::Skip;
    let mut cont = step("c", &[], fetch());
    cont.on_failure = OnFailure::Continue;
    let mut r = run(vec![
        skip,
        cont,
        step("after-s", &["s"], fetch()),
        step("after-c", &["c"], fetch()),
    ]);
    let mut next = 0;
    let out = r.advance(0);
    let ms = start_all(&mut r, &out, &mut next, 0);
    r.mission_ended(ms[0], &failed(), 0).unwrap();
    let out = r.mission_ended(ms[1], &failed(), 0).unwrap();
    assert_eq!(out.start.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [3]);
    assert!(matches!(r.steps[2].state, StepState::Skipped(_)));
    let last = start_all(&mut r, &out, &mut next, 0)[0];
    let out = r
        .mission_ended(last, &MissionOutcome::Completed, 0)
        .unwrap();
    assert_eq!(out.ended, Some(MissionOutcome::Completed));
}

#[test]
fn an_attempt_past_its_timeout_is_abandoned_and_retried() {
    let mut slow = step("slow", &[], fetch());
    slow.timeout_s = 10;
    slow.retries = 1;
    let mut r = run(vec![slow]);
    let mut next = 0;
    let out = r.advance(0);
    let first = start_all(&mut r, &out, &mut next, 0)[0];
    assert!(r.advance(9 * S).abandon.is_empty());
    let out = r.advance(10 * S);
    assert_eq!(out.abandon, vec![first]);
    assert!(out.changes.iter().any(|(_, c)| matches!(c, StepChange::Failed { retrying: true, reason } if reason.contains("timed out"))));
    assert_eq!(out.start.len(), 1, "retried at once");
}
