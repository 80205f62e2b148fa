//! The membership view and its failure detector, as a plain state machine:
//! the gateway feeds it what it hears and the time, and acts on the changes.
//!
//! A member is `up` while it is heard from, `suspect` after `suspect_after` of
//! silence (or at once when its session drops), and `down` after `down_after`.
//! A new incarnation of a member (it restarted) is reported as `down` for the
//! old one, then `up`, so watchers of the old incarnation learn it is gone.

use std::collections::BTreeMap;
use std::time::Duration;

use swarmd_messages::MemberInfo;
pub use swarmd_messages::MemberState;
use tokio::time::Instant;

/// One transition of one member, as published to subscribers and the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChange {
    pub node: String,
    pub incarnation: u64,
    pub from: Option<MemberState>,
    pub to: MemberState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub info: MemberInfo,
    pub state: MemberState,
    last_heard: Instant,
}

pub struct MembershipView {
    me: MemberInfo,
    members: BTreeMap<String, Member>,
    suspect_after: Duration,
    down_after: Duration,
}

impl MembershipView {
    pub fn new(me: MemberInfo, suspect_after: Duration, down_after: Duration) -> Self {
        assert!(suspect_after < down_after, "suspect must come before down");
        Self {
            me,
            members: BTreeMap::new(),
            suspect_after,
            down_after,
        }
    }

    pub fn me(&self) -> &MemberInfo {
        &self.me
    }

    pub fn get(&self, node: &str) -> Option<&Member> {
        self.members.get(node)
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// This node and every member it considers up: what it gossips.
    pub fn up_infos(&self) -> Vec<MemberInfo> {
        let up = self.members.values().filter(|m| m.state == MemberState::Up);
        std::iter::once(self.me.clone())
            .chain(up.map(|m| m.info.clone()))
            .collect()
    }

    pub fn is_up(&self, node: &str) -> bool {
        self.members
            .get(node)
            .is_some_and(|m| m.state == MemberState::Up)
    }

    /// A member introduced itself on a session.
    pub fn hello(&mut self, info: MemberInfo, now: Instant) -> Vec<MemberChange> {
        if info.name == self.me.name {
            return Vec::new();
        }
        let mut changes = Vec::new();
        let name = info.name.clone();
        match self.members.get_mut(&name) {
            Some(member) if member.info.incarnation != info.incarnation => {
                if member.state != MemberState::Down {
                    changes.push(transition(member, MemberState::Down));
                }
                member.info = info;
                member.last_heard = now;
                changes.push(transition(member, MemberState::Up));
            }
            Some(member) => {
                member.last_heard = now;
                if member.state != MemberState::Up {
                    changes.push(transition(member, MemberState::Up));
                }
            }
            None => {
                let member = Member {
                    info,
                    state: MemberState::Up,
                    last_heard: now,
                };
                changes.push(MemberChange {
                    node: name.clone(),
                    incarnation: member.info.incarnation,
                    from: None,
                    to: MemberState::Up,
                });
                self.members.insert(name, member);
            }
        }
        changes
    }

    /// Any frame from `node` in its `incarnation`. Frames from an incarnation
    /// that has not said hello yet prove nothing and are ignored.
    pub fn heard(&mut self, node: &str, incarnation: u64, now: Instant) -> Vec<MemberChange> {
        let Some(member) = self.members.get_mut(node) else {
            return Vec::new();
        };
        if member.info.incarnation != incarnation {
            return Vec::new();
        }
        member.last_heard = now;
        if member.state == MemberState::Suspect {
            return vec![transition(member, MemberState::Up)];
        }
        Vec::new()
    }

    /// The session to `node` closed: suspect it now rather than after the timeout.
    pub fn disconnected(&mut self, node: &str) -> Vec<MemberChange> {
        match self.members.get_mut(node) {
            Some(member) if member.state == MemberState::Up => {
                vec![transition(member, MemberState::Suspect)]
            }
            _ => Vec::new(),
        }
    }

    /// Applies the timeouts as of `now`.
    pub fn tick(&mut self, now: Instant) -> Vec<MemberChange> {
        let mut changes = Vec::new();
        for member in self.members.values_mut() {
            let silent = now.saturating_duration_since(member.last_heard);
            let due = if silent >= self.down_after {
                MemberState::Down
            } else if silent >= self.suspect_after {
                MemberState::Suspect
            } else {
                continue;
            };
            let worse = matches!(
                (member.state, due),
                (MemberState::Up, _) | (MemberState::Suspect, MemberState::Down)
            );
            if worse {
                changes.push(transition(member, due));
            }
        }
        changes
    }

    /// Members in `gossip` this node has never heard of, or only as down with
    /// an older incarnation: candidates to connect to.
    pub fn unknown<'a>(&self, gossip: &'a [MemberInfo]) -> Vec<&'a MemberInfo> {
        gossip
            .iter()
            .filter(|info| info.name != self.me.name)
            .filter(|info| match self.members.get(&info.name) {
                None => true,
                Some(m) => m.state == MemberState::Down && m.info.incarnation != info.incarnation,
            })
            .collect()
    }
}

fn transition(member: &mut Member, to: MemberState) -> MemberChange {
    let from = member.state;
    member.state = to;
    MemberChange {
        node: member.info.name.clone(),
        incarnation: member.info.incarnation,
        from: Some(from),
        to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, incarnation: u64) -> MemberInfo {
        MemberInfo {
            name: name.into(),
            role: swarmd_messages::Role::Edge,
            cluster_addr: "127.0.0.1:1".into(),
            incarnation,
        }
    }

    fn view() -> MembershipView {
        MembershipView::new(
            info("me", 1),
            Duration::from_millis(100),
            Duration::from_millis(300),
        )
    }

    fn states(changes: &[MemberChange]) -> Vec<MemberState> {
        changes.iter().map(|c| c.to).collect()
    }

    #[test]
    fn silence_moves_up_to_suspect_to_down() {
        let t0 = Instant::now();
        let mut v = view();
        assert_eq!(states(&v.hello(info("a", 7), t0)), [MemberState::Up]);
        assert!(v.tick(t0 + Duration::from_millis(99)).is_empty());
        let suspect = v.tick(t0 + Duration::from_millis(100));
        assert_eq!(states(&suspect), [MemberState::Suspect]);
        assert!(v.tick(t0 + Duration::from_millis(200)).is_empty());
        let down = v.tick(t0 + Duration::from_millis(300));
        assert_eq!(states(&down), [MemberState::Down]);
        assert!(
            v.tick(t0 + Duration::from_secs(10)).is_empty(),
            "down stays down"
        );
        assert_eq!(v.up_infos().len(), 1, "only me is gossiped");
    }

    #[test]
    fn a_heartbeat_clears_suspicion_but_not_down() {
        let t0 = Instant::now();
        let mut v = view();
        v.hello(info("a", 7), t0);
        assert_eq!(states(&v.disconnected("a")), [MemberState::Suspect]);
        let back = v.heard("a", 7, t0 + Duration::from_millis(50));
        assert_eq!(states(&back), [MemberState::Up]);
        v.tick(t0 + Duration::from_secs(1));
        assert!(v.heard("a", 7, t0 + Duration::from_secs(2)).is_empty());
        assert_eq!(v.get("a").map(|m| m.state), Some(MemberState::Down));
    }

    #[test]
    fn a_new_incarnation_reports_the_old_one_down_first() {
        let t0 = Instant::now();
        let mut v = view();
        v.hello(info("a", 7), t0);
        assert!(v.heard("a", 8, t0).is_empty(), "no hello from 8 yet");
        let restarted = v.hello(info("a", 8), t0);
        assert_eq!(states(&restarted), [MemberState::Down, MemberState::Up]);
        assert_eq!(restarted[0].incarnation, 7);
        assert_eq!(restarted[1].incarnation, 8);
    }

    #[test]
    fn gossip_names_only_members_worth_dialing() {
        let t0 = Instant::now();
        let mut v = view();
        v.hello(info("a", 7), t0);
        let gossip = [info("me", 1), info("a", 7), info("b", 3)];
        let unknown: Vec<&str> = v.unknown(&gossip).iter().map(|i| i.name.as_str()).collect();
        assert_eq!(unknown, ["b"]);
    }
}
