//! What the console and the API show of discovery and governance, and
//! `spawn --place`: an agent on the member that can host it best.

use serde_json::{Value, json};
use swarmd_config::lan::ResourcesSection;
use swarmd_messages::advert::NodeAdvert;
use swarmd_supervisor::Restart;
use tokio::sync::watch;

use super::{Command, ControlArgs, ControlError, ControlReply, ControlRequest};
use swarmd_cluster::discovery::{DiscoveredNodes, DiscoveryStats};
use swarmd_cluster::gateway::placement::{Candidate, choose};
use swarmd_cluster::gateway::{MemberState, MemberStatus};
use swarmd_governance::{GovernanceStats, Levers};

/// The node's discovery and governance, as the control actor reads them.
#[derive(Clone)]
pub struct LanArgs {
    pub resources: ResourcesSection,
    pub governance: GovernanceStats,
    pub levers: Levers,
    pub advert: watch::Receiver<NodeAdvert>,
    /// With `cluster.discover`: the nodes heard, and the counts.
    pub discovery: Option<(DiscoveredNodes, DiscoveryStats)>,
}

/// A node's advert as `nodes` shows it.
pub fn advert(advert: &NodeAdvert) -> Value {
    let (p, c) = (&advert.profile, &advert.capacity);
    json!({
        "tenants": p.tenants,
        "kinds": p.kinds,
        "squads": p.squads,
        "capabilities": p.capabilities,
        "capacity": {
            "max_agents": c.max_agents,
            "running_agents": c.running_agents,
            "rss_mb": c.rss_mb,
            "memory_budget_mb": c.memory_budget_mb,
            "free_memory_mb": c.free_memory_mb,
            "cpu_percent": c.cpu_percent,
            "accepting": c.accepting,
        },
        // The cloud tier's lease, on the cloud that holds it (`[cloud] ha`).
        "leads": advert.leads.map(|l| json!({"token": l.token, "since_ms": l.since_ms})),
    })
}

/// Adds `advert`'s fields to a `nodes` row.
pub fn with_advert(mut row: Value, advert: Option<&NodeAdvert>) -> Value {
    if let (Some(advert), Some(map)) = (advert, row.as_object_mut())
        && let Value::Object(fields) = self::advert(advert)
    {
        map.extend(fields);
    }
    row
}

/// Nodes heard on the LAN that are not members (a wrong cookie, still
/// joining): `nodes` lists them as `announced`.
pub fn announced(args: &ControlArgs, members: &[MemberStatus]) -> Vec<Value> {
    let Some((table, _)) = &args.lan.discovery else {
        return Vec::new();
    };
    let member = |name: &str| {
        members
            .iter()
            .any(|m| m.info.name == name && m.state != MemberState::Down)
    };
    table
        .all()
        .into_iter()
        .filter(|h| !member(&h.announcement.member.name))
        .map(|h| {
            let m = &h.announcement.member;
            let row = json!({"name": m.name, "role": m.role.to_string(), "state": "announced",
                "address": m.cluster_addr, "connected": false});
            with_advert(row, Some(&h.announcement.advert))
        })
        .collect()
}

/// `stats`' `governance` and `discovery` sections.
pub fn stats(args: &ControlArgs) -> Value {
    let lan = &args.lan;
    let throttle: serde_json::Map<String, Value> = swarmd_actors::throttle::Priority::ALL
        .iter()
        .map(|p| (p.name().to_string(), json!(lan.levers.throttle.factor(*p))))
        .collect();
    let discovery = lan.discovery.as_ref().map(|(table, stats)| {
        let (sent, heard, refused) = stats.counts();
        json!({"sent": sent, "heard": heard, "refused": refused, "known": table.all().len()})
    });
    json!({
        "governance": {
            "max_memory_mb": lan.resources.memory_budget_mb(),
            "max_cpu_percent": lan.resources.cpu_budget_percent(),
            "over_memory_budget": lan.levers.admission.over_budget().is_some(),
            "spawns_refused": lan.levers.admission.refused_by_budget(),
            "background_passes_shed": lan.levers.shedding.skipped(),
            "throttle": throttle,
            "measured": lan.governance.snapshot(),
        },
        "discovery": discovery,
    })
}

/// `spawn KIND JSON --place`: on the member whose advert fits best (this
/// node included); refused with each member's reason when none fits.
pub async fn spawn_placed(
    args: &ControlArgs,
    request: &ControlRequest,
    kind: &str,
    spec: &Value,
) -> ControlReply {
    let spawn = super::fleet::spec_of(args, &request.tenant, kind, spec)?;
    let members = args
        .cluster
        .members()
        .await
        .map_err(|e| ControlError::Unavailable(e.to_string()))?;
    let own = args.lan.advert.borrow().clone();
    let me = Candidate {
        name: &args.node,
        runs_edge: args.role.runs_edge(),
        reachable: true,
        advert: Some(&own),
    };
    let others = members
        .iter()
        .filter(|m| m.info.name != args.node)
        .map(Candidate::member);
    let candidates: Vec<Candidate> = std::iter::once(me).chain(others).collect();
    let node = choose(&candidates, &spawn).map_err(ControlError::Refused)?;
    if node == args.node {
        args.factory
            .create(&spawn, Restart::Permanent)
            .await
            .map_err(|e| ControlError::BadRequest(e.to_string()))?;
    } else {
        let forwarded = ControlRequest {
            command: Command::Spawn {
                kind: kind.to_string(),
                spec: spec.clone(),
                node: Some(node.clone()),
                place: false,
                supervised: false,
            },
            ..request.clone()
        };
        super::forward::to_node(args, &node, &forwarded).await?;
    }
    Ok(json!({"spawned": spawn.id, "node": node, "placed": true}))
}
