//! Swarm agreement over the mesh (DESIGN §3, horizontal plane): an agent
//! whose way is blocked by idle peers asks them, by cell, to step aside; an
//! idle agent asked for its cell yields. It outranks the cloud's plans (the
//! peer steps aside even with nothing to do) and never the reflex's safety
//! rules (the step aside is checked like any other).

use ractor::ActorRef;
use swarmd_messages::swarm::{Cell, YieldRequest, yield_key};
use swarmd_messages::{decode_payload, encode_payload};
use tokio::task::JoinHandle;
use tracing::debug;

use super::{AgentWiring, SituationMsg};

/// A blocked agent asks again at most once per this many situation ticks.
pub const ASK_EVERY_TICKS: u64 = 20;

/// The task that hands yield requests to Situation; stops with it.
pub struct Listener(Option<JoinHandle<()>>);

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Listens for yield requests and hands them to the agent's Situation
/// (not at all when this node has no mesh).
pub async fn listen(w: &AgentWiring, situation: ActorRef<SituationMsg>) -> Listener {
    Listener(listen_task(w, situation).await)
}

async fn listen_task(w: &AgentWiring, situation: ActorRef<SituationMsg>) -> Option<JoinHandle<()>> {
    let key = yield_key(&w.spec.tenant);
    let mut subscription = match w.ctx.mesh.subscribe(&key).await {
        Ok(s) => s,
        Err(e) => {
            debug!(agent = %w.name(), error = %e, "no mesh: this agent cannot negotiate");
            return None;
        }
    };
    let me = w.name().to_string();
    Some(tokio::spawn(async move {
        while let Some(sample) = subscription.recv().await {
            let Ok(request) = decode_payload::<YieldRequest>(&sample.payload) else {
                continue;
            };
            if request.from != me && situation.cast(SituationMsg::YieldAsked(request)).is_err() {
                return;
            }
        }
    }))
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
