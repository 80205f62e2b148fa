//! Situation's side of the horizontal plane: it announces where the agent
//! is and means to go, fuses peers' announcements and hazards into its
//! model, and settles head-on meetings by right of way (`right_of_way`),
//! all edge to edge, with no cloud involved.

use std::collections::BTreeSet;
use std::time::UNIX_EPOCH;

use swarmd_messages::peer::{HazardSeen, PeerState};
use swarmd_messages::swarm::Cell;

use super::SituationState;
use crate::agent::planning::shortest_path;
use crate::agent::right_of_way::{Rank, claim_of, head_on, make_way};

/// Peers announced this close are part of the model.
const FUSE_RADIUS: u32 = 8;
/// An unchanged state is announced again every this many ticks (peers
/// forget a silent agent after `STATE_TTL`).
const ANNOUNCE_EVERY_TICKS: u64 = 5;
/// A changed state waits at least this many ticks after the last one.
const ANNOUNCE_AT_MOST_EVERY_TICKS: u64 = 1;
/// Hazards in sight are shared again this often while they stay.
const SHARE_HAZARDS_EVERY_TICKS: u64 = 20;
/// A yielding agent keeps off its winner's way this many ticks after it
/// last met it head-on.
const YIELD_TICKS: u64 = 30;

impl SituationState {
    pub(super) fn took_task(&mut self, task: Option<(u64, u32)>, load: u32) {
        if task.is_none() {
            self.busy_since_us = None;
        } else if self.task.is_none() || self.busy_since_us.is_none() {
            self.busy_since_us = Some(self.wall_us());
        }
        (self.task, self.load) = (task, load);
    }

    /// Peers' announced states near `here` (into the peers remembered), and
    /// the hazards peers share.
    pub(super) fn fuse_peers(&mut self, here: Cell) {
        for cell in self.link.hazards() {
            self.hazards.insert(cell, self.tick);
        }
        if !self.w.settings.negotiate {
            // Reflex safety only: peers are known from perception alone.
            return;
        }
        let me = self.w.name();
        self.shared = self.link.peers_near(me, here, FUSE_RADIUS);
        let making_way = self
            .shared
            .iter()
            .filter(|p| p.making_way_for.as_deref() == Some(me));
        self.ahead_of = making_way.map(|p| p.agent.clone()).collect();
        let tick = self.tick;
        // Remembered like peers seen, so a plan does not flip as they come and go.
        for p in &self.shared {
            self.peers.insert(p.agent.clone(), (p.at, tick));
        }
        if let Some((winner, _)) = &mut self.yielding
            && let Some(fresh) = self.shared.iter().find(|p| p.agent == winner.agent)
        {
            *winner = fresh.clone();
        }
    }

    /// New hazards in sight (and, now and then, all in sight) go to the
    /// peers, and so do the ones seen gone.
    pub(super) fn share_hazards(&mut self, in_sight: &[Cell], cleared: &[Cell]) {
        let again = self.tick - self.hazards_shared_at >= SHARE_HAZARDS_EVERY_TICKS;
        if again {
            self.hazards_shared_at = self.tick;
        }
        let fresh = in_sight
            .iter()
            .filter(|c| again || !self.hazards.contains_key(c));
        let from = self.w.name().to_string();
        let seen = fresh
            .map(|c| (*c, false))
            .chain(cleared.iter().map(|c| (*c, true)));
        for (cell, cleared) in seen {
            let from = from.clone();
            self.link.share_hazard(HazardSeen {
                from,
                cell,
                cleared,
            });
        }
    }

    /// Announces position and way ahead when they changed (at most every
    /// tick) and at least every few ticks.
    pub(super) fn announce(&mut self, here: Cell) {
        let due = match &self.announced {
            None => true,
            Some((at, way, tick)) => {
                let since = self.tick - tick;
                let changed = *at != here || *way != self.way;
                since >= ANNOUNCE_EVERY_TICKS || (changed && since >= ANNOUNCE_AT_MOST_EVERY_TICKS)
            }
        };
        if !due {
            return;
        }
        self.announced = Some((here, self.way.clone(), self.tick));
        let state = self.my_state(here);
        self.link.announce(state);
    }

    fn my_state(&self, here: Cell) -> PeerState {
        PeerState {
            agent: self.w.name().to_string(),
            at: here,
            intent: self.way.clone(),
            task: self.task,
            load: self.load,
            busy_since_us: self.busy_since_us,
            making_way_for: self.yielding.as_ref().map(|(w, _)| w.agent.clone()),
            sent_us: self.wall_us(),
        }
    }

    /// Settles a head-on meeting on the way to `goal`: the agent that ranks
    /// lower makes way, the other waits for it and then passes. `Some(step)`
    /// when it decides the step; `None` to plan as usual.
    /// `path` is the way around peers, if there is one.
    pub(super) async fn right_of_way(
        &mut self,
        here: Cell,
        goal: Cell,
        path: Option<&[Cell]>,
    ) -> Option<Option<Cell>> {
        if !self.w.settings.negotiate {
            return None;
        }
        let way = self.way_ahead(here, goal, path);
        let me = Rank {
            busy_since_us: self.busy_since_us,
            agent: self.w.name(),
        };
        let rival = self
            .shared
            .iter()
            .find(|p| p.busy_since_us.is_some() && head_on(here, &way, p))
            .cloned();
        if let Some(rival) = rival {
            return Some(if Rank::of(&rival).outranks(&me) {
                self.make_way_for(here, rival).await
            } else {
                self.go_first(&way, rival).await
            });
        }
        if self.yielding.is_none() {
            self.record_grants(&way).await;
            // Peers making way are no obstacles, but their cells are not stepped on.
            let next = way.first().copied();
            let on_one = |p: &PeerState| Some(p.at) == next && self.ahead_of.contains(&p.agent);
            if self.shared.iter().any(on_one) {
                self.way = way;
                return Some(None);
            }
            return None;
        }
        let (winner, until) = self.yielding.clone()?;
        let claim = claim_of(&winner);
        if self.tick > until || !way.iter().any(|c| claim.contains(c)) {
            self.yielding = None;
            return None;
        }
        // Still in the winner's way or about to step into it: keep off it.
        if claim.contains(&here) {
            return Some(self.step_off(here, &claim));
        }
        let step = self.route_off(here, goal, &claim);
        self.way = step.into_iter().collect();
        Some(step)
    }

    /// A peer that outranks this agent is about to step onto `next` too:
    /// it goes first (two steps onto one cell, one of them refused, is what
    /// the reflex alone would get).
    pub(super) fn gives_way_at(&self, next: Cell) -> bool {
        if !self.w.settings.negotiate {
            return false;
        }
        let me = Rank {
            busy_since_us: self.busy_since_us,
            agent: self.w.name(),
        };
        let about_to_step =
            |p: &PeerState| p.intent.first() == Some(&next) && p.at.distance(next) == 1;
        self.shared
            .iter()
            .any(|p| about_to_step(p) && Rank::of(p).outranks(&me))
    }

    async fn make_way_for(&mut self, here: Cell, winner: PeerState) -> Option<Cell> {
        let first = self
            .yielding
            .as_ref()
            .is_none_or(|(w, _)| w.agent != winner.agent);
        if first {
            let rationale = format!(
                "yield to {} at {}: it outranks this agent (busy since {:?} µs, before {:?})",
                winner.agent, winner.at, winner.busy_since_us, self.busy_since_us
            );
            let alternatives = vec!["go first".into(), "wait".into()];
            negotiated(self.w.name(), "yield", &winner.agent);
            self.w.journal.decision(rationale, alternatives, 0.9).await;
        }
        let claim = claim_of(&winner);
        self.yielding = Some((winner, self.tick + YIELD_TICKS));
        self.ahead_of.clear();
        self.step_off(here, &claim)
    }

    async fn go_first(&mut self, way: &[Cell], loser: PeerState) -> Option<Cell> {
        if !self.ahead_of.contains(&loser.agent) {
            self.ahead_of.push(loser.agent.clone());
        }
        self.record_grants(way).await;
        self.way = way.to_vec();
        // Wait for the loser to make way; then pass (it is no obstacle now).
        let next = way.first().copied();
        (next != Some(loser.at)).then_some(next).flatten()
    }

    /// Each peer making way for this agent is recorded once per meeting.
    async fn record_grants(&mut self, way: &[Cell]) {
        self.granted.retain(|g| self.ahead_of.contains(g));
        let new: Vec<PeerState> = self
            .shared
            .iter()
            .filter(|p| self.ahead_of.contains(&p.agent) && !self.granted.contains(&p.agent))
            .cloned()
            .collect();
        for loser in new {
            let rationale = format!(
                "right of way over {} at {}: claim {:?} granted (busy since {:?} µs, before {:?})",
                loser.agent, loser.at, way, self.busy_since_us, loser.busy_since_us
            );
            negotiated(self.w.name(), "right_of_way", &loser.agent);
            self.w
                .journal
                .decision(rationale, vec!["yield".into()], 0.9)
                .await;
            self.granted.push(loser.agent);
        }
    }

    /// The first step off `claim` (backing out ahead of the winner if need be).
    fn step_off(&mut self, here: Cell, claim: &BTreeSet<Cell>) -> Option<Cell> {
        let floor = self.floor.clone()?;
        let open = |c: Cell| self.is_open(c) && !self.peer_at(c);
        let step = make_way(floor.bounds, open, here, claim);
        self.way = step.into_iter().collect();
        step
    }

    /// The next step to `goal` that keeps off `claim`; none (wait) if every
    /// way crosses it.
    fn route_off(&self, here: Cell, goal: Cell, claim: &BTreeSet<Cell>) -> Option<Cell> {
        let floor = self.floor.as_ref()?;
        let blocked = |c: Cell| {
            !floor.is_open(c)
                || (c != goal && (self.hazards.contains_key(&c) || self.peer_at(c)))
                || claim.contains(&c)
        };
        shortest_path(floor.bounds, blocked, here, goal)?
            .get(1)
            .copied()
    }

    /// The cells ahead on the way to `goal`: `around_peers` if there is
    /// such a way, else straight through them (what the agent wants to take).
    fn way_ahead(&self, here: Cell, goal: Cell, around_peers: Option<&[Cell]>) -> Vec<Cell> {
        let through = || self.route(here, goal, false).unwrap_or_default();
        let path = around_peers.map_or_else(through, <[Cell]>::to_vec);
        let ahead = path.into_iter().skip(1);
        ahead
            .take(swarmd_messages::peer::MAX_INTENT_CELLS)
            .collect()
    }

    fn wall_us(&self) -> u64 {
        let since_epoch = self.w.ctx.clock.wall_now().duration_since(UNIX_EPOCH);
        since_epoch.map_or(0, |d| d.as_micros().min(u64::MAX as u128) as u64)
    }
}

/// A right-of-way decision as a span of its own, with the policy it took.
fn negotiated(agent: &str, policy_decision: &'static str, peer: &str) {
    tracing::info_span!("negotiation", agent, policy_decision, peer)
        .in_scope(|| tracing::debug!("right of way settled"));
}
