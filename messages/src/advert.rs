//! What a node offers the cluster: its profile (what it can host) and its
//! capacity (how much more it can take). A node advertises both to its
//! members over the cluster, and, with discovery on, to the LAN in an
//! [`Announcement`]. An advert is information for placement, never a grant:
//! the cookie (and TLS) still gate every join, and the receiving node's own
//! factory still checks every spawn.

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_CAPABILITIES, MAX_NAME_BYTES, is_name};
use crate::member::MemberInfo;

/// Tenants, kinds or squads one advert lists at most.
pub const MAX_ADVERT_NAMES: usize = 64;

/// What a node can host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeProfile {
    pub tenants: Vec<String>,
    /// Agent kinds its factory starts (e.g. `grid`).
    pub kinds: Vec<String>,
    pub squads: Vec<String>,
    /// What agents here may have (e.g. `move`, `carry`): a spawn asking for
    /// another is refused.
    pub capabilities: Vec<String>,
}

/// How much more a node can take, as it measured itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCapacity {
    pub max_agents: u32,
    pub running_agents: u32,
    /// Resident memory of the node's process.
    pub rss_mb: u64,
    /// `resources.max_memory_mb`, when set.
    pub memory_budget_mb: Option<u64>,
    /// The budget less RSS when there is a budget; else what the host has available.
    pub free_memory_mb: u64,
    /// CPU used by the process since the last sample; 100 = one core.
    pub cpu_percent: u32,
    /// False while the node refuses new agents (its memory budget is reached).
    pub accepting: bool,
}

impl NodeCapacity {
    /// Agents it may still start.
    pub fn free_slots(&self) -> u32 {
        self.max_agents.saturating_sub(self.running_agents)
    }
}

/// Locators one mesh identity lists at most.
pub const MAX_MESH_LOCATORS: usize = 16;

/// A node's mesh session as others can reach it: its zenoh id and the
/// endpoints it listens on. Members link to it by this.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshIdentity {
    pub id: String,
    pub locators: Vec<String>,
}

/// A node's profile and capacity together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAdvert {
    pub profile: NodeProfile,
    pub capacity: NodeCapacity,
    /// Its mesh session, once open (none on an in-process mesh).
    pub mesh: Option<MeshIdentity>,
    /// The cloud tier's lease, while this cloud holds it (`[cloud] ha`).
    pub leads: Option<Lead>,
}

/// Who leads the cloud tier, as one cloud sees it (`[cloud] ha`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leadership {
    /// The holder's name, when the lease is held.
    pub leader: Option<String>,
    /// The fencing token of that holder's lease.
    pub token: u64,
    /// True when this cloud holds the lease.
    pub mine: bool,
}

/// A cloud's hold on the cloud tier's lease (DESIGN §18): the fencing
/// token its decisions carry, and since when it leads (wall clock, ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    pub token: u64,
    pub since_ms: u64,
}

impl NodeAdvert {
    /// Why the advert is out of bounds, if it is (a peer's adverts are checked
    /// before use).
    pub fn bounds_violation(&self) -> Option<String> {
        let p = &self.profile;
        for (what, names, max) in [
            ("tenants", &p.tenants, MAX_ADVERT_NAMES),
            ("kinds", &p.kinds, MAX_ADVERT_NAMES),
            ("squads", &p.squads, MAX_ADVERT_NAMES),
            ("capabilities", &p.capabilities, MAX_CAPABILITIES),
        ] {
            if names.len() > max {
                return Some(format!("{} {what}: at most {max}", names.len()));
            }
            if let Some(bad) = names.iter().find(|n| !is_name(n, MAX_NAME_BYTES)) {
                return Some(format!("{what}: {bad:?} is not a name"));
            }
        }
        self.mesh.as_ref().and_then(MeshIdentity::bounds_violation)
    }
}

impl MeshIdentity {
    fn bounds_violation(&self) -> Option<String> {
        if self.id.is_empty()
            || self.id.len() > 32
            || !self.id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Some(format!("mesh id {:?} is not a zenoh id", self.id));
        }
        if self.locators.len() > MAX_MESH_LOCATORS {
            return Some(format!(
                "{} mesh locators: at most {MAX_MESH_LOCATORS}",
                self.locators.len()
            ));
        }
        let bad = |l: &String| l.len() > 2 * MAX_NAME_BYTES || l.contains(char::is_whitespace);
        let out_of_bounds = self.locators.iter().find(|l| bad(l));
        out_of_bounds.map(|l| format!("mesh locator {l:?} is out of bounds"))
    }
}

/// One datagram of LAN discovery: who the sender is, where its cluster
/// listener is, and what it offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub member: MemberInfo,
    pub advert: NodeAdvert,
}

impl Announcement {
    pub fn bounds_violation(&self) -> Option<String> {
        if !is_name(&self.member.name, MAX_NAME_BYTES) {
            return Some(format!("{:?} is not a node name", self.member.name));
        }
        if self.member.cluster_addr.len() > 2 * MAX_NAME_BYTES {
            return Some("cluster address too long".into());
        }
        self.advert.bounds_violation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn announcement() -> Announcement {
        Announcement {
            member: MemberInfo {
                name: "edge-1".into(),
                role: Role::Edge,
                cluster_addr: "10.0.0.2:4697".into(),
                incarnation: 7,
            },
            advert: NodeAdvert {
                profile: NodeProfile {
                    tenants: vec!["default".into()],
                    kinds: vec!["grid".into()],
                    squads: vec!["default".into()],
                    capabilities: vec!["move".into(), "carry".into()],
                },
                capacity: NodeCapacity {
                    max_agents: 10,
                    running_agents: 4,
                    ..NodeCapacity::default()
                },
                mesh: Some(MeshIdentity {
                    id: "a1b2c3d4e5f60718".into(),
                    locators: vec!["tcp/10.0.0.2:5697".into()],
                }),
                leads: None,
            },
        }
    }

    #[test]
    fn an_announcement_in_bounds_passes_and_free_slots_count_down() {
        let a = announcement();
        assert_eq!(a.bounds_violation(), None);
        assert_eq!(a.advert.capacity.free_slots(), 6);
    }

    #[test]
    fn bad_names_and_long_lists_are_named() {
        let mut a = announcement();
        a.advert.profile.capabilities.push("no spaces".into());
        assert!(a.bounds_violation().unwrap().contains("capabilities"));
        let mut b = announcement();
        b.advert.profile.tenants = vec!["t".into(); MAX_ADVERT_NAMES + 1];
        assert!(b.bounds_violation().unwrap().contains("tenants"));
        let mut c = announcement();
        c.member.name = "../x".into();
        assert!(c.bounds_violation().is_some());
        let mut d = announcement();
        d.advert.mesh.as_mut().unwrap().id = "not hex".into();
        assert!(d.bounds_violation().unwrap().contains("mesh id"));
        let mut e = announcement();
        e.advert.mesh.as_mut().unwrap().locators = vec!["tcp/x:1".into(); MAX_MESH_LOCATORS + 1];
        assert!(e.bounds_violation().unwrap().contains("mesh locators"));
    }
}
