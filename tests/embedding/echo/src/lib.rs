//! A program's own agent kind, outside swarmd: `echo` journals that it is
//! up and every message it hears. It is built on `swarmd`'s embedding API
//! alone (`swarmd::agents`, `swarmd::ractor`), runs in a node
//! (`src/main.rs`) and in the simulator (`tests/sim.rs`).

use swarmd::agents::{
    ActorSlot, AgentKind, ChildSpec, Endpoint, Journal, NodeCtx, PreparedAgent, SpawnSpec,
    SpecError, cast_to,
};
use swarmd::ractor::{self, Actor, ActorProcessingErr, ActorRef};

/// The kind: one actor per agent.
pub struct Echo;

/// What the agent's endpoint received, as it arrived.
pub struct Heard(pub Vec<u8>);

impl ractor::Message for Heard {}

#[derive(Clone)]
struct EchoAgent;

impl Actor for EchoAgent {
    type Msg = Heard;
    type State = Journal;
    type Arguments = Journal;

    async fn pre_start(
        &self,
        _: ActorRef<Heard>,
        journal: Journal,
    ) -> Result<Journal, ActorProcessingErr> {
        journal.decision("echo is up".into(), vec![], 1.0).await;
        Ok(journal)
    }

    async fn handle(
        &self,
        _: ActorRef<Heard>,
        Heard(bytes): Heard,
        journal: &mut Journal,
    ) -> Result<(), ActorProcessingErr> {
        let heard = format!("echo heard {} bytes", bytes.len());
        journal.decision(heard, vec![], 1.0).await;
        Ok(())
    }
}

impl AgentKind for Echo {
    fn prepare(&self, spec: &SpawnSpec, ctx: &NodeCtx) -> Result<PreparedAgent, SpecError> {
        if let Some(key) = spec.params.keys().next() {
            return Err(SpecError::Invalid(format!(
                "echo takes no parameters, got {key:?}"
            )));
        }
        let journal = Journal::new(ctx.ledger.clone(), &spec.tenant, &spec.id);
        let slot: ActorSlot<Heard> = ActorSlot::new();
        let child = ChildSpec::for_actor_in(spec.id.clone(), EchoAgent, journal, slot.clone());
        let endpoint = Endpoint::new(move |bytes| cast_to(&slot, "echo", Heard(bytes)));
        Ok(PreparedAgent { child, endpoint })
    }
}
