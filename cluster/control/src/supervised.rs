//! `spawn … --supervised`, and `stop` of such an agent: agents the cloud's
//! remote supervisor keeps running on other nodes (`[placement]`).

use std::time::Duration;

use serde_json::json;
use swarmd_cluster::gateway::placement::{Candidate, choose};
use swarmd_cluster::gateway::{MemberState, Placed, Placement, RemoteChild, RemoteSupervisorMsg};
use swarmd_messages::{SYSTEM_TENANT, SpawnSpec};
use swarmd_supervisor::Restart;

use super::{Command, ControlArgs, ControlError, ControlReply, ControlRequest};

/// How long the remote supervisor may take to answer.
const SUPERVISOR_TIMEOUT_MS: u64 = 5_000;
/// How often the first placement is looked at while the reply waits for it.
const PLACED_POLL: Duration = Duration::from_millis(50);

/// On a cloud: adopts the agent into the remote supervisor and answers once
/// it runs (or says it is still being placed). Elsewhere: a cloud does it.
pub async fn spawn(
    args: &ControlArgs,
    request: &ControlRequest,
    kind: &str,
    spec: &serde_json::Value,
    node: Option<&str>,
) -> ControlReply {
    let Some(remote) = args.remote.get() else {
        let cloud = cloud_member(args).await?;
        return super::forward::to_node(args, &cloud, request).await;
    };
    let spawn = super::fleet::spec_of(args, &request.tenant, kind, spec)?;
    let first = match node {
        Some(node) if node == args.node => {
            let why =
                "the cloud supervises agents on other nodes: spawn it here without --supervised";
            return Err(ControlError::Refused(why.into()));
        }
        Some(node) => node.to_string(),
        None => another_node(args, &spawn).await?,
    };
    let relocatable = args.placement.relocatable(kind);
    let child = RemoteChild {
        spec: spawn.clone(),
        node: first.clone(),
        restart: Restart::Permanent,
        placement: if relocatable {
            Placement::AnyEdge
        } else {
            Placement::SameNode
        },
    };
    ractor::call_t!(
        remote,
        RemoteSupervisorMsg::Adopt,
        SUPERVISOR_TIMEOUT_MS,
        child
    )
    .map_err(|e| ControlError::Unavailable(e.to_string()))?
    .map_err(ControlError::Refused)?;
    let placed = first_placement(args, &remote, &spawn.id).await;
    let (node, state) = match &placed {
        Some(p) => (p.node.clone(), p.state),
        None => (None, "placing"),
    };
    Ok(
        json!({"spawned": spawn.id, "node": node, "state": state, "supervised": true,
        "relocatable": relocatable}),
    )
}

/// Stops an agent: a supervised one leaves the remote supervisor first (or
/// it would be started again), then stops on its node.
pub async fn stop(args: &ControlArgs, request: &ControlRequest, agent: &str) -> ControlReply {
    let forgotten = match args.remote.get() {
        Some(remote) => forget(&remote, &request.tenant, agent).await?,
        None => None,
    };
    match forgotten.and_then(|p| p.node) {
        Some(node) if node != args.node => {
            let stop = ControlRequest {
                command: Command::Stop {
                    agent: agent.to_string(),
                },
                ..request.clone()
            };
            super::forward::to_node(args, &node, &stop).await
        }
        _ => super::fleet::stop(args, &request.tenant, agent).await,
    }
}

async fn forget(
    remote: &ractor::ActorRef<RemoteSupervisorMsg>,
    tenant: &str,
    agent: &str,
) -> Result<Option<Placed>, ControlError> {
    let unavailable = |e: String| ControlError::Unavailable(e);
    let placed = ractor::call_t!(remote, RemoteSupervisorMsg::Which, SUPERVISOR_TIMEOUT_MS)
        .map_err(|e| unavailable(e.to_string()))?;
    let visible = |p: &&Placed| p.id == agent && (tenant == SYSTEM_TENANT || p.tenant == tenant);
    if !placed.iter().any(|p| visible(&p)) {
        return Ok(None);
    }
    let id = agent.to_string();
    ractor::call_t!(
        remote,
        RemoteSupervisorMsg::Forget,
        SUPERVISOR_TIMEOUT_MS,
        id
    )
    .map_err(|e| unavailable(e.to_string()))
}

/// Waits, within the call timeout, for the child to run somewhere.
async fn first_placement(
    args: &ControlArgs,
    remote: &ractor::ActorRef<RemoteSupervisorMsg>,
    id: &str,
) -> Option<Placed> {
    let deadline = tokio::time::Instant::now() + args.cluster.call_timeout();
    loop {
        let placed =
            ractor::call_t!(remote, RemoteSupervisorMsg::Which, SUPERVISOR_TIMEOUT_MS).ok()?;
        let mine = placed.into_iter().find(|p| p.id == id)?;
        if mine.state == "running" || tokio::time::Instant::now() >= deadline {
            return Some(mine);
        }
        tokio::time::sleep(PLACED_POLL).await;
    }
}

/// The member other than this node that can host `spec` best.
async fn another_node(args: &ControlArgs, spec: &SpawnSpec) -> Result<String, ControlError> {
    let members = args
        .cluster
        .members()
        .await
        .map_err(|e| ControlError::Unavailable(e.to_string()))?;
    let candidates: Vec<Candidate> = members
        .iter()
        .filter(|m| m.info.name != args.node)
        .map(Candidate::member)
        .collect();
    choose(&candidates, spec).map_err(ControlError::Refused)
}

/// A cloud member that is up: where an edge sends a supervised spawn.
async fn cloud_member(args: &ControlArgs) -> Result<String, ControlError> {
    let members = args
        .cluster
        .members()
        .await
        .map_err(|e| ControlError::Unavailable(e.to_string()))?;
    let cloud = members
        .iter()
        .find(|m| m.info.role.runs_cloud() && m.state == MemberState::Up && m.connected);
    cloud.map(|m| m.info.name.clone()).ok_or_else(|| {
        ControlError::Refused(
            "no cloud is up to supervise it: only a cloud supervises agents on other nodes".into(),
        )
    })
}

/// Puts the remote supervisor's children under its node of `tree`, each
/// with the node it runs on.
pub async fn show_remote_children(args: &ControlArgs, tree: &mut serde_json::Value) {
    let Some(remote) = args.remote.get() else {
        return;
    };
    let Ok(placed) = ractor::call_t!(remote, RemoteSupervisorMsg::Which, SUPERVISOR_TIMEOUT_MS)
    else {
        return;
    };
    let children: Vec<serde_json::Value> = placed
        .iter()
        .map(|p| {
            json!({"id": p.id, "kind": "remote", "status": p.state, "restart": "permanent",
                "restarts": p.restarts, "node": p.node, "last_failure": null})
        })
        .collect();
    if let Some(node) = find_child(tree, "remote_agents") {
        node["strategy"] = json!("remote");
        node["children"] = json!(children);
    }
}

fn find_child<'a>(tree: &'a mut serde_json::Value, id: &str) -> Option<&'a mut serde_json::Value> {
    if tree["id"] == id {
        return Some(tree);
    }
    let children = tree.get_mut("children")?.as_array_mut()?;
    children.iter_mut().find_map(|child| find_child(child, id))
}
