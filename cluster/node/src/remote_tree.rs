//! The cloud's `remote_agents`: the remote supervisor of agents spawned
//! with `--supervised` on other nodes, wired to the ledger (every move is an
//! event) and to the planner (a moved or lost agent's tasks are released).

use std::sync::Arc;

use swarmd_actors::NodeCtx;
use swarmd_actors::missions::PlannerMsg;
use swarmd_cluster::gateway::{
    ClusterHandle, Placement, PlacementNotes, RemoteChild, RemoteSupervisor, RemoteSupervisorArgs,
    RemoteSupervisorMsg,
};
use swarmd_config::NodeConfig;
use swarmd_messages::{EventDraft, EventKind, PlacementChange, SpawnSpec, TraceContext};
use swarmd_supervisor::{ActorSlot, ChildSpec, Intensity, Restart};
use tracing::warn;

/// Wait before trying again to place an agent with nowhere to run.
const PLACE_RETRY: std::time::Duration = std::time::Duration::from_millis(500);

/// `tenant`: the swarm's, for agents `[[placement.agents]]` names.
pub fn remote_agents_child(
    ctx: &NodeCtx,
    config: &NodeConfig,
    tenant: &str,
    cluster: &ClusterHandle,
    planner: ActorSlot<PlannerMsg>,
    slot: ActorSlot<RemoteSupervisorMsg>,
) -> ChildSpec {
    let p = &config.placement;
    let args = RemoteSupervisorArgs {
        cluster: cluster.clone(),
        children: configured(config, tenant),
        intensity: Intensity {
            max_restarts: u32::try_from(p.max_restarts).unwrap_or(u32::MAX),
            period: p.restart_period(),
        },
        retry: PLACE_RETRY,
        grace: p.grace(),
        notes: Some(notes(ctx, planner)),
    };
    ChildSpec::new("remote_agents", move |sup| {
        let (args, slot) = (args.clone(), slot.clone());
        async move {
            let (remote, _) =
                ractor::Actor::spawn_linked(None, RemoteSupervisor, args, sup).await?;
            slot.set(remote.clone());
            Ok(remote.get_cell())
        }
    })
}

/// `[[placement.agents]]`: supervised from the cloud's start.
fn configured(config: &NodeConfig, tenant: &str) -> Vec<RemoteChild> {
    let p = &config.placement;
    p.agents
        .iter()
        .map(|a| {
            let mut spec = SpawnSpec::new(&a.id, &a.kind, tenant);
            spec.squad = a.squad.clone();
            spec.capabilities = a.capabilities.clone();
            spec.params = a.params.clone();
            let placement = match p.relocatable(&a.kind) {
                true => Placement::AnyEdge,
                false => Placement::SameNode,
            };
            RemoteChild {
                spec,
                node: a.node.clone().unwrap_or_default(),
                restart: Restart::Permanent,
                placement,
            }
        })
        .collect()
}

/// Records every move; on a move or a loss, releases the agent's tasks.
fn notes(ctx: &NodeCtx, planner: ActorSlot<PlannerMsg>) -> PlacementNotes {
    let ledger = ctx.ledger.clone();
    Arc::new(move |agent: &str, tenant: &str, change: PlacementChange| {
        let release = match &change {
            PlacementChange::Moved { from, to } => Some(format!("moved from {from} to {to}")),
            PlacementChange::Lost { node } => Some(format!("lost with node {node}")),
            _ => None,
        };
        if let (Some(reason), Some(planner)) = (release, planner.get()) {
            let agent = agent.to_string();
            let _ = planner.cast(PlannerMsg::Release { agent, reason });
        }
        let draft = EventDraft {
            tenant: tenant.to_string(),
            agent: Some(agent.to_string()),
            trace: TraceContext::default(),
            kind: EventKind::Placement {
                agent: agent.to_string(),
                change,
            },
        };
        let ledger = ledger.clone();
        tokio::spawn(async move {
            if let Err(e) = ledger.append(draft).await {
                warn!(error = %e, "cannot record a placement");
            }
        });
    })
}
