//! The `cluster` subtree: node server, gateway and dialers, assembled from
//! the transport's and the gateway's children.

use std::sync::Arc;
use std::time::Duration;

use swarmd_actors::NodeCtx;
use swarmd_config::{HostPort, NodeConfig};
use swarmd_supervisor::{ActorSlot, Strategy, SupervisorMsg, SupervisorSpec};
use tracing::warn;

use swarmd_cluster::gateway::DISCOVERY_GIVE_UP_AFTER;
use swarmd_cluster::gateway::{GatewayArgs, GatewayMsg, gateway_child};
use swarmd_cluster::transport::{
    DialLauncher, DialOrigin, DialStopper, GiveUpHook, ServerWiring, SessionEvents, SessionGate,
    Tls, dialer_args, dialer_child, dialer_id, listener_child, node_server_child,
};

/// `rest_for_one`: node server, listener, gateway, dialers. A new node server means new
/// sessions, so everything after it restarts.
pub fn cluster_spec(
    ctx: &NodeCtx,
    config: &NodeConfig,
    gate: &SessionGate,
    gateway: GatewayArgs,
    gateway_slot: ActorSlot<GatewayMsg>,
    dialers_slot: ActorSlot<SupervisorMsg>,
    tls: Option<Tls>,
) -> SupervisorSpec {
    let mut dialers = SupervisorSpec::new("dialers", Strategy::OneForOne)
        .intensity(10, Duration::from_secs(10))
        .max_children(4096);
    for seed in &config.cluster.seeds {
        let mut args = dialer_args(ctx, config, gate, &gateway.sessions, seed.clone());
        args.tls = tls.clone();
        dialers = dialers.child(dialer_child(args));
    }
    let listener = listener_child(config, gate, tls.as_ref());
    let server = ServerWiring {
        incarnation: gateway.me.incarnation,
        slot: gateway.server.clone(),
        sessions: gateway.sessions.clone(),
    };
    let node_server = node_server_child(config, gate.cookie.to_string(), server, tls);
    SupervisorSpec::new("cluster", Strategy::RestForOne)
        .child(node_server)
        .child(listener)
        .child(gateway_child(gateway, gateway_slot))
        .child(dialers.into_child_in(dialers_slot))
}

/// Starts dialers under the `dialers` supervisor in `dialers`; one that
/// discovery asked for gives up after a few failures and tells the gateway.
pub fn dial_launcher(
    ctx: &NodeCtx,
    config: &NodeConfig,
    gate: &SessionGate,
    sessions: &SessionEvents,
    dialers: ActorSlot<SupervisorMsg>,
    gateway: ActorSlot<GatewayMsg>,
    tls: Option<Tls>,
) -> DialLauncher {
    let (ctx, config) = (ctx.clone(), config.clone());
    let (gate, sessions) = (gate.clone(), sessions.clone());
    let gave_up: GiveUpHook = Arc::new(move |target| {
        if let Some(gateway) = gateway.get() {
            let _ = gateway.cast(GatewayMsg::DialGaveUp(target));
        }
    });
    Arc::new(move |target: HostPort, origin: DialOrigin| {
        let mut args = dialer_args(&ctx, &config, &gate, &sessions, target.clone());
        args.tls = tls.clone();
        if origin == DialOrigin::Discovery {
            args.give_up_after = Some(DISCOVERY_GIVE_UP_AFTER);
            args.on_give_up = Some(gave_up.clone());
        }
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

/// Stops (and removes) the dialer of an address under `dialers`.
pub fn dial_stopper(dialers: ActorSlot<SupervisorMsg>) -> DialStopper {
    Arc::new(move |target: HostPort| {
        let dialers = dialers.clone();
        tokio::spawn(async move {
            let Some(sup) = dialers.get() else { return };
            let id = dialer_id(&target);
            if swarmd_supervisor::terminate_child(&sup, &id).await.is_ok() {
                let _ = swarmd_supervisor::delete_child(&sup, &id).await;
            }
        });
    })
}
