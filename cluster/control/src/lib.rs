//! The `control` actor (DESIGN §5): the one door for operator commands. It
//! authorizes each command against the session's tenant, executes it with
//! the node's own handles, records an `audit` event, then answers.
//!
//! Consoles reach it as a ractor_cluster call to its proxy (it is the one
//! actor besides the gateway that is remote-capable); commands about another
//! node are forwarded to that node's control actor over the session to it.

mod auth;
mod credit;
pub mod events;
mod execute;
mod facts;
mod fleet;
mod forward;
mod json;
pub mod lan;
mod leader;
mod missions;
pub mod protocol;
mod read_audits;
mod supervised;
mod world;

use std::sync::{Arc, Mutex, PoisonError};

use ractor::message::{BoxedDowncastErr, SerializedMessage};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::{AgentFactory, LocalDirectory};
use swarmd_messages::{AuditOutcome, AuditRecord, EventDraft, EventKind, TraceContext};
use swarmd_storage::ledger::LedgerReader;
use swarmd_supervisor::{ActorSlot, ChildSpec, SupervisorMsg};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use credit::Origin;
pub use execute::stats;
pub use protocol::{
    CONSOLE_PREFIX, Command, ControlError, ControlReply, ControlRequest, EventFilter,
    MAX_CONTROL_BYTES, control_name,
};
use read_audits::ReadAudits;
use swarmd_cluster::gateway::ClusterHandle;
use swarmd_cluster::transport::ServerSlot;

/// Commands from other processes (consoles, members) executing at once at
/// most; beyond, a command is refused as busy.
const MAX_IN_FLIGHT: usize = 16;
/// The same for this process's callers (Mission Control, which has its own
/// cap too): a pool apart, so a flood of HTTP requests cannot take the
/// consoles' permits.
const MAX_LOCAL_IN_FLIGHT: usize = 8;

/// A request, answered with JSON bytes of a [`ControlReply`].
pub enum ControlMsg {
    /// From this process: JSON bytes of a [`ControlRequest`], taken as they
    /// are. Sent to another node's proxy, the bytes must be sealed
    /// (`transport/sealed.rs`) by the session to it.
    Request(Vec<u8>, RpcReplyPort<Vec<u8>>),
    /// From another process, over a cluster session: a sealed request.
    Remote(Vec<u8>, RpcReplyPort<Vec<u8>>),
}

const REQUEST_VARIANT: &str = "request";

impl ractor::Message for ControlMsg {
    fn serializable() -> bool {
        true
    }

    fn serialize(self) -> Result<SerializedMessage, BoxedDowncastErr> {
        let (ControlMsg::Request(args, reply) | ControlMsg::Remote(args, reply)) = self;
        Ok(SerializedMessage::Call {
            variant: REQUEST_VARIANT.into(),
            args,
            reply,
            metadata: None,
        })
    }

    fn deserialize(bytes: SerializedMessage) -> Result<Self, BoxedDowncastErr> {
        match bytes {
            SerializedMessage::Call { args, reply, .. } => Ok(ControlMsg::Remote(args, reply)),
            _ => Err(BoxedDowncastErr),
        }
    }
}

/// The node's handles the control actor executes commands with.
#[derive(Clone)]
pub struct ControlArgs {
    pub ctx: NodeCtx,
    pub node: String,
    /// Where this node's cluster listener is reached.
    pub address: String,
    pub role: swarmd_config::Role,
    pub tenants: Vec<String>,
    pub allow_fault_injection: bool,
    pub root: ActorSlot<SupervisorMsg>,
    pub cluster: ClusterHandle,
    pub factory: AgentFactory,
    pub directory: LocalDirectory,
    pub reader: LedgerReader,
    pub server: ServerSlot,
    /// The mission planner, on nodes that plan.
    pub missions: ActorSlot<swarmd_actors::missions::PlannerMsg>,
    /// The cloud's supervisor of agents on other nodes, on nodes that plan.
    pub remote: ActorSlot<swarmd_cluster::gateway::RemoteSupervisorMsg>,
    /// Agent kinds a supervised agent of may move to another node.
    pub placement: swarmd_config::placement::PlacementSection,
    /// The world, on the node that hosts it.
    pub world: ActorSlot<swarmd_warehouse::world::WorldActorMsg>,
    /// Each tenant's peer board on this node: the stigmergic tags shown.
    pub peers: swarmd_warehouse::agent::PeerLinks,
    /// When the node started (its clock), for uptime.
    pub started: std::time::SystemTime,
    /// The OTLP exporter's counts, when this node exports.
    pub telemetry: Option<swarmd_adapters::telemetry::ExportStats>,
    pub hub: HubStats,
    /// Discovery and governance.
    pub lan: lan::LanArgs,
    /// What each cluster session proved, with its key: remote requests are
    /// unsealed with it, and forwarded ones sealed.
    pub proofs: swarmd_cluster::transport::ProvenPeers,
    /// The node's fencing tokens (refused assignments are counted there).
    pub fence: swarmd_actors::fencing::Fence,
    /// Who leads the cloud tier, on a cloud with `[cloud] ha`.
    pub leadership: Option<tokio::sync::watch::Receiver<swarmd_messages::advert::Leadership>>,
}

/// Which hub this node's events go through, and on a cloud reading
/// JetStream what its consumer did.
#[derive(Clone)]
pub struct HubStats {
    pub backend: swarmd_config::hub::HubBackend,
    pub ingest: Option<swarmd_adapters::jetstream::IngestStats>,
}

#[derive(Clone)]
pub struct Control;

pub struct ControlState {
    args: Arc<ControlArgs>,
    in_flight: Arc<Semaphore>,
    local_in_flight: Arc<Semaphore>,
    read_audits: Arc<Mutex<ReadAudits>>,
}

pub fn control_child(args: ControlArgs) -> ChildSpec {
    ChildSpec::new("control", move |sup| {
        let args = args.clone();
        async move {
            let name = control_name(&args.node);
            let (control, _) = Actor::spawn_linked(Some(name), Control, args, sup).await?;
            Ok(control.get_cell())
        }
    })
}

impl Actor for Control {
    type Msg = ControlMsg;
    type State = ControlState;
    type Arguments = ControlArgs;

    async fn pre_start(
        &self,
        _: ActorRef<ControlMsg>,
        args: ControlArgs,
    ) -> Result<ControlState, ActorProcessingErr> {
        Ok(ControlState {
            args: Arc::new(args),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            local_in_flight: Arc::new(Semaphore::new(MAX_LOCAL_IN_FLIGHT)),
            read_audits: Arc::new(Mutex::new(ReadAudits::new(tokio::time::Instant::now()))),
        })
    }

    async fn handle(
        &self,
        _: ActorRef<ControlMsg>,
        msg: ControlMsg,
        state: &mut ControlState,
    ) -> Result<(), ActorProcessingErr> {
        let (origin, bytes, reply, pool) = match msg {
            ControlMsg::Request(b, r) => (Origin::Local, b, r, &state.local_in_flight),
            ControlMsg::Remote(b, r) => (Origin::Remote, b, r, &state.in_flight),
        };
        let Ok(permit) = pool.clone().try_acquire_owned() else {
            let busy = Err(ControlError::Unavailable(
                "too many commands in flight".into(),
            ));
            let _ = reply.send(encode_reply(&busy));
            return Ok(());
        };
        // Each command runs on its own task, so a slow one (a remote node,
        // a big query) never holds up the next.
        let args = state.args.clone();
        let read_audits = state.read_audits.clone();
        tokio::spawn(async move {
            let answer = serve(&args, origin, &bytes, &read_audits).await;
            let _ = reply.send(encode_reply(&answer));
            drop(permit);
        });
        Ok(())
    }
}

async fn serve(
    args: &ControlArgs,
    origin: Origin,
    bytes: &[u8],
    read_audits: &Mutex<ReadAudits>,
) -> ControlReply {
    let (request, forwarded) = match credit::credited(args, origin, bytes) {
        Ok(credited) => credited,
        Err(why) => {
            warn!(?origin, error = %why, "control request refused before reading it");
            return Err(why);
        }
    };
    let answer = match auth::authorize(args, &request) {
        Err(why) => Err(why),
        Ok(()) => match request.command.target_node() {
            Some(node) if node != args.node => forward::to_node(args, node, &request).await,
            _ => match leader::elsewhere(args, forwarded, &request.command) {
                Ok(Some(leader)) => forward::to_node(args, &leader, &request).await,
                Ok(None) => execute::run(args, &request).await,
                Err(why) => Err(why),
            },
        },
    };
    let audited = !request.command.is_read() || {
        let mut audits = read_audits.lock().unwrap_or_else(PoisonError::into_inner);
        let now = tokio::time::Instant::now();
        audits.admit(&request.tenant, &request.principal, &request.line, now)
    };
    if audited {
        audit(args, &request, &answer).await;
    }
    answer
}

/// Records the command before it is answered; a ledger that cannot take it
/// is logged (the command has already run).
async fn audit(args: &ControlArgs, request: &ControlRequest, answer: &ControlReply) {
    let outcome = match answer {
        Ok(_) => AuditOutcome::Done,
        Err(ControlError::Refused(reason)) => AuditOutcome::Refused {
            reason: reason.clone(),
        },
        Err(e) => AuditOutcome::Failed {
            reason: e.to_string(),
        },
    };
    info!(principal = %request.principal, tenant = %request.tenant, command = %request.line, ?outcome, "operator command");
    let draft = EventDraft {
        tenant: request.tenant.clone(),
        agent: None,
        trace: TraceContext::default(),
        kind: EventKind::Audit(AuditRecord {
            principal: format!("{}/{}", request.tenant, request.principal),
            command: request.line.clone(),
            outcome,
        }),
    };
    if let Err(e) = args.ctx.ledger.append(draft).await {
        warn!(error = %e, command = %request.line, "audit event not recorded");
    }
}

pub fn encode_reply(reply: &ControlReply) -> Vec<u8> {
    serde_json::to_vec(reply).unwrap_or_else(|e| {
        let fallback: ControlReply = Err(ControlError::Failed(format!("unencodable reply: {e}")));
        serde_json::to_vec(&fallback).unwrap_or_default()
    })
}
