//! The vertical plane's transport: a ractor_cluster node server with cookie
//! auth, the gateway that speaks swarmd's wire protocol over its sessions, and
//! dialers that keep sessions to seeds and gossiped members alive.
//!
//! Topology is a full mesh: every node keeps a session to every member, so
//! each node holds N-1 sessions and heartbeats N-1 peers. That is fine for
//! tens of nodes; beyond, a partial view (e.g. HyParView) would be needed.

mod bidi;
mod dialer;
mod events;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use ractor::Actor;
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{IncomingEncryptionMode, NodeServer, NodeServerMessage};
use swarmd_actors::NodeCtx;
use swarmd_config::{HostPort, NodeConfig};
use swarmd_supervisor::{ActorSlot, ChildSpec, Strategy, SupervisorMsg, SupervisorSpec};
use tracing::warn;

use crate::gateway::{GatewayArgs, GatewayMsg, gateway_child};

pub use bidi::DialedStream;
pub use dialer::{Dialer, DialerArgs};
pub use events::{SESSION_EVENTS, SessionEvent, SessionEvents, SessionPhase, node_name};
pub use tls::Tls;

/// The node server's current incarnation, read by the dialers and the gateway.
pub type ServerSlot = ActorSlot<NodeServerMessage>;

/// Starts a dialer for an address learned at run time.
pub type DialLauncher = Arc<dyn Fn(HostPort) + Send + Sync>;

/// `rest_for_one`: node server, gateway, dialers. A new node server means new
/// sessions, so everything after it restarts.
pub fn cluster_spec(
    ctx: &NodeCtx,
    config: &NodeConfig,
    cookie: String,
    gateway: GatewayArgs,
    gateway_slot: ActorSlot<GatewayMsg>,
    dialers_slot: ActorSlot<SupervisorMsg>,
    tls: Option<Tls>,
) -> SupervisorSpec {
    let mut dialers = SupervisorSpec::new("dialers", Strategy::OneForOne)
        .intensity(10, Duration::from_secs(10))
        .max_children(4096);
    for seed in &config.cluster.seeds {
        let mut args = dialer_args(
            ctx,
            config,
            &gateway.server,
            &gateway.sessions,
            seed.clone(),
        );
        args.tls = tls.as_ref().map(|t| t.connector.clone());
        dialers = dialers.child(dialer_child(args));
    }
    let node_server = node_server_child(config, cookie, &gateway, tls);
    SupervisorSpec::new("cluster", Strategy::RestForOne)
        .child(node_server)
        .child(gateway_child(gateway, gateway_slot))
        .child(dialers.into_child_in(dialers_slot))
}

fn dialer_args(
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

fn dialer_child(args: DialerArgs) -> ChildSpec {
    ChildSpec::for_actor(format!("dialer:{}", args.target), Dialer, args)
}

/// Starts dialers under the `dialers` supervisor in `dialers`.
pub fn dial_launcher(
    ctx: &NodeCtx,
    config: &NodeConfig,
    server: &ServerSlot,
    sessions: &SessionEvents,
    dialers: ActorSlot<SupervisorMsg>,
    tls: Option<Tls>,
) -> DialLauncher {
    let (ctx, config) = (ctx.clone(), config.clone());
    let (server, sessions) = (server.clone(), sessions.clone());
    Arc::new(move |target: HostPort| {
        let mut args = dialer_args(&ctx, &config, &server, &sessions, target.clone());
        args.tls = tls.as_ref().map(|t| t.connector.clone());
        let child = dialer_child(args);
        let dialers = dialers.clone();
        tokio::spawn(async move {
            let Some(sup) = dialers.get() else { return };
            if let Err(e) = swarmd_supervisor::start_child(&sup, child).await {
                warn!(%target, error = %e, "cannot start a dialer");
            }
        });
    })
}

fn node_server_child(
    config: &NodeConfig,
    cookie: String,
    gw: &GatewayArgs,
    tls: Option<Tls>,
) -> ChildSpec {
    let listen = config.cluster.listen.0;
    let name = config.node.name.clone();
    let (slot, sessions) = (gw.server.clone(), gw.sessions.clone());
    ChildSpec::new("node_server", move |sup| {
        let server = NodeServer::new(
            listen.port(),
            cookie.clone(),
            name.clone(),
            listen.ip().to_string(),
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
            tracing::info!(%listen, "cluster listener up");
            Ok(server.get_cell())
        }
    })
}
