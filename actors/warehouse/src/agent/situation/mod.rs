//! The Situation assessment layer: the agent's world model (the floor plan,
//! hazards and peers it has seen), consistency checks of what it expected
//! against what it observes, and the turning of intents into parametrized
//! actions. A mismatch is a `consistency_violation`: it goes to the ledger and
//! up to Supervision, which re-plans with an exploration intent.

mod coordination;
mod routes;
mod stigmergy;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_messages::peer::{MAX_INTENT_CELLS, PeerState};
use swarmd_messages::swarm::{Cell, FloorPlan, Perception, YieldRequest};
use tracing::info;

use super::floor::Floor;
use super::negotiation::{self, Listener};
use super::peers::PeerLink;
use super::planning::Intent;
use super::{Action, AgentWiring, ReflexMsg, SituationMsg, SupervisionMsg};
use swarmd_actors::ticker::{Ticker, period_of};
use tokio::time::Instant;

/// A step not taken within this many ticks of asking is a mismatch.
const STEP_WITHIN_TICKS: u64 = 10;
/// Hazards this close that are no longer seen are forgotten.
const FORGET_WITHIN: u32 = 2;
/// Supervision hears the position at least this often, moving or not.
const REPORT_POSITION_EVERY_TICKS: u64 = 10;
/// Peers and hazards out of sight are remembered this many ticks.
const MEMORY_TICKS: u64 = 50;

#[derive(Clone)]
pub struct Situation;

pub struct SituationState {
    w: AgentWiring,
    ticker: Ticker,
    tick: u64,
    /// The tick in which the last step was decided on a move (see `observed`).
    decided_on_move: Option<u64>,
    floor: Option<Arc<Floor>>,
    /// Hazards seen, and the tick each was last seen: out of sight they are
    /// remembered a while, then forgotten (hazards come and go).
    hazards: BTreeMap<Cell, u64>,
    /// Peers last seen, by name: where, and at which tick. Remembered out
    /// of sight for a while, so a plan does not flip as they come and go.
    peers: BTreeMap<String, (Cell, u64)>,
    position: Option<Cell>,
    intent: Option<(u64, Intent)>,
    /// The step asked for, and the tick it was first asked.
    expected: Option<(Cell, u64)>,
    explore_to: Option<Cell>,
    /// One violation, one arrival per intent: the rest is noise until re-planned.
    violated: bool,
    arrived: bool,
    /// Yield requests from peers, while this agent lives.
    _listener: Listener,
    /// When this agent last asked peers to make way.
    asked_at: Option<u64>,
    /// The horizontal plane: the tenant's peer board and outbox on this node.
    link: Arc<PeerLink>,
    /// Peers' announced states near this agent, refreshed every tick.
    shared: Vec<PeerState>,
    /// The task in hand and the load, as Supervision gave them with the intent.
    task: Option<(u64, u32)>,
    load: u32,
    /// Busy with a task since (wall clock, µs): its right-of-way rank.
    busy_since_us: Option<u64>,
    /// The cells ahead on the current path (at most `MAX_INTENT_CELLS`).
    way: Vec<Cell>,
    /// What was announced last, and at which tick.
    announced: Option<(Cell, Vec<Cell>, u64)>,
    /// The tick the hazards in sight were last shared.
    hazards_shared_at: u64,
    /// The peer this agent makes way for (its latest state), until a tick.
    yielding: Option<(PeerState, u64)>,
    /// Peers making way for this agent: no obstacles, but never stepped on.
    ahead_of: Vec<String>,
    /// Peers making way whose grant is recorded (once per meeting).
    granted: Vec<String>,
    /// Cells peers tagged congested (strongly), refreshed every tick:
    /// routed around when there is another way.
    congested: BTreeSet<Cell>,
}

impl Actor for Situation {
    type Msg = SituationMsg;
    type State = SituationState;
    type Arguments = AgentWiring;

    async fn pre_start(
        &self,
        myself: ActorRef<SituationMsg>,
        w: AgentWiring,
    ) -> Result<SituationState, ActorProcessingErr> {
        let ticker = Ticker::start_paced(
            period_of(w.settings.situation_hz),
            myself.clone(),
            w.stats.situation.clone(),
            SituationMsg::Tick,
            w.stats.throttle.pace(w.settings.priority),
        );
        let link = w.peers.for_tenant(&w.ctx, &w.spec.tenant);
        let listener = negotiation::listen(&w, link.clone(), myself);
        Ok(SituationState {
            floor: w.floors.last(),
            w,
            ticker,
            tick: 0,
            decided_on_move: None,
            hazards: BTreeMap::new(),
            peers: BTreeMap::new(),
            position: None,
            intent: None,
            expected: None,
            explore_to: None,
            violated: false,
            arrived: false,
            _listener: listener,
            asked_at: None,
            link,
            shared: Vec::new(),
            task: None,
            load: 0,
            busy_since_us: None,
            way: Vec::new(),
            announced: None,
            hazards_shared_at: 0,
            yielding: None,
            ahead_of: Vec::new(),
            granted: Vec::new(),
            congested: BTreeSet::new(),
        })
    }

    async fn handle(
        &self,
        _: ActorRef<SituationMsg>,
        msg: SituationMsg,
        state: &mut SituationState,
    ) -> Result<(), ActorProcessingErr> {
        // Boxed: an idle actor's task is as large as its biggest handler.
        Box::pin(state.handle(msg)).await
    }
}

impl SituationState {
    async fn handle(&mut self, msg: SituationMsg) -> Result<(), ActorProcessingErr> {
        let state = self;
        match msg {
            SituationMsg::Tick(due) => {
                state.ticker.handled(due, Instant::now());
                state.tick().await;
            }
            SituationMsg::Welcome(welcome) => {
                let (plan, perception) = *welcome;
                state.learn_plan(&plan);
                state.observed(perception).await;
            }
            SituationMsg::Observed(p) => state.observed(*p).await,
            SituationMsg::YieldAsked(request) => state.yield_asked(request).await,
            SituationMsg::Intent {
                generation,
                intent,
                task,
                load,
            } => {
                state.took_task(task, load);
                state.intent = Some((generation, intent));
                state.expected = None;
                state.explore_to = None;
                state.violated = false;
                state.arrived = false;
            }
        }
        Ok(())
    }
}

impl SituationState {
    fn learn_plan(&mut self, plan: &FloorPlan) {
        self.floor = Some(self.w.floors.floor(plan));
    }

    async fn observed(&mut self, p: Perception) {
        let surprise = p
            .hazards_near
            .iter()
            .find(|h| !self.hazards.contains_key(h) && self.on_my_way(p.position, **h))
            .copied();
        let tick = self.tick;
        let mut cleared = Vec::new();
        self.hazards.retain(|h, seen| {
            let gone = h.distance(p.position) <= FORGET_WITHIN && !p.hazards_near.contains(h);
            if gone {
                cleared.push(*h);
            }
            !gone && tick - *seen <= MEMORY_TICKS
        });
        self.mark_observed(p.position, &p.hazards_near, p.refused.is_some());
        self.share_hazards(&p.hazards_near, &cleared);
        self.hazards
            .extend(p.hazards_near.iter().map(|h| (*h, tick)));
        self.remember_peers(&p);
        let moved = self.position != Some(p.position);
        if moved {
            self.w.to_supervision(SupervisionMsg::Position(p.position));
        }
        self.position = Some(p.position);
        if let Some(h) = surprise {
            let detail = format!("expected {h} free on the way, observed a hazard");
            self.violation(detail).await;
        } else if let Some(why) = p.refused {
            self.violation(format!("expected to move, the world refused: {why}"))
                .await;
        } else if moved && self.floor.is_some() {
            // The next step at once, not at this layer's next tick: else the
            // reflex waits out a move slot for it and moves at half its pace.
            self.decided_on_move = Some(self.tick);
            self.decide().await;
        }
    }

    /// On the stretch ahead of `here`: the next few cells of the current path.
    fn on_my_way(&self, here: Cell, cell: Cell) -> bool {
        let Some((_, Intent::GoTo(goal))) = self.intent else {
            return false;
        };
        let path = self.path(here, goal).unwrap_or_default();
        path.iter().take(4).any(|c| *c == cell)
    }

    async fn tick(&mut self) {
        self.tick += 1;
        if self.floor.is_none() {
            // The reflex's welcome may have come before this layer ran.
            self.floor = self.w.floors.last();
        }
        let (Some(here), Some(_)) = (self.position, self.intent) else {
            return;
        };
        if self.tick.is_multiple_of(REPORT_POSITION_EVERY_TICKS) {
            // A restarted Supervision learns where the agent is.
            self.w.to_supervision(SupervisionMsg::Position(here));
        }
        // A move since the last tick was decided on then.
        if self.decided_on_move != Some(self.tick - 1) {
            self.decide().await;
        }
    }

    /// Fuses what is known and sends the reflex its next step.
    async fn decide(&mut self) {
        let (Some(here), Some((_, intent))) = (self.position, self.intent) else {
            return;
        };
        self.fuse_peers(here);
        self.read_tags();
        self.way.clear();
        if let Some((cell, asked)) = self.expected
            && here != cell
            && self.tick - asked > STEP_WITHIN_TICKS
        {
            self.expected = None;
            self.violation(format!("expected to be at {cell}, observed at {here}"))
                .await;
        }
        let step_to = match intent {
            Intent::Hold => self.hold(here).await,
            Intent::GoTo(goal) => self.toward(here, goal).await,
            Intent::Explore => self.explore(here).await,
        };
        if let Some(next) = step_to
            && self.expected.map(|(c, _)| c) != Some(next)
        {
            self.expected = Some((next, self.tick));
        }
        if !matches!(intent, Intent::GoTo(_)) {
            self.way = step_to.into_iter().collect();
        }
        self.announce(here);
        let generation = self.intent.map_or(0, |(g, _)| g);
        self.w.to_reflex(ReflexMsg::Act(Action {
            generation,
            step_to,
        }));
    }

    async fn toward(&mut self, here: Cell, goal: Cell) -> Option<Cell> {
        if here == goal {
            self.arrive(here);
            return None;
        }
        // One search per tick: right of way and the step share it.
        let path = self.path(here, goal);
        if let Some(decided) = self.right_of_way(here, goal, path.as_deref()).await {
            return decided;
        }
        let taken = self.peer_at(goal) || self.hazards.contains_key(&goal);
        if here.distance(goal) == 1 && taken && !self.arrived {
            // A peer or a hazard holds the waypoint: seen from next to it is visited.
            let detail = format!("{goal} taken by a peer or a hazard; visited from {here}");
            self.w.journal.signal("waypoint_occupied", detail).await;
            self.arrive(goal);
            return None;
        }
        match path {
            Some(path) => {
                self.way = path
                    .iter()
                    .skip(1)
                    .take(MAX_INTENT_CELLS)
                    .copied()
                    .collect();
                self.step_unless(path.get(1).copied(), |n| self.gives_way_at(n))
            }
            None => self.through_peers(here, goal).await,
        }
    }

    /// No way around the peers: ask them to clear the way and wait for it,
    /// stepping only onto free cells. No way even through them (shelves and
    /// hazards) is a surprise.
    async fn through_peers(&mut self, here: Cell, goal: Cell) -> Option<Cell> {
        self.ask_way(here, goal).await;
        let Some(way) = self.route(here, goal, false) else {
            self.violation(format!("expected a way to {goal}, found none"))
                .await;
            return None;
        };
        self.way = way.iter().skip(1).take(MAX_INTENT_CELLS).copied().collect();
        self.step_unless(way.get(1).copied(), |next| self.peer_at(next))
    }

    /// Peers block every way to `goal`: ask those on the way past shelves
    /// and hazards alone to step aside (at most every few ticks).
    async fn ask_way(&mut self, here: Cell, goal: Cell) {
        if !self.w.settings.negotiate
            || self
                .asked_at
                .is_some_and(|t| self.tick - t < negotiation::ASK_EVERY_TICKS)
        {
            return;
        }
        let Some(way) = self.route(here, goal, false) else {
            return;
        };
        let blocking: Vec<Cell> = way.iter().copied().filter(|c| self.peer_at(*c)).collect();
        if blocking.is_empty() {
            return;
        }
        self.asked_at = Some(self.tick);
        let rationale = format!("asked peers on {blocking:?} to clear the way to {goal}");
        self.w
            .journal
            .decision(rationale, vec!["wait".into()], 0.7)
            .await;
        // The whole way: a peer steps off it, not merely along it.
        negotiation::ask(&self.w, way).await;
    }

    /// A blocked peer asks for cells: if idle and standing on one, step aside.
    async fn yield_asked(&mut self, request: YieldRequest) {
        let (Some(here), Some((_, Intent::Hold))) = (self.position, self.intent) else {
            return;
        };
        if !request.cells.contains(&here) {
            return;
        }
        let aside = |c: &Cell| self.is_open(*c) && !self.peer_at(*c) && !request.cells.contains(c);
        let Some(to) = here.neighbours().into_iter().find(aside) else {
            return;
        };
        let rationale = format!("yield to {}: step from {here} to {to}", request.from);
        self.w
            .journal
            .decision(rationale, vec!["stay".into()], 0.9)
            .await;
        self.explore_to = Some(to);
    }

    /// Idle: stay, unless here is a cell others need to pass or use (a dock,
    /// a corridor or a gap between shelves, or the mouth of one); then step
    /// off it.
    async fn hold(&mut self, here: Cell) -> Option<Cell> {
        if self.explore_to == Some(here) {
            self.explore_to = None;
        }
        if self.explore_to.is_none() && !self.on_dock(here) && !self.in_the_way(here) {
            return None;
        }
        self.explore(here).await
    }

    /// Steps to a free neighbour, preferring one that is not a passage.
    async fn explore(&mut self, here: Cell) -> Option<Cell> {
        if self.explore_to.is_none() {
            let free: Vec<Cell> = here
                .neighbours()
                .into_iter()
                .filter(|c| self.is_open(*c) && !self.peer_at(*c))
                .collect();
            if free.is_empty() {
                self.arrive(here);
                return None;
            }
            let roomy: Vec<Cell> = free
                .iter()
                .copied()
                .filter(|c| !self.is_passage(*c))
                .collect();
            let choices = if roomy.is_empty() { free } else { roomy };
            let pick = self.w.ctx.entropy.next_u64() as usize % choices.len();
            self.explore_to = Some(choices[pick]);
        }
        let to = self.explore_to?;
        if here == to {
            self.arrive(here);
            return None;
        }
        Some(to)
    }

    fn arrive(&mut self, at: Cell) {
        if std::mem::replace(&mut self.arrived, true) {
            return;
        }
        let generation = self.intent.map_or(0, |(g, _)| g);
        self.w
            .to_supervision(SupervisionMsg::Reached { generation, at });
    }

    fn remember_peers(&mut self, p: &Perception) {
        let tick = self.tick;
        // Gone from where it was seen nearby, or not seen for long: forgotten.
        self.peers.retain(|name, (cell, seen)| {
            let in_view = cell.distance(p.position) <= FORGET_WITHIN;
            let still_there = p.agents_near.iter().any(|(n, _)| n == name);
            tick - *seen <= MEMORY_TICKS && (still_there || !in_view)
        });
        for (name, cell) in &p.agents_near {
            self.peers.insert(name.clone(), (*cell, tick));
        }
    }

    async fn violation(&mut self, detail: String) {
        let Some((generation, _)) = self.intent else {
            return;
        };
        if std::mem::replace(&mut self.violated, true) {
            return;
        }
        info!(agent = %self.w.name(), %detail, "consistency violation");
        self.w
            .journal
            .signal("consistency_violation", detail.clone())
            .await;
        self.w
            .to_supervision(SupervisionMsg::Violation { generation, detail });
    }
}
