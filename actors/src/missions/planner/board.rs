//! The planner and its task board: open tasks of active missions are
//! posted; agents with room claim through their statuses (a status is the
//! agent saying what it holds, so one holding fewer than `tasks_per_agent`
//! is a claimant); reports, silences and expired leases end leases as the
//! board decides; the book follows. Every decision goes to the ledger as a
//! `policy_decision`, and the board's entries to disk.

use std::collections::BTreeMap;

use swarmd_messages::EventKind;
use swarmd_messages::swarm::{Address, AgentMsg, AgentStatus, Assignment, TaskOutcome, TaskReport};
use tracing::{debug, info};

use super::PlannerState;
use crate::board::{Claimant, Completion, Lease, Partition, Posting, Refusal, Returned, TaskKey};
use crate::missions::book::{self, Finish, MissionState, TaskState};
use crate::missions::trace;

impl PlannerState {
    /// Posts what is open, lets agents with room claim, sends what they got
    /// once the book and the board hold it (durable before it goes out: a
    /// cloud taking over resumes from what was stored).
    pub(super) async fn dispatch(&mut self) {
        self.post_open_tasks();
        let now = self.now_us();
        let mut granted = Vec::new();
        for lease in self.claim_tasks(now) {
            granted.extend(self.hand_over(lease).await);
        }
        if !self.record_board().await {
            // Not stored: nothing goes out. The leases run out and the
            // tasks are granted again once the store takes writes.
            return;
        }
        for (to, assignment) in granted {
            let _in = trace::assign_span(&to.name, &assignment).entered();
            debug!(agent = %to.name, mission = assignment.mission, task = assignment.task, attempt = assignment.attempt, waypoints = assignment.waypoints.len(), token = assignment.token, traceparent = %assignment.trace.traceparent(), "task assigned");
            self.send(&to, &AgentMsg::Assign(assignment));
        }
    }

    fn post_open_tasks(&mut self) {
        let active = self
            .missions
            .values()
            .filter(|m| m.state == MissionState::Active);
        for mission in active {
            let partition = Partition {
                tenant: self.args.tenant.clone(),
                squad: mission.squad.clone(),
            };
            for task in mission.tasks.iter().filter(|t| t.state == TaskState::Open) {
                let key = TaskKey {
                    mission: mission.id,
                    task: task.id,
                };
                if self.board.entry(key).is_some() {
                    continue;
                }
                let posting = Posting {
                    key,
                    partition: partition.clone(),
                    kind: book::task_kind(&mission.goal).to_string(),
                    cost: task.cost,
                    priority: task.work.as_ref().map_or(0, |w| w.priority),
                    needs: task.needs.clone(),
                };
                // Overloaded: the task stays open in the book and is posted
                // again next round; the board recorded the refusal.
                if self.board.post(posting).is_err() {
                    break;
                }
            }
        }
    }

    /// Claims for every agent with room, one task each per round, least
    /// loaded first, until no claim is granted.
    fn claim_tasks(&mut self, now_us: u64) -> Vec<Lease> {
        let per_agent = self.args.tasks_per_agent;
        let given = self.assigned_by_agent();
        let mut load: BTreeMap<String, usize> = self
            .agents
            .iter()
            .filter(|(_, a)| a.asking && !a.status.halted)
            .map(|(n, _)| (n.clone(), given.get(n.as_str()).copied().unwrap_or(0)))
            .collect();
        let mut leases = Vec::new();
        loop {
            let mut order: Vec<(usize, String)> = load
                .iter()
                .filter(|(_, l)| **l < per_agent)
                .map(|(n, l)| (*l, n.clone()))
                .collect();
            order.sort();
            let mut granted = false;
            for (_, name) in order {
                let status = &self.agents[&name].status;
                let tenants = [status.tenant.clone()];
                let who = Claimant {
                    agent: &name,
                    tenants: &tenants,
                    squad: &status.squad,
                    capabilities: &status.capabilities,
                };
                match self.board.claim(who, now_us) {
                    Ok(lease) => {
                        self.agents.get_mut(&name).expect("a claimant").asking = false;
                        *load.get_mut(&name).expect("a claimant") += 1;
                        leases.push(lease);
                        granted = true;
                    }
                    Err(Refusal::NothingToClaim | Refusal::RateLimited { .. }) => {
                        load.remove(&name);
                    }
                }
            }
            if !granted {
                return leases;
            }
        }
    }

    /// Grants `lease` in the book: the assignment to send, and to whom.
    async fn hand_over(&mut self, lease: Lease) -> Option<(Address, Assignment)> {
        let key = lease.key;
        let token = self.token();
        let Some(mission) = self.missions.get_mut(&key.mission) else {
            self.board.withdraw(key.mission);
            return None;
        };
        let before = mission.clone();
        let Some(mut assignment) = book::grant(mission, key.task, &lease.agent, lease.attempt)
        else {
            // The book no longer wants it (a crash between saves): the
            // mission ended, or this task did.
            match mission.state {
                MissionState::Active => self.board.forget(key),
                _ => self.board.withdraw(key.mission),
            }
            return None;
        };
        assignment.token = token;
        let to = self.agents[&lease.agent].status.agent.clone();
        let why = format!(
            "claimed from the board ({})",
            self.board.config().admission.name()
        );
        self.changed(&before, &why)
            .await
            .then_some((to, assignment))
    }

    /// A report from an agent: the board decides what it means.
    pub(super) async fn report(&mut self, report: &TaskReport) {
        let key = TaskKey {
            mission: report.mission,
            task: report.task,
        };
        let (agent, attempt) = (report.agent.as_str(), report.attempt);
        let how = match &report.outcome {
            TaskOutcome::Progress { .. } => return,
            TaskOutcome::Done => match self.board.complete(key, agent, attempt) {
                Completion::Completed => Finish::Done,
                // Not on the board (its save was lost: a full disk, a
                // crash) but the book's: the book's lease decides.
                Completion::Unknown if self.book_holds(key, agent, attempt) => Finish::Done,
                Completion::Repeat
                | Completion::Duplicate
                | Completion::NotHeld
                | Completion::Unknown => return,
            },
            TaskOutcome::Failed { reason } => {
                let now = self.now_us();
                match self.board.fail(key, agent, attempt, reason, now) {
                    Some(returned) => self.finish_for(key, returned, reason),
                    None if self.board.entry(key).is_none()
                        && self.book_holds(key, agent, attempt) =>
                    {
                        Finish::Reopened
                    }
                    None => return,
                }
            }
        };
        let why = format!("reported by {agent}");
        self.finish(key, how, &why).await;
        self.ask_again(agent);
    }

    /// An agent that reported a task ended claims again at once, rather than
    /// at its next status, if its last status lists every task it still holds.
    fn ask_again(&mut self, agent: &str) {
        let caught_up = self.agents.get(agent).map(|k| self.caught_up(&k.status));
        if let (Some(known), Some(caught_up)) = (self.agents.get_mut(agent), caught_up) {
            known.asking = caught_up;
        }
    }

    /// Renews what `status` lists and takes back what it stopped listing.
    pub(super) async fn reconcile(&mut self, status: &AgentStatus) {
        let now = self.now_us();
        let agent = status.agent.name.as_str();
        for (mission, task) in &status.tasks {
            let key = TaskKey {
                mission: *mission,
                task: *task,
            };
            self.board.renew(key, agent, now);
        }
        let why = format!("missing from {agent}'s status");
        for id in self.active_ids() {
            let mission = self.missions.get_mut(&id).expect("active");
            let before = mission.clone();
            let opened = book::reconcile(mission, status);
            // Recorded before the board's verdict, which may end the task.
            self.changed(&before, &why).await;
            for task in opened {
                let key = TaskKey { mission: id, task };
                self.lose(key, agent, "missing from its statuses").await;
            }
        }
    }

    /// Whether the book gives task `key` to `agent` for lease `attempt`.
    fn book_holds(&self, key: TaskKey, agent: &str, attempt: u32) -> bool {
        let Some(mission) = self.missions.get(&key.mission) else {
            return false;
        };
        mission.tasks.iter().any(|t| {
            t.id == key.task
                && t.attempts == attempt
                && matches!(&t.state, TaskState::Assigned { agent: a, .. } if a == agent)
        })
    }

    /// Whether `status` lists every task given to its agent: one that does
    /// not was sent before the latest grant reached it, and asks for nothing.
    pub(super) fn caught_up(&self, status: &AgentStatus) -> bool {
        let agent = &status.agent.name;
        let active = self
            .missions
            .values()
            .filter(|m| m.state == MissionState::Active);
        active
            .flat_map(|m| m.tasks.iter().map(move |t| (m.id, t)))
            .all(|(id, t)| {
                !matches!(&t.state, TaskState::Assigned { agent: a, .. } if a == agent)
                    || status.tasks.contains(&(id, t.id))
            })
    }

    /// Takes every task `agent` holds back (it went silent).
    pub(super) async fn take_back_from(&mut self, agent: &str, reason: &str) {
        for key in self.board.held_by(agent) {
            self.lose(key, agent, reason).await;
        }
        let why = format!("{agent} {reason}");
        let release = |m: &mut book::Mission| book::release(m, agent);
        let _ = self.apply(release, None, &why).await;
    }

    /// Returns the leases run out by now.
    pub(super) async fn expire_leases(&mut self) {
        let now = self.now_us();
        for (key, agent, returned) in self.board.expire(now) {
            // A holder that let its lease lapse claims nothing more until
            // it is heard again: its last status is stale.
            if let Some(known) = self.agents.get_mut(&agent) {
                known.asking = false;
            }
            let held = self.missions.get(&key.mission).is_some_and(|m| {
                m.tasks.iter().any(|t| {
                    t.id == key.task
                        && matches!(&t.state, TaskState::Assigned { agent: a, .. } if *a == agent)
                })
            });
            if held {
                let how = self.finish_for(key, returned, "lease expired");
                self.finish(key, how, &format!("{agent}'s lease expired"))
                    .await;
            }
        }
    }

    async fn lose(&mut self, key: TaskKey, agent: &str, reason: &str) {
        let now = self.now_us();
        if let Some(returned) = self.board.lose(key, agent, reason, now) {
            let how = self.finish_for(key, returned, reason);
            self.finish(key, how, &format!("{agent}: {reason}")).await;
        }
    }

    fn finish_for(&self, key: TaskKey, returned: Returned, reason: &str) -> Finish {
        match returned {
            Returned::Reopened => Finish::Reopened,
            Returned::DeadLettered => {
                let attempts = self.board.dead_letter(key).map_or(0, |e| e.attempts);
                Finish::Failed(format!("dead-lettered after {attempts} attempts: {reason}"))
            }
        }
    }

    async fn finish(&mut self, key: TaskKey, how: Finish, why: &str) {
        let finish = |m: &mut book::Mission| book::finish(m, key.task, how.clone());
        let _ = self.apply(finish, Some(key.mission), why).await;
    }

    /// Hands the board's decisions to the ledger and its changes to disk;
    /// `false` if the changes were not stored.
    pub(super) async fn record_board(&mut self) -> bool {
        for d in self.board.take_decisions() {
            let kind = EventKind::PolicyDecision {
                policy: d.policy.to_string(),
                task: d.task.map(|k| k.to_string()),
                agent: d.agent,
                decision: d.detail,
            };
            self.journal.record(kind).await;
        }
        self.board_store.save(&mut self.board).await
    }
}

impl PlannerState {
    /// Replays the dead task `MISSION/TASK`: back on the board with fresh
    /// attempts, its mission active again. A task of a recipe's mission is
    /// replayed through its step, which starts a new mission.
    pub(super) async fn replay_task(&mut self, id: &str) -> Result<String, String> {
        let unknown =
            || format!("no dead task {id:?} (ids are task/MISSION/TASK, as `dlq list` shows)");
        let (mission, task) = id.split_once('/').ok_or_else(unknown)?;
        let key = TaskKey {
            mission: mission.parse().map_err(|_| unknown())?,
            task: task.parse().map_err(|_| unknown())?,
        };
        self.board.dead_letter(key).ok_or_else(unknown)?;
        if self.carried_by_recipe(key.mission) {
            return Err(format!(
                "task {key} belongs to a recipe's step: replay the step (dlq list shows it)"
            ));
        }
        let Some(mission) = self.missions.get_mut(&key.mission) else {
            return Err(format!("mission {} is forgotten", key.mission));
        };
        self.board.replay(key)?;
        let before = mission.clone();
        if let Some(t) = mission.tasks.iter_mut().find(|t| t.id == key.task) {
            t.state = TaskState::Open;
            t.attempts = 0;
        }
        mission.state = MissionState::Active;
        info!(task = %key, "dead task replayed");
        self.changed(&before, "replayed from the dead-letter queue")
            .await;
        self.record_board().await;
        Ok(format!("task/{key}"))
    }

    fn carried_by_recipe(&self, mission: u64) -> bool {
        use crate::missions::recipe::StepState;
        self.recipes.values().flat_map(|r| &r.steps).any(|s| {
            matches!(s.state, StepState::Running { mission: Some(m), .. } if m == mission)
                || s.history.iter().any(|f| f.mission == Some(mission))
        })
    }
}
