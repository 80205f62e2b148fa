//! `probe`: a diagnostic agent kind every node can start, like Erlang's
//! `net_adm:ping` for remote spawn and supervision. It counts pings and
//! payloads, and exits normally or with a given failure reason on request.

use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde::{Deserialize, Serialize};
use swarmd_messages::SpawnSpec;
use swarmd_supervisor::{ActorSlot, ChildSpec};

use super::{AgentKind, PreparedAgent, SpecError, batching_endpoint};
use crate::NodeCtx;

pub const PROBE_KIND: &str = "probe";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProbeMsg {
    Ping,
    /// Counted like a ping; the bytes stand for a real message's body.
    Payload(Vec<u8>),
    /// Exit abnormally with this reason.
    Fail(String),
    /// Exit normally.
    Stop,
    /// The casts of one frame, delivered as one message. Made by the
    /// endpoint, never on the wire (so no payload can nest batches).
    #[serde(skip)]
    Batch(Vec<ProbeMsg>),
}

impl ractor::Message for ProbeMsg {}

pub struct ProbeKind;

impl AgentKind for ProbeKind {
    fn prepare(&self, spec: &SpawnSpec, _ctx: &NodeCtx) -> Result<PreparedAgent, SpecError> {
        if let Some(key) = spec.params.keys().next() {
            let why = format!("probe takes no parameters, got {key:?}");
            return Err(SpecError::Invalid(why));
        }
        let slot: ActorSlot<ProbeMsg> = ActorSlot::new();
        let child = ChildSpec::for_actor_in(spec.id.clone(), Probe, (), slot.clone());
        let endpoint = batching_endpoint(slot, "the probe", |m: ProbeMsg| m, ProbeMsg::Batch);
        Ok(PreparedAgent { child, endpoint })
    }
}

#[derive(Clone)]
struct Probe;

impl Actor for Probe {
    type Msg = ProbeMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<ProbeMsg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        myself: ActorRef<ProbeMsg>,
        msg: ProbeMsg,
        pings: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        handle_one(&myself, msg, pings)
    }
}

fn handle_one(
    myself: &ActorRef<ProbeMsg>,
    msg: ProbeMsg,
    pings: &mut u64,
) -> Result<(), ActorProcessingErr> {
    match msg {
        ProbeMsg::Ping | ProbeMsg::Payload(_) => *pings += 1,
        ProbeMsg::Fail(reason) => return Err(reason.into()),
        ProbeMsg::Stop => myself.stop(Some("stopped on request".into())),
        ProbeMsg::Batch(msgs) => {
            for msg in msgs {
                handle_one(myself, msg, pings)?;
            }
        }
    }
    Ok(())
}
