//! Where one agent's external sides speak, and where what they do is journaled.

use std::sync::Arc;

use swarmd_messages::{DomainAct, EventKind, SpawnSpec};

use super::protocol::{Channel, key};
use crate::NodeCtx;
use crate::ctx::PubSub;
use crate::journal::Journal;

/// Who speaks for the agent, and on which keys.
#[derive(Clone)]
pub struct Link {
    pub mesh: Arc<dyn PubSub>,
    pub journal: Journal,
    pub domain: String,
    pub tenant: String,
    pub agent: String,
}

impl Link {
    /// The link of the agent `spec` of `domain` on the node of `ctx`.
    pub fn of(ctx: &NodeCtx, spec: &SpawnSpec, domain: &str, journal: &Journal) -> Self {
        Self {
            mesh: ctx.mesh.clone(),
            journal: journal.clone(),
            domain: domain.to_string(),
            tenant: spec.tenant.clone(),
            agent: spec.id.clone(),
        }
    }

    pub fn key(&self, channel: Channel) -> String {
        key(&self.tenant, &self.agent, channel)
    }

    /// Journals `act` with `detail`, best effort, never waiting.
    pub fn record(&self, act: DomainAct, detail: String) {
        self.journal.record_now(EventKind::Domain {
            domain: self.domain.clone(),
            act,
            detail,
        });
    }
}
