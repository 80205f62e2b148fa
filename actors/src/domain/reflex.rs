//! The generic Reflex layer: each tick it senses through the body, checks
//! the command in force against the domain's safety rules and the halts
//! the runtime owns (the emergency stop, the dead-man's switch), and hands
//! the body what passed, or the domain's safe command. Nothing above it can
//! stop it: a crash above restarts only what is above.

use std::marker::PhantomData;
use std::sync::PoisonError;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use swarmd_messages::{DomainAct, EventKind};
use tokio::time::Instant;
use tracing::warn;

use super::wiring::{ReflexMsg, SituationMsg, SupervisionMsg, Wiring};
use super::{Domain, json};
use crate::ticker::{Ticker, period_of};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Halt {
    Deadman,
    /// The body had nothing fresh to sense (an external body gone quiet).
    BodySilent,
    Emergency(String),
}

pub struct DomainReflex<D>(PhantomData<fn() -> D>);

impl<D> Default for DomainReflex<D> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<D> Clone for DomainReflex<D> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

pub struct ReflexState<D: Domain> {
    w: Wiring<D>,
    ticker: Ticker,
    tick: u64,
    /// The command in force and the tick it came.
    command: Option<(D::Command, u64)>,
    halt: Option<Halt>,
    /// The rule that refused last, so one refusal is journaled once.
    refused_by: Option<String>,
}

impl<D: Domain> Actor for DomainReflex<D> {
    type Msg = ReflexMsg<D>;
    type State = ReflexState<D>;
    type Arguments = Wiring<D>;

    async fn pre_start(
        &self,
        myself: ActorRef<ReflexMsg<D>>,
        w: Wiring<D>,
    ) -> Result<ReflexState<D>, ActorProcessingErr> {
        let ticker = Ticker::start(
            period_of(w.settings.reflex_hz),
            myself,
            w.stats.reflex.clone(),
            ReflexMsg::Tick,
        );
        Ok(ReflexState {
            w,
            ticker,
            tick: 0,
            command: None,
            halt: None,
            refused_by: None,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<ReflexMsg<D>>,
        msg: ReflexMsg<D>,
        state: &mut ReflexState<D>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ReflexMsg::Tick(due) => {
                state.ticker.handled(due, Instant::now());
                state.tick();
            }
            ReflexMsg::Command(c) => state.commanded(*c),
            ReflexMsg::EmergencyStop(reason) => {
                warn!(agent = %state.w.name(), %reason, "emergency stop");
                state.set_halt(Some(Halt::Emergency(reason)));
                // Within this tick, not the next: the body stops now.
                state.tick();
            }
            ReflexMsg::Resume => state.set_halt(None),
        }
        Ok(())
    }
}

impl<D: Domain> ReflexState<D> {
    fn tick(&mut self) {
        self.tick += 1;
        let Some(percept) = self.body().sense() else {
            return self.body_silent();
        };
        if self.halt == Some(Halt::BodySilent) {
            self.set_halt(None);
        }
        self.check_deadman();
        let command = self.command_for(&percept);
        self.body().act(&command);
        if self
            .tick
            .is_multiple_of(self.w.settings.percept_every_ticks)
        {
            self.w
                .to_situation(SituationMsg::Percept(Box::new(percept)));
        }
    }

    /// Halts (an emergency stop stays the reason if there is one) and keeps
    /// telling the body the safe command, so it is safe if it comes back.
    fn body_silent(&mut self) {
        if !matches!(self.halt, Some(Halt::Emergency(_))) {
            self.set_halt(Some(Halt::BodySilent));
        }
        let safe = self.w.domain.safe_command(None);
        self.body().act(&safe);
    }

    fn body(&self) -> std::sync::MutexGuard<'_, Box<dyn super::Body<D>>> {
        self.w.body.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The command in force if it passes every rule; else the safe command.
    fn command_for(&mut self, percept: &D::Percept) -> D::Command {
        let domain = &self.w.domain;
        let in_force = match (&self.halt, &self.command) {
            (None, Some((command, _))) => command,
            _ => return domain.safe_command(Some(percept)),
        };
        let peers = self.w.peers.peers(self.w.name());
        match domain.check(percept, &peers, in_force) {
            Ok(()) => {
                self.refused_by = None;
                in_force.clone()
            }
            Err(refusal) => {
                if self.refused_by.as_ref() != Some(&refusal.rule) {
                    let act = DomainAct::Refused {
                        rule: refusal.rule.clone(),
                        why: refusal.why,
                    };
                    self.w.journal.record_now(EventKind::Domain {
                        domain: domain.name().to_string(),
                        act,
                        detail: json(in_force),
                    });
                    self.refused_by = Some(refusal.rule);
                }
                domain.safe_command(Some(percept))
            }
        }
    }

    fn commanded(&mut self, command: D::Command) {
        self.command = Some((command, self.tick));
        if self.halt == Some(Halt::Deadman) {
            self.set_halt(None);
        }
    }

    fn check_deadman(&mut self) {
        let deadman = self.w.settings.deadman_ticks;
        let fresh = self
            .command
            .as_ref()
            .is_some_and(|(_, at)| self.tick - at <= deadman);
        if !fresh && self.halt.is_none() {
            self.set_halt(Some(Halt::Deadman));
        }
    }

    /// Halts (or resumes) first, then records it, best effort.
    fn set_halt(&mut self, halt: Option<Halt>) {
        if self.halt == halt {
            return;
        }
        let describe = |h: &Option<Halt>| match h {
            None => "running".to_string(),
            Some(Halt::Deadman) => "safe state (no fresh command)".to_string(),
            Some(Halt::BodySilent) => "safe state (the body is silent)".to_string(),
            Some(Halt::Emergency(why)) => format!("emergency stop ({why})"),
        };
        let before = describe(&self.halt);
        self.halt = halt;
        self.w
            .to_supervision(SupervisionMsg::Halted(self.halt.is_some()));
        self.w
            .journal
            .state_now("reflex", &before, &describe(&self.halt));
    }
}
