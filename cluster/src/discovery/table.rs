//! The nodes heard on the LAN, for the gateway (to dial) and the console
//! (`nodes` shows those announced but not members).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use swarmd_messages::MemberInfo;
use swarmd_messages::advert::Announcement;

/// Nodes one table holds at most; an announcement of a further name is
/// dropped (and counted) until one expires.
pub const MAX_DISCOVERED: usize = 1024;
/// Names one source host holds in the table at most. A host announcing
/// rotating names gets no further until one of its names expires: at most
/// this many new names per source per expiry window, and one host cannot
/// fill the table against the genuine nodes heard after it.
pub const MAX_NAMES_PER_SOURCE: usize = 8;

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
    /// The table is full, or holds its source's share.
    Dropped,
}

impl DiscoveredNodes {
    /// `announcement` heard from `source` (the address it names is on
    /// that host: discovery refuses any other).
    pub fn heard(&self, announcement: Announcement, source: IpAddr, at: SystemTime) -> Update {
        let mut table = self.lock();
        let name = announcement.member.name.clone();
        let update = match table.get(&name) {
            Some(h) if h.announcement.member == announcement.member => Update::Refreshed,
            Some(_) => Update::New,
            None if table.len() >= MAX_DISCOVERED => return Update::Dropped,
            None if names_from(&table, source) >= MAX_NAMES_PER_SOURCE => return Update::Dropped,
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

fn names_from(table: &BTreeMap<String, Heard>, source: IpAddr) -> usize {
    let from_source = |h: &&Heard| {
        let addr = h.announcement.member.cluster_addr.parse::<SocketAddr>();
        addr.is_ok_and(|a| a.ip() == source)
    };
    table.values().filter(from_source).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::Role;
    use swarmd_messages::advert::NodeAdvert;

    fn ip(addr: &str) -> IpAddr {
        addr.parse::<SocketAddr>().unwrap().ip()
    }

    fn heard(table: &DiscoveredNodes, name: &str, addr: &str, at: SystemTime) -> Update {
        table.heard(announcement(name, addr), ip(addr), at)
    }

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
        assert_eq!(heard(&table, "a", "10.0.0.1:1", t0), Update::New);
        assert_eq!(heard(&table, "a", "10.0.0.1:1", t0), Update::Refreshed);
        assert_eq!(heard(&table, "a", "10.0.0.9:1", t0), Update::New);
        assert_eq!(table.all().len(), 1);
    }

    #[test]
    fn unheard_nodes_expire() {
        let table = DiscoveredNodes::default();
        let t0 = SystemTime::UNIX_EPOCH;
        heard(&table, "old", "10.0.0.1:1", t0);
        let later = t0 + Duration::from_secs(4);
        heard(&table, "new", "10.0.0.2:1", later);
        let gone = table.expire(later + Duration::from_secs(2), Duration::from_secs(5));
        let names: Vec<_> = gone.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["old"]);
        assert_eq!(table.all().len(), 1);
    }

    #[test]
    fn one_source_holds_a_bounded_share_until_its_names_expire() {
        let table = DiscoveredNodes::default();
        let t0 = SystemTime::UNIX_EPOCH;
        for i in 0..MAX_NAMES_PER_SOURCE {
            let addr = format!("10.0.0.1:{}", 1000 + i);
            assert_eq!(heard(&table, &format!("f{i}"), &addr, t0), Update::New);
        }
        assert_eq!(heard(&table, "one-more", "10.0.0.1:9", t0), Update::Dropped);
        assert_eq!(heard(&table, "f0", "10.0.0.1:1000", t0), Update::Refreshed);
        assert_eq!(heard(&table, "genuine", "10.0.0.2:1", t0), Update::New);
        table.expire(t0 + Duration::from_secs(10), Duration::from_secs(5));
        assert_eq!(heard(&table, "one-more", "10.0.0.1:9", t0), Update::New);
    }
}
