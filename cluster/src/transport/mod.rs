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
mod peer_certs;
mod tls;
mod tls_listener;

use std::sync::Arc;
use std::time::Duration;

use ractor::Actor;
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{IncomingEncryptionMode, NodeServer, NodeServerMessage};
use swarmd_actors::NodeCtx;
use swarmd_config::{HostPort, NodeConfig};
use swarmd_supervisor::{ActorSlot, ChildSpec};

use crate::gateway::GatewayArgs;

pub use bidi::DialedStream;
pub use dialer::{Dialer, DialerArgs};
pub use events::{
    SESSION_EVENTS, SessionEvent, SessionEvents, SessionPhase, node_name, session_incarnation,
    session_name,
};
pub use peer_certs::{PeerCerts, certifies};
pub use tls::{Tls, TlsError, refuse_exposed_key};
pub use tls_listener::{TlsListener, TlsListenerArgs};

/// The node server's current incarnation, read by the dialers and the gateway.
pub type ServerSlot = ActorSlot<NodeServerMessage>;

/// Starts a dialer for an address learned at run time.
pub type DialLauncher = Arc<dyn Fn(HostPort) + Send + Sync>;

/// A dialer's arguments from the node's config; `tls` is set by the caller.
pub fn dialer_args(
    ctx: &NodeCtx,
    config: &NodeConfig,
    server: &ServerSlot,
    sessions: &SessionEvents,
    target: HostPort,
) -> DialerArgs {
    DialerArgs {
        ctx: ctx.clone(),
        target,
        server: server.clone(),
        sessions: sessions.clone(),
        dial_timeout: config.cluster.dial_timeout(),
        backoff_min: Duration::from_millis(config.cluster.dial_backoff_min_ms),
        backoff_max: Duration::from_millis(config.cluster.dial_backoff_max_ms),
        tls: None,
    }
}

pub fn dialer_child(args: DialerArgs) -> ChildSpec {
    ChildSpec::for_actor(format!("dialer:{}", args.target), Dialer, args)
}

/// With TLS, swarmd's own listener on `cluster.listen` (see `tls_listener.rs`).
pub fn tls_listener_child(config: &NodeConfig, gw: &GatewayArgs, tls: &Tls) -> ChildSpec {
    let args = TlsListenerArgs {
        listen: config.cluster.listen.0,
        acceptor: tls.acceptor.clone(),
        certs: tls.peer_certs.clone(),
        server: gw.server.clone(),
        handshake_timeout: config.cluster.dial_timeout(),
    };
    ChildSpec::for_actor("tls_listener", TlsListener, args)
}

/// The ractor_cluster node server; each incarnation goes into the gateway's
/// server slot. Without TLS it listens on `cluster.listen`. With TLS,
/// swarmd's own listener accepts there ([`tls_listener_child`]); the node
/// server's listener is then an unused TLS one on an ephemeral loopback port
/// (sessions through it have no recorded certificate and are refused).
pub fn node_server_child(
    config: &NodeConfig,
    cookie: String,
    gw: &GatewayArgs,
    tls: Option<Tls>,
) -> ChildSpec {
    let listen = match tls {
        None => config.cluster.listen.0,
        Some(_) => std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let host = config.cluster.listen.0.ip().to_string();
    let name = session_name(&config.node.name, gw.me.incarnation);
    let (slot, sessions) = (gw.server.clone(), gw.sessions.clone());
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
        let (slot, sessions, tls) = (slot.clone(), sessions.clone(), tls.clone());
        async move {
            let (server, _) = Actor::spawn_linked(None, server, (), sup).await?;
            events::subscribe(&server, sessions);
            slot.set(server.clone());
            if tls.is_none() {
                tracing::info!(%listen, "cluster listener up");
            }
            Ok(server.get_cell())
        }
    })
}
