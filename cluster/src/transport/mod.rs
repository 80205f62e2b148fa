//! The vertical plane's transport: a ractor_cluster node server with cookie
//! auth, and dialers that keep sessions to seeds and gossiped members alive.
//! The node (`node/cluster_tree.rs`) assembles them with the gateway.
//!
//! Topology is a full mesh: every node keeps a session to every member, so
//! each node holds N-1 sessions and heartbeats N-1 peers. That is fine for
//! tens of nodes; beyond, a partial view (e.g. HyParView) would be needed.

mod bidi;
mod dialer;
mod events;
mod gate;
pub mod hello;
mod listener;
mod peer_certs;
pub mod sealed;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use ractor::Actor;
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{IncomingEncryptionMode, NodeServer, NodeServerMessage};
use swarmd_actors::NodeCtx;
use swarmd_config::{HostPort, NodeConfig};
use swarmd_supervisor::{ActorSlot, ChildSpec};

pub use bidi::DialedStream;
pub use dialer::{Dialer, DialerArgs};
pub use events::{
    SESSION_EVENTS, SessionEvent, SessionEvents, SessionPhase, node_name, session_incarnation,
    session_name,
};
pub use gate::{CONSOLE_PREFIX, ProvenPeers, SessionGate};
pub use listener::{ClusterListener, ListenerArgs, MAX_PENDING as MAX_PENDING_HANDSHAKES};
pub use peer_certs::{PeerCerts, certifies};
pub use tls::{Tls, TlsError, refuse_exposed_key};

/// The node server's current incarnation, read by the dialers and the gateway.
pub type ServerSlot = ActorSlot<NodeServerMessage>;

/// Starts a dialer for an address learned at run time.
pub type DialLauncher = Arc<dyn Fn(HostPort, DialOrigin) + Send + Sync>;
/// Stops the dialer of an address (if one runs).
pub type DialStopper = Arc<dyn Fn(HostPort) + Send + Sync>;
/// Called with its target when a dialer gives up.
pub type GiveUpHook = Arc<dyn Fn(HostPort) + Send + Sync>;

/// Who told this node to dial an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialOrigin {
    /// A seed, or a member's gossip (an authenticated peer): redialed for ever.
    Member,
    /// A LAN announcement (anyone's word): gives up after a few failures.
    Discovery,
}

/// A dialer's arguments from the node's config; `tls` is set by the caller.
pub fn dialer_args(
    ctx: &NodeCtx,
    config: &NodeConfig,
    gate: &SessionGate,
    sessions: &SessionEvents,
    target: HostPort,
) -> DialerArgs {
    DialerArgs {
        ctx: ctx.clone(),
        target,
        gate: gate.clone(),
        sessions: sessions.clone(),
        dial_timeout: config.cluster.dial_timeout(),
        backoff_min: Duration::from_millis(config.cluster.dial_backoff_min_ms),
        backoff_max: Duration::from_millis(config.cluster.dial_backoff_max_ms),
        tls: None,
        give_up_after: None,
        on_give_up: None,
    }
}

/// A dialer that gives up is removed (`Temporary`): its address may be
/// dialed again later under the same child id.
pub fn dialer_child(args: DialerArgs) -> ChildSpec {
    let gives_up = args.give_up_after.is_some();
    let child = ChildSpec::for_actor(dialer_id(&args.target), Dialer, args);
    if gives_up {
        child.restart(swarmd_supervisor::Restart::Temporary)
    } else {
        child
    }
}

pub fn dialer_id(target: &HostPort) -> String {
    format!("dialer:{target}")
}

/// The node's gate: its side of swarmd's handshake on every cluster stream.
pub fn session_gate(
    ctx: &NodeCtx,
    config: &NodeConfig,
    cookie: &str,
    server: &ServerSlot,
    proofs: &ProvenPeers,
) -> SessionGate {
    SessionGate {
        cookie: cookie.into(),
        me: config.node.name.clone(),
        entropy: ctx.entropy.clone(),
        proofs: proofs.clone(),
        server: server.clone(),
        deadline: config.cluster.dial_timeout(),
    }
}

/// swarmd's own listener on `cluster.listen`, plain or TLS (see `listener.rs`).
pub fn listener_child(config: &NodeConfig, gate: &SessionGate, tls: Option<&Tls>) -> ChildSpec {
    let args = ListenerArgs {
        listen: config.cluster.listen.0,
        gate: gate.clone(),
        tls: tls.map(|t| (t.acceptor.clone(), t.peer_certs.clone())),
    };
    ChildSpec::for_actor("listener", ClusterListener, args)
}

/// The ractor_cluster node server; each incarnation goes into the gateway's
/// server slot. swarmd's own listener accepts on `cluster.listen`
/// ([`listener_child`]) and hands it streams that passed the handshake.
/// ractor_cluster always opens a listener of its own too: it is put on an
/// ephemeral loopback port, and sessions through it have no proof and are
/// refused by the gateway (with TLS it is a TLS one, as the node's).
/// Where the node server reports: the slot that holds its current
/// incarnation, and the channel its session events go to.
pub struct ServerWiring {
    pub incarnation: u64,
    pub slot: ServerSlot,
    pub sessions: SessionEvents,
}

pub fn node_server_child(
    config: &NodeConfig,
    cookie: String,
    wiring: ServerWiring,
    tls: Option<Tls>,
) -> ChildSpec {
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let host = config.cluster.listen.0.ip().to_string();
    let name = session_name(&config.node.name, wiring.incarnation);
    let (slot, sessions) = (wiring.slot, wiring.sessions);
    ChildSpec::new("node_server", move |sup| {
        let server = NodeServer::new(
            listen.port(),
            cookie.clone(),
            name.clone(),
            host.clone(),
            tls.as_ref()
                .map(|t| IncomingEncryptionMode::Tls(t.acceptor.clone())),
            Some(NodeConnectionMode::Isolated),
        )
        .with_listen_addr(listen.ip());
        let (slot, sessions) = (slot.clone(), sessions.clone());
        async move {
            let (server, _) = Actor::spawn_linked(None, server, (), sup).await?;
            events::subscribe(&server, sessions);
            slot.set(server.clone());
            Ok(server.get_cell())
        }
    })
}
