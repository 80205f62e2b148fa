//! What one agent's layers share, and what they say to each other. Slots
//! and the body outlive restarts, so a layer always reaches the current
//! incarnation of its neighbours, and the machine stays where it was.

use std::sync::{Arc, Mutex};

use swarmd_messages::SpawnSpec;
use swarmd_messages::swarm::{Address, Assignment};
use swarmd_supervisor::ActorSlot;
use tokio::time::Instant;

use super::peers::PeerBoard;
use super::settings::DomainSettings;
use super::{Body, Domain};
use crate::NodeCtx;
use crate::external::Link;
use crate::fleet::NodeServices;
use crate::journal::Journal;
use crate::ticker::TickStats;

pub enum ReflexMsg<D: Domain> {
    Tick(Instant),
    /// Situation's command, in force until the next (or the dead-man's switch).
    Command(Box<D::Command>),
    EmergencyStop(String),
    Resume,
}

impl<D: Domain> ractor::Message for ReflexMsg<D> {}

pub enum SituationMsg<D: Domain> {
    Tick(Instant),
    Percept(Box<D::Percept>),
    Intent(Box<D::Intent>),
}

impl<D: Domain> ractor::Message for SituationMsg<D> {}

pub enum SupervisionMsg<D: Domain> {
    Tick(Instant),
    Assign(Box<Assignment>),
    Summary(Box<D::Summary>),
    Violation(String),
    Halted(bool),
    /// The external brain answered: plan now.
    Answered,
}

impl<D: Domain> ractor::Message for SupervisionMsg<D> {}

/// Tick lateness of the layers of every agent of one domain on a node.
#[derive(Clone, Default)]
pub struct DomainStats {
    pub reflex: Arc<TickStats>,
    pub situation: Arc<TickStats>,
    pub supervision: Arc<TickStats>,
}

/// What one agent's layers share. Slots and the body outlive restarts.
pub struct Wiring<D: Domain> {
    pub domain: Arc<D>,
    pub ctx: NodeCtx,
    pub node: NodeServices,
    pub address: Address,
    pub spec: Arc<SpawnSpec>,
    pub settings: DomainSettings,
    pub journal: Journal,
    pub body: Arc<Mutex<Box<dyn Body<D>>>>,
    pub peers: Arc<PeerBoard<D>>,
    pub stats: DomainStats,
    pub reflex: ActorSlot<ReflexMsg<D>>,
    pub situation: ActorSlot<SituationMsg<D>>,
    pub supervision: ActorSlot<SupervisionMsg<D>>,
}

impl<D: Domain> Clone for Wiring<D> {
    fn clone(&self) -> Self {
        Self {
            domain: self.domain.clone(),
            ctx: self.ctx.clone(),
            node: self.node.clone(),
            address: self.address.clone(),
            spec: self.spec.clone(),
            settings: self.settings.clone(),
            journal: self.journal.clone(),
            body: self.body.clone(),
            peers: self.peers.clone(),
            stats: self.stats.clone(),
            reflex: self.reflex.clone(),
            situation: self.situation.clone(),
            supervision: self.supervision.clone(),
        }
    }
}

impl<D: Domain> Wiring<D> {
    pub fn name(&self) -> &str {
        &self.address.name
    }

    /// Where the agent's external sides speak.
    pub fn link(&self) -> Link {
        Link::of(&self.ctx, &self.spec, self.domain.name(), &self.journal)
    }

    pub fn to_reflex(&self, msg: ReflexMsg<D>) {
        if let Some(r) = self.reflex.get() {
            let _ = r.cast(msg);
        }
    }

    pub fn to_situation(&self, msg: SituationMsg<D>) {
        if let Some(s) = self.situation.get() {
            let _ = s.cast(msg);
        }
    }

    pub fn to_supervision(&self, msg: SupervisionMsg<D>) {
        if let Some(s) = self.supervision.get() {
            let _ = s.cast(msg);
        }
    }
}
