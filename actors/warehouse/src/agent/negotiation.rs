//! Swarm agreement over the mesh (DESIGN §3, horizontal plane): an agent
//! whose way is blocked by idle peers asks them, by cell, to step aside; an
//! idle agent asked for its cell yields. It outranks the cloud's plans (the
//! peer steps aside even with nothing to do) and never the reflex's safety
//! rules (the step aside is checked like any other).

use std::sync::Arc;

use ractor::{ActorId, ActorRef};
use swarmd_messages::encode_payload;
use swarmd_messages::swarm::{Cell, YieldRequest, yield_key};
use tracing::debug;

use super::{AgentWiring, PeerLink, SituationMsg};

/// A blocked agent asks again at most once per this many situation ticks.
pub const ASK_EVERY_TICKS: u64 = 20;

/// While it lives, the agent's Situation hears yield requests (through the
/// node's peer link for its tenant: one subscription per node, not per agent).
pub struct Listener {
    link: Arc<PeerLink>,
    agent: String,
    situation: ActorId,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.link.stop_yield_requests(&self.agent, self.situation);
    }
}

/// Hands yield requests to the agent's Situation (none when the node has no mesh).
pub fn listen(w: &AgentWiring, link: Arc<PeerLink>, situation: ActorRef<SituationMsg>) -> Listener {
    let agent = w.name().to_string();
    let id = situation.get_id();
    link.hear_yield_requests(&agent, situation);
    Listener {
        link,
        agent,
        situation: id,
    }
}

/// Asks the peers on `cells` to step aside.
pub async fn ask(w: &AgentWiring, cells: Vec<Cell>) {
    let request = YieldRequest {
        from: w.name().to_string(),
        cells,
    };
    let Ok(payload) = encode_payload(&request) else {
        return;
    };
    if let Err(e) = w
        .ctx
        .mesh
        .publish(&yield_key(&w.spec.tenant), payload)
        .await
    {
        debug!(agent = %w.name(), error = %e, "yield request not sent");
    }
}
