//! The generic Situation layer: the domain's world model, fed by the
//! reflex's percepts and checked against them (a mismatch is a violation:
//! journaled, and told to supervision, which re-plans), the intent turned
//! into a command each tick, the summary supervision plans on, and the
//! agent's state told to its peers. Its model is rebuilt from percepts after
//! a restart.

use std::marker::PhantomData;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_messages::{DomainAct, EventKind};
use tokio::time::Instant;

use super::wiring::{ReflexMsg, SituationMsg, SupervisionMsg, Wiring};
use super::{Domain, json};
use crate::ticker::{Ticker, period_of};

pub struct DomainSituation<D>(PhantomData<fn() -> D>);

impl<D> Default for DomainSituation<D> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<D> Clone for DomainSituation<D> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

pub struct SituationState<D: Domain> {
    w: Wiring<D>,
    ticker: Ticker,
    tick: u64,
    model: D::Model,
    /// A percept has come since the start: the model knows something.
    perceived: bool,
    intent: Option<D::Intent>,
    /// In a violation since the last percept that fit: journaled once.
    violated: bool,
}

impl<D: Domain> Actor for DomainSituation<D> {
    type Msg = SituationMsg<D>;
    type State = SituationState<D>;
    type Arguments = Wiring<D>;

    async fn pre_start(
        &self,
        myself: ActorRef<SituationMsg<D>>,
        w: Wiring<D>,
    ) -> Result<SituationState<D>, ActorProcessingErr> {
        let ticker = Ticker::start_paced(
            period_of(w.settings.situation_hz),
            myself,
            w.stats.situation.clone(),
            SituationMsg::Tick,
            w.node.throttle.pace(w.settings.priority),
        );
        Ok(SituationState {
            model: w.domain.model(&w.spec),
            w,
            ticker,
            tick: 0,
            perceived: false,
            intent: None,
            violated: false,
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<SituationMsg<D>>,
        state: &mut SituationState<D>,
    ) -> Result<(), ActorProcessingErr> {
        state.w.peers.forget(state.w.name());
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<SituationMsg<D>>,
        msg: SituationMsg<D>,
        state: &mut SituationState<D>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SituationMsg::Tick(due) => {
                state.ticker.handled(due, Instant::now());
                state.tick();
            }
            SituationMsg::Percept(p) => state.observe(*p),
            SituationMsg::Intent(intent) => state.intent = Some(*intent),
        }
        Ok(())
    }
}

impl<D: Domain> SituationState<D> {
    fn observe(&mut self, percept: D::Percept) {
        let domain = &self.w.domain;
        self.perceived = true;
        match domain.observe(&mut self.model, &percept) {
            Ok(()) => self.violated = false,
            Err(why) if !self.violated => {
                self.violated = true;
                self.w.journal.record_now(EventKind::Domain {
                    domain: domain.name().to_string(),
                    act: DomainAct::Violation { why: why.clone() },
                    detail: json(&percept),
                });
                self.w.to_supervision(SupervisionMsg::Violation(why));
            }
            Err(_) => {}
        }
    }

    fn tick(&mut self) {
        self.tick += 1;
        if !self.perceived {
            return;
        }
        let domain = &self.w.domain;
        let summary = domain.summary(&self.model);
        self.w
            .to_supervision(SupervisionMsg::Summary(Box::new(summary)));
        if let Some(intent) = &self.intent {
            let peers = self.w.peers.peers(self.w.name());
            let command = domain.command(&self.model, intent, &peers);
            self.w.to_reflex(ReflexMsg::Command(Box::new(command)));
        }
        if self
            .tick
            .is_multiple_of(self.w.settings.announce_every_ticks)
            && let Some(state) = domain.peer_state(&self.model)
        {
            self.w.peers.announce(self.w.name(), state);
        }
    }
}
