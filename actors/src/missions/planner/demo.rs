//! The demo workload: with `missions.demo`, a new mission whenever none is
//! active; with `missions.continuous`, a fetch for every idle agent.

use std::borrow::Cow;

use ractor::ActorProcessingErr;
use swarmd_messages::swarm::{Cell, FloorPlan, Goal, Rect, Workload};

use super::PlannerState;
use crate::missions::book::MissionState;

impl PlannerState {
    /// With agents to do it: the recipe again when no run of it is active,
    /// or (without a recipe) a demo mission when none is active.
    pub(super) async fn keep_the_demo_going(&mut self) -> Result<(), ActorProcessingErr> {
        if self.agents.is_empty() {
            return Ok(());
        }
        if let Some(plan) = self.args.recipe.clone() {
            let running = self
                .recipes
                .values()
                .any(|r| r.state == MissionState::Active);
            if !running && let Err(why) = self.submit_recipe(plan, "default".into()).await {
                tracing::warn!(%why, "the configured recipe cannot run");
            }
        } else if self.args.demo && !self.any_active() {
            let goal = self.demo_goal();
            self.submit(goal, "default".into(), None).await?;
        }
        Ok(())
    }

    /// Alternates sector sweeps and fetches, at seeded places.
    pub(super) fn demo_goal(&self) -> Goal {
        if !self.missions.len().is_multiple_of(2) {
            return self.fetch_goal();
        }
        let plan = self.plan();
        let pick = |n: i32| self.pick(n);
        let (w, h) = (plan.width.min(9), plan.height.min(7));
        let min = Cell::new(pick(plan.width - w + 1), pick(plan.height - h + 1));
        let max = Cell::new(min.x + w - 1, min.y + h - 1);
        Goal::CoverSector {
            sector: Rect { min, max },
        }
    }

    /// An item on a seeded free cell, to a seeded dock.
    pub(super) fn fetch_goal(&self) -> Goal {
        let plan = self.plan();
        let pick = |n: i32| self.pick(n);
        let free = |c: &Cell| !plan.obstacles.contains(c);
        let item = (0..64)
            .map(|_| Cell::new(pick(plan.width), pick(plan.height)))
            .find(free)
            .unwrap_or(Cell::new(plan.width - 1, 0));
        let dock = plan.docks[pick(plan.docks.len() as i32) as usize];
        Goal::Fetch { item, dock }
    }

    fn plan(&self) -> Cow<'_, FloorPlan> {
        match &self.args.plan {
            Some(plan) => Cow::Borrowed(plan),
            None => Cow::Owned(FloorPlan {
                width: 24,
                height: 12,
                obstacles: vec![],
                docks: vec![Cell::new(0, 1)],
            }),
        }
    }

    /// A seeded number in `0..n`.
    fn pick(&self, n: i32) -> i32 {
        (self.args.ctx.entropy.next_u64() % n.max(1) as u64) as i32
    }

    /// A fetch mission for every agent the book gives no task, so none
    /// waits in a busy agent's queue while another is idle.
    pub(super) async fn keep_every_agent_busy(&mut self) -> Result<(), ActorProcessingErr> {
        if let Some(workload) = self.args.workload.clone() {
            return self.reveal(&workload).await;
        }
        let holding = self.assigned_by_agent();
        let idle = self
            .agents
            .iter()
            .filter(|(name, a)| {
                // The book, not the agent's last status, which lags behind.
                !a.status.halted && !holding.contains_key(name.as_str())
            })
            .count();
        let open = self.open_tasks();
        for _ in open..idle {
            let goal = self.fetch_goal();
            self.submit(goal, "default".into(), None).await?;
        }
        Ok(())
    }

    /// Keeps `revealed` of the workload's tasks planned: the next ones in
    /// order as others end, until the workload runs out. One a planner
    /// refuses (off the floor) is journaled by `submit` and skipped.
    async fn reveal(&mut self, workload: &Workload) -> Result<(), ActorProcessingErr> {
        let active = self.active_ids().len();
        let wanted = workload.revealed.saturating_sub(active);
        let from = self.next_revealed.min(workload.tasks.len());
        let to = (from + wanted).min(workload.tasks.len());
        self.next_revealed = to;
        for cells in &workload.tasks[from..to] {
            let goal = Goal::Errands {
                cells: cells.clone(),
            };
            if let Err(why) = self.submit(goal, "default".into(), None).await {
                tracing::warn!(%why, "a workload task refused");
            }
        }
        Ok(())
    }
}
