//! The Reflex layer: the fast perception/action loop and the safety rules
//! that win over everything else (DESIGN §3): an emergency stop, the
//! dead-man's switch, the geofence and the collision stop. The world refusing
//! a move is the last line of defence; the reflex avoids the move first.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_messages::EventKind;
use swarmd_messages::swarm::{Cell, ConfigUpdate, FloorPlan, Perception, Rect};
use tracing::{debug, warn};

use super::{Action, AgentWiring, ReflexMsg, SituationMsg, SupervisionMsg};
use swarmd_actors::ticker::{Ticker, period_of};
use tokio::time::Instant;

/// A request to the world is re-sent after this many ticks without an answer.
const ANSWER_WITHIN_TICKS: u64 = 50;

/// What the reflex is doing, for tests and the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflexView {
    pub ticks: u64,
    pub position: Option<Cell>,
    pub halted: Option<String>,
    pub safety_stops: u64,
    /// This agent's records the ledger refused (full or closed), all layers.
    pub records_lost: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Halt {
    /// The dead-man's switch: no fresh action.
    Deadman,
    Emergency(String),
}

#[derive(Clone)]
pub struct Reflex;

pub struct ReflexState {
    w: AgentWiring,
    ticker: Ticker,
    tick: u64,
    bounds: Option<Rect>,
    perception: Option<Perception>,
    action: Option<(Action, u64)>,
    halt: Option<Halt>,
    geofence: Option<Rect>,
    move_every: u64,
    /// The request awaiting the world's answer, and the tick it went out.
    in_flight: Option<(u64, u64)>,
    next_request: u64,
    /// The last stop recorded, so one blocked step is recorded once.
    last_stop: Option<(Cell, &'static str)>,
    safety_stops: u64,
}

impl Actor for Reflex {
    type Msg = ReflexMsg;
    type State = ReflexState;
    type Arguments = AgentWiring;

    async fn pre_start(
        &self,
        myself: ActorRef<ReflexMsg>,
        w: AgentWiring,
    ) -> Result<ReflexState, ActorProcessingErr> {
        let ticker = Ticker::start(
            period_of(w.settings.reflex_hz),
            myself,
            w.stats.reflex.clone(),
            ReflexMsg::Tick,
        );
        let mut state = ReflexState {
            geofence: w.settings.geofence,
            move_every: w.settings.move_every_ticks,
            w,
            ticker,
            tick: 0,
            bounds: None,
            perception: None,
            action: None,
            halt: None,
            in_flight: None,
            next_request: 1,
            last_stop: None,
            safety_stops: 0,
        };
        state.enter_world();
        Ok(state)
    }

    async fn post_stop(
        &self,
        _: ActorRef<ReflexMsg>,
        state: &mut ReflexState,
    ) -> Result<(), ActorProcessingErr> {
        state.w.world.leave(state.w.name());
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<ReflexMsg>,
        msg: ReflexMsg,
        state: &mut ReflexState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            // Nothing here awaits: safety acts first and records after,
            // never waiting on the ledger (see `Journal::*_now`).
            ReflexMsg::Tick(due) => {
                state.ticker.handled(due, Instant::now());
                state.tick();
            }
            ReflexMsg::Welcome(welcome) => {
                let (plan, perception) = *welcome;
                state.welcome(plan, perception)
            }
            ReflexMsg::Perceived(p) => state.perceived(*p),
            ReflexMsg::Act(action) => state.act(action),
            ReflexMsg::EmergencyStop(reason) => {
                warn!(agent = %state.w.name(), %reason, "emergency stop");
                state.set_halt(Some(Halt::Emergency(reason)));
            }
            ReflexMsg::Resume => state.set_halt(None),
            ReflexMsg::Config(update) => state.configure(update),
            ReflexMsg::Inspect(reply) => {
                let _ = reply.send(state.view());
            }
        }
        Ok(())
    }
}

impl ReflexState {
    fn tick(&mut self) {
        self.tick += 1;
        if self.bounds.is_none() {
            if self.tick.is_multiple_of(ANSWER_WITHIN_TICKS * 2) {
                self.enter_world();
            }
            return;
        }
        if let Some((_, sent)) = self.in_flight
            && self.tick - sent > ANSWER_WITHIN_TICKS
        {
            // The answer is lost (or the world restarted): ask to enter again.
            self.in_flight = None;
            self.enter_world();
        }
        self.check_deadman();
        if self.in_flight.is_some() {
            return;
        }
        match self.wanted_step() {
            Some(to) if self.tick.is_multiple_of(self.move_every) => self.try_step(to),
            _ if self.tick.is_multiple_of(self.w.settings.sense_every_ticks) => self.sense(),
            _ => {}
        }
    }

    fn enter_world(&mut self) {
        let preferred = self
            .perception
            .as_ref()
            .map(|p| p.position)
            .or(self.w.settings.start);
        if let Err(why) = self.w.world.enter(&self.w.address, preferred) {
            warn!(agent = %self.w.name(), %why, "cannot reach the world yet");
        }
    }

    fn welcome(&mut self, plan: FloorPlan, perception: Perception) {
        debug!(agent = %self.w.name(), at = %perception.position, "entered the world");
        self.bounds = Some(plan.bounds());
        self.in_flight = None;
        // The dead-man's switch counts from here until the first real action.
        self.action.get_or_insert((
            Action {
                generation: 0,
                step_to: None,
            },
            self.tick,
        ));
        self.w.journal.record_now(EventKind::Moved {
            from: None,
            to: perception.position,
            arrived_us: perception.arrived_us,
            unrecorded: self.w.journal.lost(),
        });
        self.perception = Some(perception.clone());
        // Kept for the node's agents, so a Situation that starts (or restarts)
        // after this welcome, and so never gets it, still knows the floor.
        self.w.floors.floor(&plan);
        self.w
            .to_situation(SituationMsg::Welcome(Box::new((plan, perception))));
    }

    fn perceived(&mut self, p: Perception) {
        if self.in_flight.map(|(request, _)| request) == Some(p.request) {
            self.in_flight = None;
        }
        let moved = self.perception.as_ref().map(|old| old.position) != Some(p.position);
        if moved && let Some(old) = &self.perception {
            self.w.journal.record_now(EventKind::Moved {
                from: Some(old.position),
                to: p.position,
                arrived_us: p.arrived_us,
                unrecorded: self.w.journal.lost(),
            });
        }
        if let Some(why) = &p.refused {
            self.w.journal.signal_now("move_refused", why.to_string());
        }
        self.perception = Some(p.clone());
        self.w.to_situation(SituationMsg::Observed(Box::new(p)));
    }

    fn act(&mut self, action: Action) {
        self.action = Some((action, self.tick));
        if self.halt == Some(Halt::Deadman) {
            self.set_halt(None);
        }
    }

    fn check_deadman(&mut self) {
        let fresh = self
            .action
            .is_some_and(|(_, at)| self.tick - at <= self.w.settings.deadman_ticks);
        if !fresh && self.halt.is_none() {
            self.set_halt(Some(Halt::Deadman));
        }
    }

    /// The step the current action asks for, unless something halts the agent.
    fn wanted_step(&self) -> Option<Cell> {
        if self.halt.is_some() {
            return None;
        }
        let (action, _) = self.action?;
        let here = self.perception.as_ref()?.position;
        // A step not next to here was planned from where the agent was: it
        // waits for Situation's next action, planned from here.
        action.step_to.filter(|to| to.distance(here) == 1)
    }

    fn try_step(&mut self, to: Cell) {
        if let Some(rule) = self.safety_rule_against(to) {
            self.safety_stop(to, rule);
            return self.sense();
        }
        self.last_stop = None;
        let request = self.new_request();
        if self.w.world.act(self.w.name(), request, to).is_err() {
            self.in_flight = None;
        }
    }

    /// Which safety rule forbids stepping to `to`, if any.
    fn safety_rule_against(&self, to: Cell) -> Option<&'static str> {
        if self.geofence.is_some_and(|fence| !fence.contains(to)) {
            return Some("geofence");
        }
        let p = self.perception.as_ref()?;
        let taken = p.agents_near.iter().any(|(_, c)| *c == to);
        // A deliberately broken build: the reflex walks into other agents.
        #[cfg(feature = "bug-collisions")]
        let taken = {
            let _ = taken;
            false
        };
        (taken || p.hazards_near.contains(&to)).then_some("collision")
    }

    fn safety_stop(&mut self, to: Cell, rule: &'static str) {
        if self.last_stop == Some((to, rule)) {
            return;
        }
        self.last_stop = Some((to, rule));
        self.safety_stops += 1;
        let rationale = format!("{rule} stop: refused the step to {to}");
        let alternatives = vec![format!("step to {to}")];
        self.w.journal.decision_now(rationale, alternatives, 1.0);
    }

    fn sense(&mut self) {
        let request = self.new_request();
        if self.w.world.sense(self.w.name(), request).is_err() {
            self.in_flight = None;
        }
    }

    fn new_request(&mut self) -> u64 {
        let request = self.next_request;
        self.next_request += 1;
        self.in_flight = Some((request, self.tick));
        request
    }

    /// Halts (or resumes) first, then records it, best effort.
    fn set_halt(&mut self, halt: Option<Halt>) {
        if self.halt == halt {
            return;
        }
        let describe = |h: &Option<Halt>| match h {
            None => "running".to_string(),
            Some(Halt::Deadman) => "safe state (no fresh action)".to_string(),
            Some(Halt::Emergency(why)) => format!("emergency stop ({why})"),
        };
        let before = describe(&self.halt);
        self.halt = halt;
        self.w
            .to_supervision(SupervisionMsg::Halted(self.halt.is_some()));
        let after = describe(&self.halt);
        self.w.journal.state_now("reflex", &before, &after);
    }

    fn configure(&mut self, update: ConfigUpdate) {
        let detail = format!("{update:?}");
        match update {
            ConfigUpdate::Geofence(fence) => self.geofence = fence,
            ConfigUpdate::MoveEveryTicks(n) => self.move_every = u64::from(n.max(1)),
        }
        self.w.journal.signal_now("config_applied", detail);
    }

    fn view(&self) -> ReflexView {
        ReflexView {
            ticks: self.tick,
            position: self.perception.as_ref().map(|p| p.position),
            halted: self.halt.as_ref().map(|h| format!("{h:?}")),
            safety_stops: self.safety_stops,
            records_lost: self.w.journal.lost(),
        }
    }
}
