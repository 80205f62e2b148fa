//! The supervised sandbox: one actor owning one [`Guest`]. Any guest error
//! is recorded in the ledger and fails the actor, so its supervisor's policy
//! decides what happens next; a restart loads a fresh guest.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_messages::{EventDraft, EventKind, TraceContext};
use swarmd_supervisor::{ActorSlot, ChildSpec};

use super::guest::{Guest, GuestIntent, PlanInput, SandboxError, SandboxLimits, Step};
use crate::NodeCtx;
use tokio::time::Instant;

#[derive(Clone)]
pub struct SandboxArgs {
    pub ctx: NodeCtx,
    pub agent: String,
    pub tenant: String,
    /// The guest module, WAT text or a Wasm binary.
    pub source: Arc<[u8]>,
    pub limits: SandboxLimits,
}

#[derive(Debug)]
pub enum SandboxMsg {
    Plan(PlanInput, RpcReplyPort<GuestIntent>),
    Parameterize(GuestIntent, PlanInput, RpcReplyPort<Step>),
}

impl ractor::Message for SandboxMsg {}

#[derive(Clone)]
pub struct Sandbox;

pub struct SandboxState {
    guest: Guest,
    args: SandboxArgs,
}

/// The sandbox as child `sandbox` of an agent's supervisor; each incarnation's
/// ref goes into `slot`.
pub fn sandbox_child(args: SandboxArgs, slot: ActorSlot<SandboxMsg>) -> ChildSpec {
    ChildSpec::for_actor_in("sandbox", Sandbox, args, slot)
}

impl Actor for Sandbox {
    type Msg = SandboxMsg;
    type State = SandboxState;
    type Arguments = SandboxArgs;

    async fn pre_start(
        &self,
        _: ActorRef<SandboxMsg>,
        args: SandboxArgs,
    ) -> Result<SandboxState, ActorProcessingErr> {
        let guest = Guest::load(&args.source, args.limits.clone()).inspect_err(|error| {
            tracing::warn!(agent = %args.agent, reason = %error, "sandbox guest did not load");
        })?;
        Ok(SandboxState { guest, args })
    }

    async fn handle(
        &self,
        _: ActorRef<SandboxMsg>,
        msg: SandboxMsg,
        state: &mut SandboxState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SandboxMsg::Plan(input, reply) => match state.guest.plan(&Instant::now, input).await {
                Ok(intent) => ignore_gone_caller(reply.send(intent)),
                Err(error) => return Err(fail(&state.args, error).await),
            },
            SandboxMsg::Parameterize(intent, input, reply) => {
                match state.guest.parameterize(&Instant::now, intent, input).await {
                    Ok(step) => ignore_gone_caller(reply.send(step)),
                    Err(error) => return Err(fail(&state.args, error).await),
                }
            }
        }
        Ok(())
    }
}

/// A caller that stopped waiting is no fault of the sandbox.
fn ignore_gone_caller<T>(sent: Result<(), ractor::MessagingErr<T>>) {
    if sent.is_err() {
        tracing::debug!("sandbox caller left before its reply");
    }
}

/// Records the failure; the returned error fails the actor.
async fn fail(args: &SandboxArgs, error: SandboxError) -> ActorProcessingErr {
    tracing::warn!(agent = %args.agent, reason = %error, "sandbox guest failed");
    let draft = EventDraft {
        tenant: args.tenant.clone(),
        agent: Some(args.agent.clone()),
        trace: TraceContext::default(),
        kind: EventKind::Signal {
            status: "sandbox_failed".into(),
            detail: error.to_string(),
        },
    };
    if let Err(ledger_error) = args.ctx.ledger.submit(draft).await {
        tracing::warn!(agent = %args.agent, %ledger_error, "sandbox failure not recorded");
    }
    error.into()
}
