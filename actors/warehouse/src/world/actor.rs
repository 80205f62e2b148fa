//! The world actor: hosts a [`GridWorld`], answers agents through the router,
//! moves hazards about, and forgets agents it has not heard from.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_messages::swarm::{
    Address, AgentMsg, Cell, FloorPlan, MoveRefused, Perception, WORLD_ACTOR, WorldMsg,
};
use swarmd_messages::{EventKind, FloorChange, encode_payload};
use swarmd_supervisor::{ActorSlot, ChildSpec};
use tokio::time::Instant;
use tracing::{info, warn};

use super::grid::{GridConfig, GridWorld};
use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::{LocalDirectory, decoding_endpoint};
use swarmd_actors::journal::Journal;
use swarmd_actors::router::{self, Router};
use swarmd_actors::ticker::{TickStats, Ticker};

#[derive(Clone)]
pub struct WorldArgs {
    pub ctx: NodeCtx,
    pub router: Arc<dyn Router>,
    pub tenant: String,
    pub grid: GridConfig,
    /// A hazard appears (and, at the cap, one clears) this often; zero: never.
    pub hazard_every: Duration,
    /// An agent silent this long is taken off the floor (its node may be gone).
    pub agent_timeout: Duration,
}

pub enum WorldActorMsg {
    Request(WorldMsg),
    Tick(Instant),
    Snapshot(RpcReplyPort<WorldSnapshot>),
    /// Puts a hazard on a free cell; answers whether it was placed.
    PlaceHazard(Cell, RpcReplyPort<bool>),
}

impl ractor::Message for WorldActorMsg {}

/// The world as it is, for tests, checkers and the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldSnapshot {
    pub plan: FloorPlan,
    pub agents: Vec<(String, Cell)>,
    pub hazards: Vec<Cell>,
    /// Moves refused: each one a move an agent's reflex should have avoided.
    pub refused_moves: u64,
}

/// The world under `WORLD_ACTOR` in `directory`; the endpoint outlives
/// restarts. Each incarnation's ref goes into `slot`.
pub fn world_child(
    args: WorldArgs,
    directory: &LocalDirectory,
    slot: ActorSlot<WorldActorMsg>,
) -> ChildSpec {
    let endpoint = decoding_endpoint(slot.clone(), "the world", WorldActorMsg::Request);
    let registered = directory.register(WORLD_ACTOR, endpoint);
    assert!(registered, "one world per node");
    ChildSpec::for_actor_in(WORLD_ACTOR, WorldActor, args, slot)
}

#[derive(Clone)]
pub struct WorldActor;

pub struct WorldState {
    args: WorldArgs,
    grid: GridWorld,
    journal: Journal,
    last_heard: BTreeMap<String, Instant>,
    next_hazard: Instant,
    refused_moves: u64,
    /// When each agent reached its cell, in µs on this node's wall clock.
    arrived: BTreeMap<String, u64>,
    ticker: Ticker,
    /// The floor plan, encoded once for every agent's welcome.
    plan_bytes: Vec<u8>,
}

impl Actor for WorldActor {
    type Msg = WorldActorMsg;
    type State = WorldState;
    type Arguments = WorldArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<WorldActorMsg>,
        args: WorldArgs,
    ) -> Result<WorldState, ActorProcessingErr> {
        let grid = GridWorld::new(args.grid.clone());
        let journal = Journal::new(args.ctx.ledger.clone(), &args.tenant, WORLD_ACTOR);
        let opened = EventKind::Floor {
            at_us: wall_us(args.ctx.clock.as_ref()),
            change: FloorChange::Opened,
        };
        journal.record(opened).await;
        let plan = grid.plan();
        info!(
            width = plan.width,
            height = plan.height,
            shelves = plan.obstacles.len(),
            "grid world open"
        );
        let ticker = Ticker::start(
            Duration::from_millis(100),
            myself,
            Arc::new(TickStats::default()),
            WorldActorMsg::Tick,
        );
        let plan_bytes = encode_payload(grid.plan())?;
        Ok(WorldState {
            next_hazard: Instant::now() + args.hazard_every,
            args,
            plan_bytes,
            grid,
            journal,
            last_heard: BTreeMap::new(),
            refused_moves: 0,
            arrived: BTreeMap::new(),
            ticker,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<WorldActorMsg>,
        msg: WorldActorMsg,
        state: &mut WorldState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorldActorMsg::Request(request) => state.serve(request).await,
            WorldActorMsg::Tick(due) => {
                let now = Instant::now();
                state.ticker.handled(due, now);
                state.expire_silent(now).await;
                state.move_hazards(now).await;
            }
            WorldActorMsg::Snapshot(reply) => {
                let _ = reply.send(state.snapshot());
            }
            WorldActorMsg::PlaceHazard(cell, reply) => {
                let placed = state.grid.place_hazard(cell);
                if placed {
                    state
                        .journal
                        .signal("hazard_placed", cell.to_string())
                        .await;
                }
                let _ = reply.send(placed);
            }
        }
        Ok(())
    }
}

impl WorldState {
    async fn serve(&mut self, request: WorldMsg) {
        let now = Instant::now();
        match request {
            WorldMsg::Enter { agent, preferred } => self.enter(agent, preferred, now).await,
            WorldMsg::Sense { agent, request } => {
                self.heard(&agent, now);
                self.answer(&agent, request, None);
            }
            WorldMsg::Move { agent, request, to } => {
                self.heard(&agent, now);
                let refused = self.grid.step(&agent, to).err();
                if refused.is_none() {
                    self.arrived.insert(agent.clone(), self.now_us());
                }
                if let Some(why) = &refused {
                    self.refused_moves += 1;
                    self.journal
                        .signal("world_refused_move", format!("{agent}: {why}"))
                        .await;
                }
                self.answer(&agent, request, refused);
            }
            WorldMsg::Leave { agent } => {
                self.last_heard.remove(&agent);
                self.arrived.remove(&agent);
                if self.grid.leave(&agent) {
                    self.floor(FloorChange::Left { agent }).await;
                }
            }
        }
    }

    async fn enter(&mut self, agent: Address, preferred: Option<Cell>, now: Instant) {
        let entropy = self.args.ctx.entropy.clone();
        match self.grid.enter(agent.clone(), preferred, entropy.as_ref()) {
            Ok(cell) => {
                self.last_heard.insert(agent.name.clone(), now);
                self.arrived.insert(agent.name.clone(), self.now_us());
                let detail = format!("{} from {} at {cell}", agent.name, agent.node);
                self.journal.signal("agent_entered", detail).await;
                let Some(perception) = self.perceive(&agent.name, 0, None) else {
                    return;
                };
                match AgentMsg::welcome_bytes(&self.plan_bytes, &perception) {
                    // Unreachable agents re-ask or are forgotten, as in `send`.
                    Ok(welcome) => {
                        let _ = self.args.router.cast_bytes(&agent, welcome);
                    }
                    Err(e) => warn!(agent = %agent.name, error = %e, "welcome not encoded"),
                }
            }
            Err(why) => warn!(agent = %agent.name, %why, "agent cannot enter the world"),
        }
    }

    fn heard(&mut self, agent: &str, now: Instant) {
        if let Some(t) = self.last_heard.get_mut(agent) {
            *t = now;
        }
    }

    fn answer(&self, agent: &str, request: u64, refused: Option<MoveRefused>) {
        let (Some(perception), Some(address)) = (
            self.perceive(agent, request, refused),
            self.grid.address(agent),
        ) else {
            return;
        };
        self.send(address, &AgentMsg::Perceived(perception));
    }

    fn send(&self, to: &Address, msg: &AgentMsg) {
        // An agent that cannot be reached re-asks or is forgotten; nothing to do here.
        let _ = router::cast(self.args.router.as_ref(), to, msg);
    }

    async fn expire_silent(&mut self, now: Instant) {
        let timeout = self.args.agent_timeout;
        let silent: Vec<String> = self
            .last_heard
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(**t) > timeout)
            .map(|(n, _)| n.clone())
            .collect();
        for agent in silent {
            self.last_heard.remove(&agent);
            self.arrived.remove(&agent);
            self.grid.leave(&agent);
            warn!(%agent, ?timeout, "agent silent; taken off the floor");
            self.floor(FloorChange::Expired { agent }).await;
        }
    }

    async fn move_hazards(&mut self, now: Instant) {
        if self.args.hazard_every.is_zero() || now < self.next_hazard {
            return;
        }
        self.next_hazard = now + self.args.hazard_every;
        let entropy = self.args.ctx.entropy.clone();
        let (appeared, cleared) = self.grid.shift_hazards(entropy.as_ref());
        if let Some(c) = appeared {
            self.journal.signal("hazard_appeared", c.to_string()).await;
        }
        if let Some(c) = cleared {
            self.journal.signal("hazard_cleared", c.to_string()).await;
        }
    }

    fn perceive(
        &self,
        agent: &str,
        request: u64,
        refused: Option<MoveRefused>,
    ) -> Option<Perception> {
        let mut perception = self.grid.perceive(agent, request, refused)?;
        perception.arrived_us = self.arrived.get(agent).copied().unwrap_or(0);
        Some(perception)
    }

    fn now_us(&self) -> u64 {
        wall_us(self.args.ctx.clock.as_ref())
    }

    /// A change of the floor, stamped on the same clock as the agents' arrivals.
    async fn floor(&self, change: FloorChange) {
        let at_us = self.now_us();
        self.journal
            .record(EventKind::Floor { at_us, change })
            .await;
    }

    fn snapshot(&self) -> WorldSnapshot {
        WorldSnapshot {
            plan: self.grid.plan().clone(),
            agents: self
                .grid
                .agents()
                .map(|(n, c)| (n.to_string(), c))
                .collect(),
            hazards: self.grid.hazards().collect(),
            refused_moves: self.refused_moves,
        }
    }
}

fn wall_us(clock: &dyn swarmd_supervisor::seams::Clock) -> u64 {
    let now = clock.wall_now();
    now.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
