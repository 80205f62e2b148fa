//! The `cluster` subtree: node server, gateway and dialers, assembled from
//! the transport's and the gateway's children.

use std::sync::Arc;
use std::time::Duration;

use swarmd_actors::NodeCtx;
use swarmd_config::{HostPort, NodeConfig};
use swarmd_supervisor::{ActorSlot, Strategy, SupervisorMsg, SupervisorSpec};
use tracing::warn;

use crate::gateway::{GatewayArgs, GatewayMsg, gateway_child};
use crate::transport::{
    DialLauncher, ServerSlot, SessionEvents, Tls, dialer_args, dialer_child, node_server_child,
    tls_listener_child,
};

/// `rest_for_one`: node server, (TLS listener,) gateway, dialers. A new node server means new
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
        args.tls = tls.clone();
        dialers = dialers.child(dialer_child(args));
    }
    let listener = tls
        .as_ref()
        .map(|tls| tls_listener_child(config, &gateway, tls));
    let node_server = node_server_child(config, cookie, &gateway, tls);
    let mut cluster = SupervisorSpec::new("cluster", Strategy::RestForOne).child(node_server);
    if let Some(listener) = listener {
        cluster = cluster.child(listener);
    }
    cluster
        .child(gateway_child(gateway, gateway_slot))
        .child(dialers.into_child_in(dialers_slot))
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
        args.tls = tls.clone();
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
