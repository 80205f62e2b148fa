//! The gateway: one actor per node that speaks the wire protocol
//! ([`swarmd_messages::WireMsg`]) with every other node's gateway.
//!
//! It owns the membership view and failure detector, routes casts to this
//! node's directory, serves remote spawn / watch / ledger requests, and keeps
//! the tables of calls and watches this node is waiting on. It is the only
//! remote-capable actor of a node: everything crosses the network as one
//! batched, versioned frame between gateways, decoded fallibly here.

mod actor;
mod calls;
mod discovered;
mod fence;
pub use fence::{Fence, FenceArgs, RemoteOwned, fence_child, majority};
mod discovery_dials;
pub use discovery_dials::{DISCOVERY_GIVE_UP_AFTER, MAX_DIALERS_PER_SOURCE, MAX_DISCOVERY_DIALERS};
mod handle;
mod handshake;
mod hub;
pub mod membership;
mod outbox;
pub mod placement;
mod relay;
mod remote_supervisor;
mod serve;
mod sessions;
mod tickets;

use std::time::Duration;

use ractor::RpcReplyPort;
use ractor::message::{BoxedDowncastErr, SerializedMessage};
use swarmd_actors::NodeCtx;
use swarmd_actors::fleet::{AgentFactory, LocalDirectory};
use swarmd_messages::advert::NodeAdvert;
use swarmd_messages::{MemberInfo, Reply, Request, SpawnRejected, WireMsg};
use swarmd_storage::ledger::Hub;
use swarmd_supervisor::EventSender;
use tokio::sync::{broadcast, oneshot};

use crate::transport::SessionEvents;

pub use actor::{Gateway, gateway_child};
pub use handle::{ClusterHandle, RemoteRef, SpawnError};
pub use hub::ClusterHub;
pub use membership::{MemberChange, MemberState};
pub use outbox::gateway_name;
pub use remote_supervisor::{
    MAX_REMOTE_CHILDREN, Placed, Placement, PlacementNotes, RemoteChild, RemoteSupervisor,
    RemoteSupervisorArgs, RemoteSupervisorMsg,
};

/// Membership changes buffered per subscriber; a lagging one is told how many it lost.
pub const MEMBER_CHANGES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("unknown node {0:?}")]
    UnknownNode(String),
    #[error("node {0:?} is down")]
    NodeDown(String),
    #[error("the session to {0:?} closed before the reply")]
    Disconnected(String),
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("too many calls in flight")]
    Overloaded,
    #[error("the gateway is not running")]
    Unavailable,
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

/// Why a watched remote actor is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitCause {
    /// It exited; the reason is carried over the wire.
    Exited(String),
    /// Its node went down (or restarted).
    NodeDown,
    /// It was not running when the watch arrived.
    NotRunning(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteExit {
    pub node: String,
    pub actor: String,
    pub cause: ExitCause,
}

/// A member as this node sees it, for the console and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    pub info: MemberInfo,
    pub state: MemberState,
    pub connected: bool,
    /// What it last advertised it can host and take.
    pub advert: Option<NodeAdvert>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayStats {
    pub frames_in: u64,
    pub undecodable_frames: u64,
    /// Frames whose claimed sender their ticket did not prove (forged or stale).
    pub refused_frames: u64,
    /// Sessions closed because another live node already holds their name.
    pub refused_sessions: u64,
    /// Discovered nodes not dialed: over the cap of discovery dialers.
    pub refused_dials: u64,
    /// Adverts out of bounds (ignored).
    pub refused_adverts: u64,
    pub undeliverable_casts: u64,
    pub dropped_outgoing: u64,
    pub pending_calls: usize,
    pub watches: usize,
    /// Dialers discovery started that are still running.
    pub discovery_dialers: usize,
}

pub enum GatewayMsg {
    /// An encoded `Envelope<WireFrame>` from a peer's gateway. The only
    /// variant that crosses the network.
    Frame(Vec<u8>),
    Tick,
    Flush,
    Send {
        node: String,
        msg: WireMsg,
    },
    Call {
        node: String,
        body: Request,
        reply: oneshot::Sender<Result<Reply, CallError>>,
    },
    Watch {
        node: String,
        actor: String,
        notify: oneshot::Sender<RemoteExit>,
        accepted: oneshot::Sender<Result<(), CallError>>,
    },
    /// A local actor in the directory exited.
    LocalExit {
        name: String,
        reason: String,
    },
    /// A remote spawn this node served has finished starting.
    Spawned {
        node: String,
        id: u64,
        name: String,
        result: Result<(), SpawnRejected>,
    },
    Session(crate::transport::SessionEvent),
    /// Session events were lost: rebuild the session table from the node server.
    Resync,
    Members(RpcReplyPort<Vec<MemberStatus>>),
    /// Nodes found on the LAN: dialed like members learned by gossip.
    Discovered(Vec<MemberInfo>),
    /// Nodes whose LAN announcements expired.
    DiscoveryExpired(Vec<MemberInfo>),
    /// A dialer discovery started gave up on its address.
    DialGaveUp(swarmd_config::HostPort),
    Stats(RpcReplyPort<GatewayStats>),
}

const FRAME_VARIANT: &str = "frame";

impl ractor::Message for GatewayMsg {
    fn serializable() -> bool {
        true
    }

    fn serialize(self) -> Result<SerializedMessage, BoxedDowncastErr> {
        match self {
            Self::Frame(args) => Ok(SerializedMessage::Cast {
                variant: FRAME_VARIANT.into(),
                args,
                metadata: None,
            }),
            _ => Err(BoxedDowncastErr),
        }
    }

    /// Never fails on content: the bytes are decoded (fallibly, counted) by the gateway.
    fn deserialize(bytes: SerializedMessage) -> Result<Self, BoxedDowncastErr> {
        match bytes {
            SerializedMessage::Cast { args, .. } => Ok(Self::Frame(args)),
            _ => Err(BoxedDowncastErr),
        }
    }
}

/// What a gateway needs; cloned into each incarnation.
#[derive(Clone)]
pub struct GatewayArgs {
    pub ctx: NodeCtx,
    pub me: MemberInfo,
    pub heartbeat_interval: Duration,
    pub suspect_after: Duration,
    pub down_after: Duration,
    pub sessions: SessionEvents,
    pub server: crate::transport::ServerSlot,
    pub changes: broadcast::Sender<MemberChange>,
    pub directory: LocalDirectory,
    /// Remote spawns go through the node's factory, like local ones.
    pub factory: AgentFactory,
    /// Supervision events of the node's tree: how the gateway learns exits.
    pub supervision: EventSender,
    /// Present on cloud nodes: where forwarded ledger batches are stored.
    pub hub: Option<std::sync::Arc<dyn Hub>>,
    /// Starts a dialer to a member learned by gossip or discovery.
    pub dial: crate::transport::DialLauncher,
    /// Stops the dialer of an address discovery no longer announces.
    pub stop_dial: crate::transport::DialStopper,
    /// What this node advertises (the governor keeps it current).
    pub advert: tokio::sync::watch::Receiver<NodeAdvert>,
    /// With TLS: the certificates sessions presented; a session is accepted
    /// only if its certificate names its node.
    pub peer_certs: Option<crate::transport::PeerCerts>,
    /// What each stream proved in swarmd's handshake; a session is accepted
    /// only if it proved the name it gives ractor_cluster.
    pub proofs: crate::transport::ProvenPeers,
    /// Agents other nodes spawned here, by owner (the fence reads it).
    pub owned: RemoteOwned,
}
