//! Each command, executed with the node's own handles.

use serde_json::{Value, json};
use swarmd_messages::swarm::AgentMsg;
use swarmd_messages::{SYSTEM_TENANT, encode_payload};
use swarmd_supervisor::{ActorSlot, SupervisorMsg, TreeSnapshot, describe, snapshot};

use super::facts::now_us;
use super::json;
use super::{Command, ControlArgs, ControlError, ControlReply, ControlRequest, EventFilter};

pub async fn run(args: &ControlArgs, request: &ControlRequest) -> ControlReply {
    let tenant = request.tenant.as_str();
    match &request.command {
        Command::Nodes => nodes(args).await,
        Command::Tree { .. } => {
            let mut tree = json::tree(&args.node, &root_snapshot(args).await?);
            super::supervised::show_remote_children(args, &mut tree).await;
            Ok(tree)
        }
        Command::Agents { .. } => agents(args, tenant).await,
        Command::Events(filter) => events(args, tenant, filter),
        Command::Send { path, message } => send(args, tenant, path, message).await,
        Command::Estop { agent } => {
            let reason = format!("operator {}", request.principal);
            broadcast(
                args,
                tenant,
                agent.as_deref(),
                AgentMsg::EmergencyStop { reason },
            )
            .await
        }
        Command::Resume { agent } => {
            broadcast(args, tenant, agent.as_deref(), AgentMsg::Resume).await
        }
        Command::Kill { path, reason } => kill(args, path, reason.as_deref()).await,
        Command::Stats { .. } => stats(args).await,
        Command::Mission { goal } => super::missions::submit(args, goal).await,
        Command::Missions => super::missions::list(args).await,
        Command::Board => super::missions::board(args).await,
        Command::Dlq(dlq) => super::missions::dlq(args, dlq).await,
        Command::Recipe {
            recipe,
            squad,
            source,
        } => super::missions::submit_recipe(args, recipe.clone(), squad.clone(), source).await,
        Command::World => super::world::floor(args, tenant).await,
        Command::Call { path, message } => super::missions::call(args, path, message).await,
        Command::Spawn {
            kind,
            spec,
            node,
            supervised: true,
            ..
        } => super::supervised::spawn(args, request, kind, spec, node.as_deref()).await,
        Command::Spawn {
            kind,
            spec,
            place: true,
            ..
        } => super::lan::spawn_placed(args, request, kind, spec).await,
        Command::Spawn { kind, spec, .. } => super::fleet::spawn(args, tenant, kind, spec).await,
        Command::Stop { agent } => {
            super::supervised::stop(args, request, agent_of(args, agent)?).await
        }
        Command::Replay { agent, at } => super::fleet::replay_agent(args, tenant, agent, *at),
    }
}

fn unavailable(e: impl std::fmt::Display) -> ControlError {
    ControlError::Unavailable(e.to_string())
}

fn root(slot: &ActorSlot<SupervisorMsg>) -> Result<ractor::ActorRef<SupervisorMsg>, ControlError> {
    slot.get()
        .ok_or_else(|| unavailable("the node's root supervisor is not running"))
}

async fn root_snapshot(args: &ControlArgs) -> Result<TreeSnapshot, ControlError> {
    snapshot(&root(&args.root)?).await.map_err(unavailable)
}

fn uptime_s(args: &ControlArgs) -> u64 {
    let now = args.ctx.clock.wall_now();
    now.duration_since(args.started)
        .unwrap_or_default()
        .as_secs()
}

/// How old the oldest event not yet forwarded is (edges only).
fn forward_lag_ms(args: &ControlArgs, cursor: Option<u64>) -> Option<u64> {
    if !args.role.runs_edge() || args.role.runs_cloud() {
        return None;
    }
    let from = cursor?.max(first_seq(args));
    let oldest = args.reader.node_log(&args.node, from, 1).ok()?;
    let lag_us = oldest
        .first()
        .map_or(0, |e| now_us(args).saturating_sub(e.time_us));
    Some(lag_us / 1000)
}

fn first_seq(args: &ControlArgs) -> u64 {
    swarmd_storage::ledger::persisted_first_seq(args.ctx.storage.as_ref(), &args.node).unwrap_or(0)
}

/// How long `nodes` waits for a member's own numbers.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

async fn nodes(args: &ControlArgs) -> ControlReply {
    let members = args.cluster.members().await.map_err(unavailable)?;
    let agents = args.factory.status().await.map_err(unavailable)?.len();
    let mut rows: Vec<Value> = members
        .iter()
        .filter(|m| m.info.name != args.node)
        .map(|m| super::lan::with_advert(json::member(m), m.advert.as_ref()))
        .collect();
    let probes = rows
        .iter()
        .map(|row| probe(args, row["name"].as_str().unwrap_or_default()));
    let numbers = futures::future::join_all(probes).await;
    for (row, stats) in rows.iter_mut().zip(numbers) {
        if let Some(stats) = stats {
            row["agents"] = stats["agents"].clone();
            row["uptime_s"] = stats["uptime_s"].clone();
            row["backlog"] = stats["forward"]["backlog"].clone();
        }
    }
    let me = json!({"name": args.node, "role": args.role.to_string(), "state": "up",
        "address": args.address, "connected": true, "agents": agents,
        "uptime_s": uptime_s(args), "self": true});
    let advert = args.lan.advert.borrow().clone();
    rows.insert(0, super::lan::with_advert(me, Some(&advert)));
    let linked = args.ctx.mesh.linked().await;
    let own = args.ctx.mesh.identity();
    for row in rows.iter_mut() {
        let name = row["name"].as_str().unwrap_or_default();
        let identity = match name == args.node {
            true => own.as_ref(),
            false => members
                .iter()
                .find(|m| m.info.name == name)
                .and_then(|m| m.advert.as_ref()?.mesh.as_ref()),
        };
        row["mesh"] = json::mesh_link(identity, name == args.node, &linked);
    }
    rows.extend(super::lan::announced(args, &members));
    Ok(Value::Array(rows))
}

/// A member's `stats`, asked as a probe, or `None` in time.
async fn probe(args: &ControlArgs, node: &str) -> Option<Value> {
    let request = ControlRequest {
        tenant: SYSTEM_TENANT.into(),
        principal: format!("node {}", args.node),
        line: "nodes (probe)".into(),
        command: Command::Stats {
            node: Some(node.to_string()),
        },
    };
    let reply = super::forward::to_node(args, node, &request);
    tokio::time::timeout(PROBE_TIMEOUT, reply).await.ok()?.ok()
}

/// This node's agents with their layers, and, where this node plans
/// missions, every agent the planner knows (cluster-wide) with its position,
/// tasks and halt.
async fn agents(args: &ControlArgs, tenant: &str) -> ControlReply {
    let statuses = args.factory.status().await.map_err(unavailable)?;
    let tree = root_snapshot(args).await?;
    let agents_tree = tree
        .children
        .iter()
        .find(|c| c.info.id == "agents")
        .and_then(|a| a.subtree.as_ref());
    let layers = |id: &str| -> Value {
        let agent = agents_tree.and_then(|a| a.children.iter().find(|c| c.info.id == id));
        let Some(subtree) = agent.and_then(|a| a.subtree.as_ref()) else {
            return Value::Null;
        };
        let layers = subtree.children.iter().map(|l| {
            json!({"layer": l.info.id, "status": json::snake(l.info.status), "restarts": l.info.restarts})
        });
        Value::Array(layers.collect())
    };
    let mut rows: Vec<Value> = statuses
        .iter()
        .filter(|s| visible(args, tenant, &s.id))
        .map(|s| {
            json!({
                "id": s.id,
                "node": args.node,
                "tenant": args.factory.placed.tenant_of(&s.id),
                "running": s.running,
                "restarts": s.restarts,
                "last_failure": s.last_failure,
                "layers": layers(&s.id),
            })
        })
        .collect();
    for status in super::facts::known_agents(args).await {
        if tenant != SYSTEM_TENANT && status.tenant != tenant {
            continue;
        }
        let id = status.agent.name.as_str();
        let row = match rows.iter_mut().position(|r| r["id"] == id) {
            Some(at) => &mut rows[at],
            None => {
                rows.push(json!({"id": id, "node": status.agent.node, "tenant": status.tenant}));
                rows.last_mut().expect("just pushed")
            }
        };
        row["position"] = json!(status.position.map(|c| c.to_string()));
        row["tasks"] = json!(
            status
                .tasks
                .iter()
                .map(|(m, t)| format!("{m}/{t}"))
                .collect::<Vec<_>>()
        );
        row["halted"] = json!(status.halted);
        let view = status.view.as_deref().map(serde_json::from_str::<Value>);
        row["view"] = view.and_then(Result::ok).unwrap_or(Value::Null);
    }
    Ok(Value::Array(rows))
}

/// Whether a session of `tenant` may see or act on `agent`.
fn visible(args: &ControlArgs, tenant: &str, agent: &str) -> bool {
    tenant == SYSTEM_TENANT || args.factory.placed.tenant_of(agent).as_deref() == Some(tenant)
}

/// A tenant's session reads its tenant; a system session the tenant it
/// names, or every tenant the node serves and `system`.
fn events(args: &ControlArgs, tenant: &str, filter: &EventFilter) -> ControlReply {
    let tenants: Vec<String> = match (&filter.tenant, tenant) {
        (Some(t), SYSTEM_TENANT) => vec![t.clone()],
        (None, SYSTEM_TENANT) => args
            .tenants
            .iter()
            .cloned()
            .chain([SYSTEM_TENANT.to_string()])
            .collect(),
        (_, t) => vec![t.to_string()],
    };
    let found = super::events::query_tenants(&args.reader, &tenants, filter, now_us(args))?;
    Ok(Value::Array(found))
}

/// `swarmd-1`, `NODE/agents/swarmd-1` or `NODE/agents/swarmd-1/LAYER` → the agent.
fn agent_of<'a>(args: &ControlArgs, path: &'a str) -> Result<&'a str, ControlError> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [agent] => Ok(agent),
        [node, "agents", agent, ..] if *node == args.node => Ok(agent),
        [node, ..] if *node != args.node => Err(ControlError::BadRequest(format!(
            "{path:?} is on node {node:?}: connect to it, or use the agent's id"
        ))),
        _ => Err(ControlError::BadRequest(format!(
            "{path:?} does not address an agent (AGENT or NODE/agents/AGENT)"
        ))),
    }
}

async fn send(args: &ControlArgs, tenant: &str, path: &str, message: &Value) -> ControlReply {
    let local = path
        .strip_prefix(&format!("{}/", args.node))
        .unwrap_or(path);
    if matches!(local, "cloud/missions" | "missions") {
        return send_to_planner(args, tenant, message);
    }
    let agent = agent_of(args, path)?;
    let msg: AgentMsg = serde_path_to_error::deserialize(message)
        .map_err(|e| super::facts::bad_json("message for an agent", e))?;
    let at = whereabouts(args).await?;
    deliver(args, &at, tenant, agent, &msg)?;
    Ok(json!({"sent": agent}))
}

/// A `MissionMsg` (e.g. `{"Submit": {"goal": ..., "squad": "default"}}`)
/// to this node's planner, as another node would send it.
fn send_to_planner(args: &ControlArgs, tenant: &str, message: &Value) -> ControlReply {
    if tenant != SYSTEM_TENANT {
        return Err(ControlError::Refused(
            "only a system session may message the planner".into(),
        ));
    }
    let msg: swarmd_messages::swarm::MissionMsg = serde_path_to_error::deserialize(message)
        .map_err(|e| super::facts::bad_json("message for the planner", e))?;
    let payload = encode_payload(&msg).map_err(|e| ControlError::Failed(e.to_string()))?;
    let planner = swarmd_messages::swarm::MISSIONS_ACTOR;
    args.directory
        .deliver(planner, payload)
        .map_err(|e| ControlError::BadRequest(e.to_string()))?;
    Ok(json!({"sent": planner}))
}

/// Where an agent lives, as far as this node knows: here, or (on a node
/// that plans) on the node the planner last heard it from.
struct Whereabouts {
    local: Vec<String>,
    /// Agent id → (node, tenant), from the planner.
    remote: std::collections::BTreeMap<String, (String, String)>,
}

async fn whereabouts(args: &ControlArgs) -> Result<Whereabouts, ControlError> {
    let local: Vec<String> = args
        .factory
        .status()
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|s| s.id)
        .collect();
    let remote = super::facts::known_agents(args)
        .await
        .into_iter()
        .filter(|s| s.agent.node != args.node && !local.contains(&s.agent.name))
        .map(|s| (s.agent.name, (s.agent.node, s.tenant)))
        .collect();
    Ok(Whereabouts { local, remote })
}

/// Sends `msg` to an agent here, or across the cluster to where it lives.
fn deliver(
    args: &ControlArgs,
    at: &Whereabouts,
    tenant: &str,
    agent: &str,
    msg: &AgentMsg,
) -> Result<(), ControlError> {
    let payload = encode_payload(msg).map_err(|e| ControlError::Failed(e.to_string()))?;
    if at.local.iter().any(|a| a == agent) && visible(args, tenant, agent) {
        return args
            .directory
            .deliver(agent, payload)
            .map_err(|e| ControlError::BadRequest(e.to_string()));
    }
    match at.remote.get(agent) {
        Some((node, owner)) if tenant == SYSTEM_TENANT || owner == tenant => args
            .cluster
            .cast(node, agent, payload)
            .map_err(|e| ControlError::Unavailable(e.to_string())),
        _ => Err(ControlError::BadRequest(format!(
            "no agent {agent:?} of tenant {tenant:?} known here"
        ))),
    }
}

/// One agent, or every agent this node knows of (its own and, where it
/// plans, the cluster's) that the session may act on.
async fn broadcast(
    args: &ControlArgs,
    tenant: &str,
    agent: Option<&str>,
    msg: AgentMsg,
) -> ControlReply {
    let at = whereabouts(args).await?;
    let targets: Vec<String> = match agent {
        Some(path) => vec![agent_of(args, path)?.to_string()],
        None => {
            let local = at.local.iter().filter(|id| visible(args, tenant, id));
            let remote = at
                .remote
                .iter()
                .filter(|(_, (_, owner))| tenant == SYSTEM_TENANT || owner == tenant)
                .map(|(id, _)| id);
            local.chain(remote).cloned().collect()
        }
    };
    for target in &targets {
        deliver(args, &at, tenant, target, &msg)?;
    }
    Ok(json!({"agents": targets}))
}

/// Kills the actor at a supervision path (`NODE/child/child/...`), as a
/// crash would: its supervisor restarts it (and its siblings) per strategy.
async fn kill(args: &ControlArgs, path: &str, reason: Option<&str>) -> ControlReply {
    let mut parts = path.split('/');
    let node = parts.next().unwrap_or_default();
    if node != args.node {
        return Err(ControlError::BadRequest(format!(
            "{path:?}: paths start with the node's name ({:?})",
            args.node
        )));
    }
    let mut sup = root(&args.root)?;
    let mut walked = node.to_string();
    let mut parts = parts.peekable();
    while let Some(id) = parts.next() {
        let description = describe(&sup).await.map_err(unavailable)?;
        let Some((_, cell)) = description
            .children
            .into_iter()
            .find(|(info, _)| info.id == id)
        else {
            return Err(ControlError::BadRequest(format!(
                "{walked:?} has no child {id:?}"
            )));
        };
        let Some(cell) = cell else {
            return Err(ControlError::BadRequest(format!(
                "{walked}/{id} is not running"
            )));
        };
        walked = format!("{walked}/{id}");
        if parts.peek().is_none() {
            tracing::warn!(path = %walked, reason = reason.unwrap_or("operator"), "killing an actor (fault injection)");
            cell.kill();
            return Ok(json!({"killed": walked}));
        }
        sup = cell.into();
    }
    Err(ControlError::BadRequest(
        "kill the node itself? stop it with SIGTERM".into(),
    ))
}

pub async fn stats(args: &ControlArgs) -> ControlReply {
    let gateway = args.cluster.stats().await.map_err(unavailable)?;
    let agents = args.factory.status().await.map_err(unavailable)?;
    let restarts: u64 = agents.iter().map(|a| u64::from(a.restarts)).sum();
    let ledger = args.ctx.ledger.stats().await.map_err(unavailable)?;
    let storage = args.ctx.storage.as_ref();
    // Edges forward from a persisted cursor; the backlog is what lies past it.
    let cursor = swarmd_storage::ledger::persisted_cursor(storage, &args.node).ok();
    let durable_below = args.ctx.ledger.durable_below();
    let backlog = cursor.map(|c| durable_below.saturating_sub(c.max(first_seq(args))));
    let uptime = uptime_s(args);
    let mesh = args.ctx.mesh.stats();
    let lead = args.leadership.as_ref().map(|l| l.borrow().clone());
    Ok(json!({
        "node": args.node,
        "role": args.role.to_string(),
        "uptime_s": uptime,
        // Assignments of a deposed leader this node's agents refused.
        "fencing": {
            "newest_token": args.fence.newest(),
            "refused": args.fence.refused(),
        },
        "cloud_tier": lead.map(|l| json!({"leader": l.leader, "token": l.token, "leads": l.mine})),
        "ledger": {
            "committed": ledger.committed,
            "batches": ledger.batches,
            "failed_batches": ledger.failed_batches,
            "events_per_s": ledger.committed / uptime.max(1),
            "commit_us_last": ledger.last_commit_us,
            "commit_us_max": ledger.max_commit_us,
            "commit_us_mean": ledger.commit_us_total / ledger.batches.max(1),
            "durable_below": durable_below,
        },
        "mesh": {
            "published": mesh.published,
            "received": mesh.received,
            "dropped": mesh.dropped,
            "received_from": args.ctx.mesh.received_from().into_iter().map(|(n, c)| (n, json!(c))).collect::<serde_json::Map<_, _>>(),
        },
        "forward": {
            "lag_ms": forward_lag_ms(args, cursor),
            "cursor": cursor,
            "backlog": if args.role.runs_edge() && !args.role.runs_cloud() { backlog } else { None },
        },
        "otlp": args.telemetry.as_ref().map(|t| t.snapshot()),
        "hub": hub_stats(&args.hub),
        "agents": agents.len(),
        "agent_restarts": restarts,
        "gateway": json::gateway_stats(&gateway),
        "lan": super::lan::stats(args),
    }))
}

fn hub_stats(hub: &super::HubStats) -> Value {
    let mut out = json!({ "backend": hub.backend });
    if let (Some(ingest), Some(map)) = (&hub.ingest, out.as_object_mut()) {
        let snapshot = serde_json::to_value(ingest.snapshot()).unwrap_or(Value::Null);
        if let Value::Object(fields) = snapshot {
            map.extend(fields);
        }
    }
    out
}
