//! The zenoh configuration of a node's mesh session: its endpoints, mutual
//! TLS when `[mesh.tls]` is set, and access control that lets the session
//! carry only `swarmd/<tenant>/**` of the tenants the node serves, in and
//! out, whoever the peer is (deny beats allow beats the default, deny). The
//! agent gateway's session: a tenant's external agents (user `agent.TENANT`)
//! to that tenant's agent protocol, `swarmd/<tenant>/agent/**`, only.

use serde_json::{Value, json};
use swarmd_actors::ctx::MeshError;
use swarmd_config::TlsSection;

use super::plan::{AGENT_USER_PREFIX, GatewayPlan, MESH_USER, MeshPlan};

/// Every message kind zenoh's access control knows: all are allowed on the
/// node's tenants' keys, none elsewhere.
const MESSAGES: [&str; 9] = [
    "put",
    "delete",
    "declare_subscriber",
    "query",
    "declare_queryable",
    "reply",
    "liveliness_token",
    "declare_liveliness_subscriber",
    "liveliness_query",
];

pub fn zenoh_config(plan: &MeshPlan) -> Result<zenoh::Config, MeshError> {
    let section = &plan.section;
    let mut settings: Vec<(&str, Value)> = vec![
        ("mode", json!("peer")),
        (
            "scouting/multicast/enabled",
            json!(section.multicast_scouting),
        ),
        // Gossip (zenoh's default for peers, stated here because the mesh
        // depends on it): a peer tells its neighbours whom it is linked to,
        // and they link directly, so edges joined through the same seed
        // reach each other without it.
        ("scouting/gossip/enabled", json!(true)),
        ("listen/endpoints", json!(plan.listen)),
        ("connect/endpoints", json!(plan.connect)),
        ("access_control", access_control(&plan.tenants)),
    ];
    if let Some(auth) = &plan.auth {
        settings.extend([
            ("transport/auth/usrpwd/user", json!(MESH_USER)),
            ("transport/auth/usrpwd/password", json!(auth.password)),
            (
                "transport/auth/usrpwd/dictionary_file",
                json!(auth.users_file.display().to_string()),
            ),
        ]);
    }
    if let Some(tls) = &section.tls {
        settings.extend(mutual_tls(tls)?);
    }
    configured(settings)
}

fn configured(settings: Vec<(&str, Value)>) -> Result<zenoh::Config, MeshError> {
    let mut config = zenoh::Config::default();
    for (key, value) in settings {
        config
            .insert_json5(key, &value.to_string())
            .map_err(|e| MeshError::Transport(format!("mesh config {key}: {e}")))?;
    }
    Ok(config)
}

fn access_control(tenants: &[String]) -> Value {
    let keys: Vec<String> = tenants.iter().map(|t| format!("swarmd/{t}/**")).collect();
    json!({
        "enabled": true,
        "default_permission": "deny",
        "rules": [{
            "id": "served-tenants",
            "messages": MESSAGES,
            "flows": ["ingress", "egress"],
            "permission": "allow",
            "key_exprs": keys,
        }],
        "subjects": [{"id": "every-peer"}],
        "policies": [{"rules": ["served-tenants"], "subjects": ["every-peer"]}],
    })
}

/// The agent gateway's session: it listens only, links to no one, and
/// admits only the tenants' agent credentials, each to its tenant's agent
/// protocol (`swarmd/<tenant>/agent/**`); every link it has is one it
/// accepted, so every link has a user name to match.
pub fn gateway_config(plan: &GatewayPlan) -> Result<zenoh::Config, MeshError> {
    let mut rules = Vec::new();
    let mut subjects = Vec::new();
    let mut policies = Vec::new();
    for tenant in &plan.tenants {
        let id = format!("agents-of-{tenant}");
        rules.push(json!({
            "id": id,
            "messages": MESSAGES,
            "flows": ["ingress", "egress"],
            "permission": "allow",
            "key_exprs": [format!("swarmd/{tenant}/agent/**")],
        }));
        let user = format!("{AGENT_USER_PREFIX}{tenant}");
        subjects.push(json!({"id": id, "usernames": [user]}));
        policies.push(json!({"rules": [id], "subjects": [id]}));
    }
    let acl = json!({
        "enabled": true,
        "default_permission": "deny",
        "rules": rules,
        "subjects": subjects,
        "policies": policies,
    });
    let mut settings: Vec<(&str, Value)> = vec![
        ("mode", json!("peer")),
        ("scouting/multicast/enabled", json!(false)),
        ("scouting/gossip/enabled", json!(false)),
        ("listen/endpoints", json!(plan.listen)),
        ("access_control", acl),
        (
            "transport/auth/usrpwd/dictionary_file",
            json!(plan.users_file.display().to_string()),
        ),
    ];
    if let Some(tls) = &plan.tls {
        settings.extend(mutual_tls(tls)?);
    }
    configured(settings)
}

/// Mutual TLS on every link: a peer without a certificate from `tls.ca`
/// cannot connect.
fn mutual_tls(tls: &TlsSection) -> Result<Vec<(&'static str, Value)>, MeshError> {
    crate::transport::refuse_exposed_key("mesh.tls.key", &tls.key)
        .map_err(|e| MeshError::Transport(e.to_string()))?;
    let path = |p: &std::path::Path| json!(p.display().to_string());
    Ok(vec![
        ("transport/link/protocols", json!(["tls"])),
        ("transport/link/tls/enable_mtls", json!(true)),
        ("transport/link/tls/root_ca_certificate", path(&tls.ca)),
        ("transport/link/tls/listen_certificate", path(&tls.cert)),
        ("transport/link/tls/listen_private_key", path(&tls.key)),
        ("transport/link/tls/connect_certificate", path(&tls.cert)),
        ("transport/link/tls/connect_private_key", path(&tls.key)),
    ])
}
