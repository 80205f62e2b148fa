//! The vertical plane: a ractor_cluster node server with cookie auth, and one
//! dialer per seed. Membership, failure detection and remote supervision build
//! on these sessions.

mod bidi;
mod dialer;
mod events;

use ractor::Actor;
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{NodeServer, NodeServerMessage};
use swarmd_actors::NodeCtx;
use swarmd_config::NodeConfig;
use swarmd_supervisor::{ActorSlot, ChildSpec, Strategy, SupervisorSpec};

pub use bidi::DialedStream;
pub use dialer::{Dialer as SeedDialer, DialerArgs};

/// The node server's current incarnation, read by the dialers.
type ServerSlot = ActorSlot<NodeServerMessage>;

/// `rest_for_one`: the dialers hand connections to the node server, so a new
/// node server means new dialers.
pub fn cluster_spec(ctx: &NodeCtx, config: &NodeConfig, cookie: String) -> SupervisorSpec {
    let slot = ServerSlot::new();
    let mut spec = SupervisorSpec::new("cluster", Strategy::RestForOne).child(node_server_child(
        config,
        cookie,
        slot.clone(),
    ));
    for seed in &config.cluster.seeds {
        let args = DialerArgs {
            ctx: ctx.clone(),
            seed: seed.clone(),
            server: slot.clone(),
            dial_timeout: config.cluster.dial_timeout(),
            backoff_min: std::time::Duration::from_millis(config.cluster.dial_backoff_min_ms),
            backoff_max: std::time::Duration::from_millis(config.cluster.dial_backoff_max_ms),
        };
        spec = spec.child(ChildSpec::new(format!("dialer:{seed}"), move |sup| {
            let args = args.clone();
            async move {
                let (dialer, _) = Actor::spawn_linked(None, SeedDialer, args, sup).await?;
                Ok(dialer.get_cell())
            }
        }));
    }
    spec
}

fn node_server_child(config: &NodeConfig, cookie: String, slot: ServerSlot) -> ChildSpec {
    let listen = config.cluster.listen.0;
    let name = config.node.name.clone();
    ChildSpec::new("node_server", move |sup| {
        let server = NodeServer::new(
            listen.port(),
            cookie.clone(),
            name.clone(),
            listen.ip().to_string(),
            None,
            Some(NodeConnectionMode::Isolated),
        )
        .with_listen_addr(listen.ip());
        let slot = slot.clone();
        async move {
            let (server, _) = Actor::spawn_linked(None, server, (), sup).await?;
            events::subscribe(&server);
            slot.set(server.clone());
            tracing::info!(%listen, "cluster listener up");
            Ok(server.get_cell())
        }
    })
}
