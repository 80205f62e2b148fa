//! How the node's state is shown: one JSON shape per thing, the same for
//! `--json` and for the console's tables.

use serde_json::{Value, json};
use swarmd_messages::Event;
use swarmd_supervisor::{ChildSnapshot, TreeSnapshot};

use swarmd_cluster::gateway::{GatewayStats, MemberStatus};

/// `OneForOne` → `one_for_one`: Debug names of the supervisor's enums.
pub fn snake(debug: impl std::fmt::Debug) -> String {
    let mut out = String::new();
    for (i, c) in format!("{debug:?}").chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub fn tree(name: &str, snapshot: &TreeSnapshot) -> Value {
    json!({
        "id": name,
        "kind": "supervisor",
        "strategy": snake(snapshot.strategy),
        "status": "running",
        "children": snapshot.children.iter().map(child).collect::<Vec<_>>(),
    })
}

fn child(child: &ChildSnapshot) -> Value {
    let info = &child.info;
    let mut value = json!({
        "id": info.id,
        "kind": snake(info.kind),
        "status": snake(info.status),
        "restart": snake(info.restart),
        "restarts": info.restarts,
        "last_failure": info.last_failure,
    });
    if let Some(subtree) = &child.subtree {
        value["strategy"] = json!(snake(subtree.strategy));
        value["children"] = json!(subtree.children.iter().map(self::child).collect::<Vec<_>>());
    }
    value
}

pub fn member(m: &MemberStatus) -> Value {
    json!({
        "name": m.info.name,
        "role": m.info.role.to_string(),
        "state": m.state.to_string(),
        "address": m.info.cluster_addr,
        "connected": m.connected,
        "incarnation": m.info.incarnation,
    })
}

pub fn gateway_stats(s: &GatewayStats) -> Value {
    json!({
        "frames_in": s.frames_in,
        "undecodable_frames": s.undecodable_frames,
        "refused_frames": s.refused_frames,
        "refused_sessions": s.refused_sessions,
        "refused_dials": s.refused_dials,
        "refused_adverts": s.refused_adverts,
        "undeliverable_casts": s.undeliverable_casts,
        "dropped_outgoing": s.dropped_outgoing,
        "pending_calls": s.pending_calls,
        "watches": s.watches,
        "discovery_dialers": s.discovery_dialers,
    })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn event(e: &Event) -> Value {
    json!({
        "node": e.id.node,
        "seq": e.id.seq,
        "tenant": e.tenant,
        "agent": e.agent,
        "trace_id": hex(&e.trace.trace_id),
        "span_id": hex(&e.trace.span_id),
        "parent_span_id": e.trace.parent_hex(),
        "time_us": e.time_us,
        "kind": e.kind.name(),
        "detail": serde_json::to_value(&e.kind).unwrap_or(Value::Null),
    })
}

/// A member's mesh session as `nodes` shows it: linked to this node's or not.
pub fn mesh_link(
    identity: Option<&swarmd_messages::advert::MeshIdentity>,
    own: bool,
    linked: &[String],
) -> Value {
    match identity {
        None => json!({"connected": false, "locators": []}),
        Some(m) => json!({
            "id": m.id,
            "locators": m.locators,
            "connected": own || linked.contains(&m.id),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_supervisor::{ChildStatus, Strategy};

    #[test]
    fn debug_names_become_snake_case() {
        assert_eq!(snake(Strategy::RestForOne), "rest_for_one");
        assert_eq!(snake(ChildStatus::RestartPending), "restart_pending");
        assert_eq!(hex(&[0, 0xab, 7]), "00ab07");
    }
}
