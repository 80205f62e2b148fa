//! The planner's recipes: a run per recipe, a mission per step attempt.
//! The run ([`RecipeRun`]) decides; this file starts and abandons the
//! missions it asks for, records every step change in the ledger under the
//! recipe's id and trace, and saves the run after each change.

use std::time::UNIX_EPOCH;

use swarmd_messages::recipe::{RecipePlan, StepGoal};
use swarmd_messages::swarm::Goal;
use swarmd_messages::{EventKind, MissionChange, MissionOutcome};
use tracing::{debug, info, warn};

use super::PlannerState;
use crate::missions::book::MissionState;
use crate::missions::recipe::{Outcome, RecipeRun, StepState};
use crate::missions::{sandboxed, trace};
use crate::sandbox::SandboxLimits;

impl PlannerState {
    /// The next id of a mission or a recipe run (they share one space).
    pub(super) fn next_id(&self) -> u64 {
        let last = |ids: Option<&u64>| ids.copied().unwrap_or(0);
        last(self.missions.keys().next_back()).max(last(self.recipes.keys().next_back())) + 1
    }

    pub(super) fn now_us(&self) -> u64 {
        let now = self.args.ctx.clock.wall_now();
        now.duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }

    pub(super) async fn submit_recipe(
        &mut self,
        plan: RecipePlan,
        squad: String,
    ) -> Result<u64, String> {
        if let Some(why) = plan.violation() {
            return Err(why);
        }
        for step in &plan.steps {
            if let StepGoal::Sandboxed { module } = &step.goal {
                sandboxed::check(module, SandboxLimits::default())
                    .map_err(|why| format!("step {:?}: module: {why}", step.name))?;
            }
            if let StepGoal::Mission(Goal::Task(spec)) = &step.goal {
                self.args
                    .task_kinds
                    .split(spec, 1)
                    .map_err(|why| format!("step {:?}: {why}", step.name))?;
            }
        }
        let id = self.next_id();
        let trace_id = trace::fresh_trace_id(&*self.args.ctx.entropy);
        let run = RecipeRun::new(id, trace_id, squad.clone(), plan);
        info!(recipe = id, name = %run.plan.name, steps = run.plan.steps.len(), "recipe planned");
        let kind = EventKind::Mission {
            mission: id,
            change: MissionChange::Planned {
                goal: format!("recipe {}", run.plan.name),
                squad,
                tasks: run.plan.steps.len() as u32,
            },
            rationale: "its steps run as their needs end".into(),
        };
        let root = trace::root_span(trace_id, id);
        self.journal.record_durably_in(root, kind).await;
        self.recipes.insert(id, run);
        self.trim();
        self.advance_recipes().await;
        Ok(id)
    }

    /// What statuses and reports call: a no-op unless a mission ended.
    pub(super) async fn advance_recipes_if_a_mission_ended(&mut self) {
        if self.a_mission_ended {
            self.advance_recipes().await;
        }
    }

    /// Moves every active run on: steps whose missions ended (just now, or
    /// while the planner was down), timeouts, waits, steps now ready. Called
    /// on every tick, and after a status or report that ended a mission.
    pub(super) async fn advance_recipes(&mut self) {
        self.a_mission_ended = false;
        let now = self.now_us();
        let active: Vec<u64> = self
            .recipes
            .iter()
            .filter(|(_, r)| r.state == MissionState::Active)
            .map(|(id, _)| *id)
            .collect();
        for id in active {
            for (mission, outcome) in self.ended_missions_of(id) {
                self.recipe_mission_ended(id, mission, &outcome).await;
            }
            let Some(run) = self.recipes.get_mut(&id) else {
                continue;
            };
            let out = run.advance(now);
            self.carry_out(id, out).await;
        }
    }

    async fn recipe_mission_ended(&mut self, id: u64, mission: u64, outcome: &MissionOutcome) {
        let now = self.now_us();
        let Some(run) = self.recipes.get_mut(&id) else {
            return;
        };
        if let Some(out) = run.mission_ended(mission, outcome, now) {
            self.carry_out(id, out).await;
        }
    }

    /// Missions of running steps of run `id` that are no longer active.
    fn ended_missions_of(&self, id: u64) -> Vec<(u64, MissionOutcome)> {
        let running = self.recipes[&id]
            .steps
            .iter()
            .filter_map(|s| match s.state {
                StepState::Running { mission, .. } => mission,
                _ => None,
            });
        running
            .filter_map(|m| {
                let outcome = match self.missions.get(&m) {
                    Some(mission) => mission.state.outcome()?,
                    None => MissionOutcome::Failed {
                        reason: format!("mission {m} is gone"),
                    },
                };
                Some((m, outcome))
            })
            .collect()
    }

    /// Starts the missions `out` asks for, abandons the ones it drops,
    /// records every change, and saves the run.
    async fn carry_out(&mut self, id: u64, mut out: Outcome) {
        // Runs are advanced on every status: most calls change nothing.
        if out.is_empty() {
            return;
        }
        let squad = self.recipes[&id].squad.clone();
        let now = self.now_us();
        self.plan_sandboxed_steps(id, &mut out).await;
        for (step, goal) in std::mem::take(&mut out.start) {
            let plan = &self.recipes[&id].plan.steps[step];
            let squad = plan.squad.clone().unwrap_or_else(|| squad.clone());
            let needs = plan.capability.clone();
            let change = match self.submit(goal, squad, needs).await {
                Ok(mission) => self
                    .recipes
                    .get_mut(&id)
                    .map(|r| r.started(step, mission, now)),
                Err(e) => {
                    warn!(recipe = id, step, error = %e, "step's mission not started");
                    None
                }
            };
            out.changes.extend(change);
        }
        for mission in std::mem::take(&mut out.abandon) {
            let name = self.recipes[&id].plan.name.clone();
            self.abandon(mission, &format!("abandoned by recipe {name}"))
                .await;
        }
        let run = &self.recipes[&id];
        let root = trace::root_span(run.trace_id, id);
        for (step, change) in out.changes {
            debug!(recipe = id, %step, ?change, "recipe step");
            let kind = EventKind::Mission {
                mission: id,
                change: MissionChange::Step { step, change },
                rationale: format!("recipe {}", run.plan.name),
            };
            self.journal
                .record_durably_in(self.journal.span_in(root), kind)
                .await;
        }
        if let Some(outcome) = out.ended {
            info!(recipe = id, ?outcome, "recipe ended");
            let kind = EventKind::Mission {
                mission: id,
                change: MissionChange::Ended(outcome),
                rationale: "every step ended".into(),
            };
            self.journal
                .record_durably_in(self.journal.span_in(root), kind)
                .await;
        }
        self.recipe_store.save(&self.recipes[&id]).await;
    }

    /// Replays dead letter `id` (`RUN/STEP`), or every one; the ids replayed.
    pub(super) async fn replay(&mut self, id: Option<&str>) -> Result<Vec<String>, String> {
        if let Some(task) = id.and_then(|id| id.strip_prefix("task/")) {
            let replayed = self.replay_task(task).await?;
            return Ok(vec![replayed]);
        }
        let targets: Vec<(u64, usize)> = match id {
            None => self
                .recipes
                .values()
                .flat_map(|r| {
                    let dead = r.steps.iter().enumerate().filter(|(_, s)| s.dead_letter);
                    dead.map(|(i, _)| (r.id, i)).collect::<Vec<_>>()
                })
                .collect(),
            Some(id) => vec![self.dead_letter(id)?],
        };
        let now = self.now_us();
        let mut replayed = Vec::new();
        for (run, step) in targets {
            let recipe = self.recipes.get_mut(&run).expect("a target is a known run");
            let out = recipe.replay(step, now)?;
            replayed.push(format!("{run}/{}", recipe.plan.steps[step].name));
            info!(recipe = run, step, "dead letter replayed");
            self.carry_out(run, out).await;
        }
        Ok(replayed)
    }

    /// Has the guest of each sandboxed step `out` starts plan its mission;
    /// a guest that fails fails that attempt (which may start another).
    async fn plan_sandboxed_steps(&mut self, id: u64, out: &mut Outcome) {
        let floor = self.args.plan.clone();
        while let Some(step) = out.guest.pop() {
            let run = &self.recipes[&id];
            let StepGoal::Sandboxed { module } = &run.plan.steps[step].goal else {
                unreachable!("only sandboxed steps ask a guest");
            };
            let (module, attempt) = (module.clone(), run.steps[step].attempts);
            let limits = SandboxLimits::default();
            match sandboxed::plan_step(&module, floor.as_ref(), attempt, limits).await {
                Ok(goal) => out.start.push((step, goal)),
                Err(why) => {
                    warn!(recipe = id, step, %why, "sandboxed step not planned");
                    let now = self.now_us();
                    let run = self.recipes.get_mut(&id).expect("a run in progress");
                    out.absorb(run.start_failed(step, why, now));
                }
            }
        }
    }

    /// The run and step index of `RUN/STEP`.
    fn dead_letter(&self, id: &str) -> Result<(u64, usize), String> {
        let unknown = || format!("no dead letter {id:?} (ids are RUN/STEP, as `dlq list` shows)");
        let (run, step) = id.split_once('/').ok_or_else(unknown)?;
        let run: u64 = run.parse().map_err(|_| unknown())?;
        let recipe = self.recipes.get(&run).ok_or_else(unknown)?;
        let index = recipe.plan.steps.iter().position(|s| s.name == step);
        Ok((run, index.ok_or_else(unknown)?))
    }

    /// Ends an active mission no step needs any more.
    async fn abandon(&mut self, id: u64, reason: &str) {
        let Some(mission) = self.missions.get_mut(&id) else {
            return;
        };
        if mission.state != MissionState::Active {
            return;
        }
        let before = mission.clone();
        mission.state = MissionState::Failed(reason.to_string());
        self.changed(&before, reason).await;
    }
}
