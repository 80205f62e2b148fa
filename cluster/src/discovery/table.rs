//! The nodes heard on the LAN, for the gateway (to dial) and the console
//! (`nodes` shows those announced but not members).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use swarmd_messages::MemberInfo;
use swarmd_messages::advert::Announcement;

/// Nodes one table holds at most; an announcement of a further name is
/// dropped (and counted) until one expires.
pub const MAX_DISCOVERED: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub announcement: Announcement,
    pub at: SystemTime,
}

#[derive(Clone, Default)]
pub struct DiscoveredNodes(Arc<Mutex<BTreeMap<String, Heard>>>);

/// What one announcement changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// A name not heard before, or at a new address or incarnation.
    New,
    Refreshed,
    /// The table is full.
    Dropped,
}

impl DiscoveredNodes {
    pub fn heard(&self, announcement: Announcement, at: SystemTime) -> Update {
        let mut table = self.lock();
        let name = announcement.member.name.clone();
        let update = match table.get(&name) {
            Some(h) if h.announcement.member == announcement.member => Update::Refreshed,
            Some(_) => Update::New,
            None if table.len() >= MAX_DISCOVERED => return Update::Dropped,
            None => Update::New,
        };
        table.insert(name, Heard { announcement, at });
        update
    }

    /// Forgets nodes not heard within `expire_after` of `now`; returns them.
    pub fn expire(&self, now: SystemTime, expire_after: Duration) -> Vec<MemberInfo> {
        let mut gone = Vec::new();
        self.lock().retain(|_, h| {
            let fresh = now.duration_since(h.at).unwrap_or_default() < expire_after;
            if !fresh {
                gone.push(h.announcement.member.clone());
            }
            fresh
        });
        gone
    }

    pub fn all(&self) -> Vec<Heard> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Heard>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::Role;
    use swarmd_messages::advert::NodeAdvert;

    fn announcement(name: &str, addr: &str) -> Announcement {
        Announcement {
            member: MemberInfo {
                name: name.into(),
                role: Role::Edge,
                cluster_addr: addr.into(),
                incarnation: 1,
            },
            advert: NodeAdvert::default(),
        }
    }

    #[test]
    fn a_node_is_new_once_then_refreshed_and_new_again_at_another_address() {
        let table = DiscoveredNodes::default();
        let t0 = SystemTime::UNIX_EPOCH;
        assert_eq!(
            table.heard(announcement("a", "10.0.0.1:1"), t0),
            Update::New
        );
        assert_eq!(
            table.heard(announcement("a", "10.0.0.1:1"), t0),
            Update::Refreshed
        );
        assert_eq!(
            table.heard(announcement("a", "10.0.0.9:1"), t0),
            Update::New
        );
        assert_eq!(table.all().len(), 1);
    }

    #[test]
    fn unheard_nodes_expire() {
        let table = DiscoveredNodes::default();
        let t0 = SystemTime::UNIX_EPOCH;
        table.heard(announcement("old", "10.0.0.1:1"), t0);
        let later = t0 + Duration::from_secs(4);
        table.heard(announcement("new", "10.0.0.2:1"), later);
        let gone = table.expire(later + Duration::from_secs(2), Duration::from_secs(5));
        let names: Vec<_> = gone.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["old"]);
        assert_eq!(table.all().len(), 1);
    }
}
