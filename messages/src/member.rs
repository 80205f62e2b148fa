//! Who a node is to its cluster: its name, role, address and incarnation.

use serde::{Deserialize, Serialize};

/// What a node does: plan and host the world (`cloud`), host agents
/// (`edge`), or both (the single-node default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Cloud,
    Edge,
    Both,
}

impl Role {
    pub fn runs_cloud(self) -> bool {
        matches!(self, Role::Cloud | Role::Both)
    }

    pub fn runs_edge(self) -> bool {
        matches!(self, Role::Edge | Role::Both)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Cloud => "cloud",
            Role::Edge => "edge",
            Role::Both => "both",
        })
    }
}

/// What a node knows about a member, as gossiped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub name: String,
    pub role: Role,
    /// Where its cluster listener accepts connections, as HOST:PORT.
    pub cluster_addr: String,
    pub incarnation: u64,
}
