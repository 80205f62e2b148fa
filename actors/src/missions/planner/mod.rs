//! The mission planner (cloud role): turns goals into assignments, follows
//! progress, reassigns the work of agents that are gone, and keeps every
//! mission on disk so a restarted cloud picks up where it was. With `demo`
//! on, it keeps the swarm busy with a new mission whenever none is active.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_messages::advert::Leadership;
use swarmd_messages::swarm::{AgentMsg, AgentStatus, FloorPlan, Goal, MissionMsg};
use swarmd_messages::{AgentChange, EventKind, MissionChange, TaskChange};
use swarmd_supervisor::{ActorSlot, ChildSpec};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, warn};

mod board;
mod demo;
mod lead;
mod queries;
mod recipes;

use super::book::{self, Change, KnownAgent, Mission, MissionState};
use super::recipe::RecipeRun;
use super::store::{MissionStore, RecipeStore};
use super::trace;
use crate::NodeCtx;
use crate::board::{Board, BoardConfig, BoardStore};
use crate::fleet::{LocalDirectory, decoding_endpoint};
use crate::journal::Journal;
use crate::router::Router;
use crate::ticker::{TickStats, Ticker};

pub use super::store::MAX_MISSIONS;

#[derive(Clone)]
pub struct PlannerArgs {
    pub ctx: NodeCtx,
    pub router: Arc<dyn Router>,
    pub tenant: String,
    /// The world's floor, when known: keeps waypoints off shelves.
    pub plan: Option<FloorPlan>,
    /// An agent silent this long is gone; its tasks are reassigned.
    pub agent_timeout: Duration,
    /// Start a new demo mission whenever none is active.
    pub demo: bool,
    /// Start a fetch mission whenever fewer are active than agents known.
    pub continuous: bool,
    /// With `continuous`: these tasks, in order, instead of seeded fetches.
    pub workload: Option<Arc<swarmd_messages::swarm::Workload>>,
    /// A recipe to run over and over (a new run whenever none is active),
    /// instead of demo missions.
    pub recipe: Option<swarmd_messages::recipe::RecipePlan>,
    /// The task board's policies and bounds.
    pub board: BoardConfig,
    /// Tasks an agent holds at once: one with fewer claims more.
    pub tasks_per_agent: usize,
    /// `[cloud] ha`: who holds the cloud tier's lease. The planner plans
    /// only while it is this cloud's; changes come as [`PlannerMsg::Lead`].
    pub lease: Option<tokio::sync::watch::Receiver<Leadership>>,
    /// The domains' task kinds: they check and split missions of their tasks.
    pub task_kinds: crate::fleet::TaskKinds,
}

pub enum PlannerMsg {
    Wire(MissionMsg),
    Tick(Instant),
    /// Sends `msg` to every agent known: emergency stop, resume, config update.
    Broadcast(AgentMsg),
    Missions(RpcReplyPort<Vec<Mission>>),
    /// The latest status of every agent the planner knows, cluster-wide.
    Agents(RpcReplyPort<Vec<AgentStatus>>),
    /// An operator's mission (console, HTTP): answered with its id, or
    /// why it cannot be planned (a domain's task its domain refused).
    Submit {
        goal: Goal,
        squad: String,
        reply: RpcReplyPort<Result<u64, String>>,
    },
    /// An operator's recipe: answered with its run's id, or why it cannot run.
    SubmitRecipe {
        plan: swarmd_messages::recipe::RecipePlan,
        squad: String,
        reply: RpcReplyPort<Result<u64, String>>,
    },
    Recipes(RpcReplyPort<Vec<RecipeRun>>),
    /// `agent` moved to another node or was lost with its node: every task
    /// it holds goes back to the board, once (its leases end here, so a
    /// late report of the old holder is refused as stale).
    Release {
        agent: String,
        reason: String,
    },
    /// The task board: partitions, leases, breakers, dead tasks, counts.
    Board(RpcReplyPort<crate::board::BoardView>),
    /// Recipe steps whose attempts are spent.
    DeadLetters(RpcReplyPort<Vec<super::dead_letters::DeadLetter>>),
    /// Replays one dead letter (`RUN/STEP`) or, with `None`, every one:
    /// answered with the ids replayed, or why not.
    Replay {
        id: Option<String>,
        reply: RpcReplyPort<Result<Vec<String>, String>>,
    },
    /// The cloud tier's lease changed (`[cloud] ha`): lead from the state
    /// stored, or stand by.
    Lead(Leadership),
}

impl ractor::Message for PlannerMsg {}

/// The planner under `MISSIONS_ACTOR` in `directory`; each incarnation's ref goes into `slot`.
pub fn planner_child(
    args: PlannerArgs,
    directory: &LocalDirectory,
    slot: ActorSlot<PlannerMsg>,
) -> ChildSpec {
    let endpoint = decoding_endpoint(slot.clone(), "the planner", PlannerMsg::Wire);
    let name = swarmd_messages::swarm::MISSIONS_ACTOR;
    assert!(directory.register(name, endpoint), "one planner per node");
    ChildSpec::for_actor_in(name, MissionPlanner, args, slot)
}

#[derive(Clone)]
pub struct MissionPlanner;

pub struct PlannerState {
    args: PlannerArgs,
    store: MissionStore,
    journal: Journal,
    missions: BTreeMap<u64, Mission>,
    agents: BTreeMap<String, KnownAgent>,
    ticker: Ticker,
    recipe_store: RecipeStore,
    recipes: BTreeMap<u64, RecipeRun>,
    /// A mission ended since recipes were last advanced: statuses and
    /// reports (thousands a second) move runs on only then.
    a_mission_ended: bool,
    board: Board,
    board_store: BoardStore,
    /// The lease as last heard (`[cloud] ha`); `None`: this cloud plans alone.
    lead: Option<Leadership>,
    /// The workload's next task to reveal (not kept across restarts).
    next_revealed: usize,
}

impl Actor for MissionPlanner {
    type Msg = PlannerMsg;
    type State = PlannerState;
    type Arguments = PlannerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<PlannerMsg>,
        args: PlannerArgs,
    ) -> Result<PlannerState, ActorProcessingErr> {
        let store = MissionStore::new(args.ctx.storage.clone());
        let recipe_store = RecipeStore::new(args.ctx.storage.clone());
        let board_store = BoardStore::new(args.ctx.storage.clone());
        let lead = args.lease.as_ref().map(|l| l.borrow().clone());
        // Standing by, nothing is loaded: the state is read when the lease is taken.
        let stored = match &lead {
            Some(l) if !l.mine => {
                info!("mission planner standing by for the cloud tier's lease");
                lead::Stored::empty(&args)
            }
            _ => lead::Stored::load(&args, &store, &recipe_store, &board_store)?,
        };
        let ticker = Ticker::start(
            Duration::from_secs(1),
            myself,
            Arc::new(TickStats::default()),
            PlannerMsg::Tick,
        );
        Ok(PlannerState {
            journal: Journal::new(args.ctx.ledger.clone(), &args.tenant, "missions"),
            args,
            store,
            missions: stored.missions,
            agents: BTreeMap::new(),
            ticker,
            recipe_store,
            recipes: stored.recipes,
            a_mission_ended: false,
            board: stored.board,
            board_store,
            lead,
            next_revealed: 0,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<PlannerMsg>,
        msg: PlannerMsg,
        state: &mut PlannerState,
    ) -> Result<(), ActorProcessingErr> {
        if let PlannerMsg::Lead(lead) = msg {
            return state.on_lead(lead).await;
        }
        if !state.leads() {
            state.stand_by(msg);
            return Ok(());
        }
        match msg {
            PlannerMsg::Wire(MissionMsg::Status(status)) => {
                state.status(status).await?;
                state.advance_recipes_if_a_mission_ended().await;
            }
            PlannerMsg::Wire(MissionMsg::Report(report)) => {
                state.report(&report).await;
                state.record_board().await;
                if let swarmd_messages::swarm::TaskOutcome::Progress { reached } = report.outcome {
                    debug!(agent = %report.agent, mission = report.mission, task = report.task, reached, "waypoint reached");
                } else if state.args.continuous {
                    // The agent that finished gets its next task at once.
                    state.keep_every_agent_busy().await?;
                    state.assign().await?;
                }
                state.advance_recipes_if_a_mission_ended().await;
            }
            PlannerMsg::Wire(MissionMsg::Submit { goal, squad }) => {
                if let Err(why) = state.submit(goal, squad, None).await {
                    warn!(%why, "a mission from the wire refused");
                }
            }
            PlannerMsg::Submit { goal, squad, reply } => {
                let _ = reply.send(state.submit(goal, squad, None).await);
            }
            PlannerMsg::Tick(due) => {
                let now = Instant::now();
                state.ticker.handled(due, now);
                state.journal.retry_pending().await;
                state.forget_silent(now).await?;
                state.expire_leases().await;
                state.keep_the_demo_going().await?;
                if state.args.continuous {
                    state.keep_every_agent_busy().await?;
                }
                state.advance_recipes().await;
                state.assign().await?;
            }
            PlannerMsg::SubmitRecipe { plan, squad, reply } => {
                let submitted = state.submit_recipe(plan, squad).await;
                state.assign().await?;
                let _ = reply.send(submitted);
            }
            PlannerMsg::Board(reply) => {
                let _ = reply.send(state.board.view(state.now_us()));
            }
            PlannerMsg::Release { agent, reason } => {
                state.take_back_from(&agent, &reason).await;
            }
            PlannerMsg::Recipes(reply) => {
                let _ = reply.send(state.recipes.values().cloned().collect());
            }
            PlannerMsg::DeadLetters(reply) => {
                let _ = reply.send(
                    state
                        .recipes
                        .values()
                        .flat_map(|r| r.dead_letters())
                        .collect(),
                );
            }
            PlannerMsg::Replay { id, reply } => {
                let replayed = state.replay(id.as_deref()).await;
                state.assign().await?;
                let _ = reply.send(replayed);
            }
            PlannerMsg::Broadcast(msg) => state.broadcast(&msg),
            PlannerMsg::Missions(reply) => {
                let _ = reply.send(state.missions.values().cloned().collect());
            }
            PlannerMsg::Agents(reply) => {
                let _ = reply.send(state.agents.values().map(|a| a.status.clone()).collect());
            }
            PlannerMsg::Lead(_) => unreachable!("handled first"),
        }
        Ok(())
    }
}

impl PlannerState {
    async fn status(&mut self, status: AgentStatus) -> Result<(), ActorProcessingErr> {
        let name = status.agent.name.clone();
        if !self.agents.contains_key(&name) {
            debug!(agent = %name, node = %status.agent.node, "agent joined the swarm");
            let node = status.agent.node.clone();
            let change = AgentChange::Joined { node };
            let agent = name.clone();
            self.journal
                .record(EventKind::Agent { agent, change })
                .await;
        }
        for report in &status.finished {
            self.report(report).await;
        }
        self.reconcile(&status).await;
        self.record_board().await;
        let last_seen = Instant::now();
        let asking = self.caught_up(&status);
        let known = KnownAgent {
            status,
            last_seen,
            asking,
        };
        self.agents.insert(name, known);
        Ok(())
    }

    /// Plans a mission of `goal` for `squad`; with `needs`, every task
    /// needs that capability instead of the goal's own (a domain's task
    /// needs it besides its kind). `Err`: why the goal cannot be planned.
    async fn submit(
        &mut self,
        goal: Goal,
        squad: String,
        needs: Option<String>,
    ) -> Result<u64, String> {
        let workers = self
            .agents
            .values()
            .filter(|a| a.status.squad == squad)
            .count();
        let plan = self.args.plan.as_ref();
        let mut tasks = book::split(&goal, plan, workers, &self.args.task_kinds)?;
        let id = self.next_id();
        if let Some(needs) = needs {
            for t in &mut tasks {
                match &t.work {
                    Some(_) if !t.needs.contains(&needs) => t.needs.push(needs.clone()),
                    Some(_) => {}
                    None => t.needs = vec![needs.clone()],
                }
            }
        }
        let mission = Mission {
            id,
            trace_id: trace::fresh_trace_id(&*self.args.ctx.entropy),
            goal,
            squad,
            tasks,
            state: MissionState::Active,
        };
        let trace = mission.root_span();
        let span = trace::plan_span(id, &trace);
        span.in_scope(|| debug!(mission = id, goal = %mission.describe(), tasks = mission.tasks.len(), trace_id = %trace.trace_hex(), span_id = %trace.span_hex(), "mission planned"));
        let change = MissionChange::Planned {
            goal: mission.describe(),
            squad: mission.squad.clone(),
            tasks: mission.tasks.len() as u32,
        };
        let rationale = format!("split into tasks by capability for {workers} agents");
        let kind = EventKind::Mission {
            mission: id,
            change,
            rationale,
        };
        async {
            self.journal.record_durably_in(trace, kind).await;
            self.store.save(&mission).await;
        }
        .instrument(span)
        .await;
        self.missions.insert(id, mission);
        self.trim();
        Ok(id)
    }

    async fn assign(&mut self) -> Result<(), ActorProcessingErr> {
        self.dispatch().await;
        Ok(())
    }

    async fn forget_silent(&mut self, now: Instant) -> Result<(), ActorProcessingErr> {
        let timeout = self.args.agent_timeout;
        let gone: Vec<String> = self
            .agents
            .iter()
            .filter(|(_, a)| now.saturating_duration_since(a.last_seen) > timeout)
            .map(|(n, _)| n.clone())
            .collect();
        for agent in gone {
            warn!(%agent, ?timeout, "agent silent; its tasks will be reassigned");
            self.agents.remove(&agent);
            let reason = format!("silent for {timeout:?}");
            self.take_back_from(&agent, &reason).await;
            let change = AgentChange::Left { reason };
            self.journal
                .record(EventKind::Agent { agent, change })
                .await;
        }
        Ok(())
    }

    /// Applies `change` to one mission or every active one; records and
    /// saves what changed, `why` being the rationale.
    async fn apply(
        &mut self,
        change: impl Fn(&mut Mission) -> bool,
        only: Option<u64>,
        why: &str,
    ) -> Result<(), ActorProcessingErr> {
        let ids = only.map_or_else(|| self.active_ids(), |id| vec![id]);
        for id in ids {
            let Some(mission) = self.missions.get_mut(&id) else {
                continue;
            };
            let before = mission.clone();
            if change(mission) {
                self.changed(&before, why).await;
            }
        }
        Ok(())
    }

    /// Records how the mission `before` was has changed, announces its end
    /// and saves it; `false` if the change was not stored.
    async fn changed(&mut self, before: &Mission, why: &str) -> bool {
        let id = before.id;
        let now = &self.missions[&id];
        if now == before {
            return true;
        }
        for change in book::changes(before, now) {
            let rationale = why.to_string();
            let trace = match &change {
                Change::Task {
                    task,
                    change: TaskChange::Assigned { .. },
                } => {
                    let attempt = now.tasks.iter().find(|t| t.id == *task).map(|t| t.attempts);
                    trace::assignment_span(now.trace_id, id, *task, attempt.unwrap_or(0))
                }
                _ => self.journal.span_in(now.root_span()),
            };
            let kind = match change {
                Change::Task { task, change } => EventKind::Task {
                    mission: id,
                    task,
                    change,
                    rationale,
                },
                Change::Ended(outcome) => {
                    self.a_mission_ended = true;
                    self.board.withdraw(id);
                    EventKind::Mission {
                        mission: id,
                        change: MissionChange::Ended(outcome),
                        rationale,
                    }
                }
            };
            self.journal.record_durably_in(trace, kind).await;
        }
        self.announce(id);
        self.store.save(&self.missions[&id]).await
    }

    fn announce(&self, id: u64) {
        let m = &self.missions[&id];
        match &m.state {
            MissionState::Completed => {
                info!(mission = id, goal = %m.describe(), "mission completed")
            }
            MissionState::Failed(why) => {
                warn!(mission = id, goal = %m.describe(), reason = %why, "mission failed")
            }
            MissionState::Active => {}
        }
    }

    /// Forgets the oldest finished missions and runs beyond `MAX_MISSIONS`.
    fn trim(&mut self) {
        super::store::trim_finished(&mut self.missions, &self.store, |m| &m.state);
        super::store::trim_finished(&mut self.recipes, &self.recipe_store, |r| &r.state);
    }
}
