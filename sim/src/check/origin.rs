//! Nothing at the hub that its node did not write: every event the hub holds
//! under a node's name is on that node's own disk (or on a disk it had before
//! it was wiped), unchanged. A forged or corrupted event fails this.

use std::collections::BTreeMap;

use swarmd_messages::Event;

use super::Forwarded;

/// Returns the violations and how many hub events were checked. `nodes`
/// holds each node's disks (the current one first, then wiped ones).
pub fn hub_holds_only_what_nodes_wrote(nodes: &[Forwarded]) -> (Vec<String>, u64) {
    let mut written: BTreeMap<(&str, u64), &Event> = BTreeMap::new();
    for disk in nodes {
        for e in &disk.own {
            written.insert((e.id.node.as_str(), e.id.seq), e);
        }
    }
    let mut wrong = Vec::new();
    let mut checked = 0;
    let mut seen = std::collections::BTreeSet::new();
    for disk in nodes {
        for e in &disk.at_hub {
            if !seen.insert((e.id.node.as_str(), e.id.seq)) {
                continue; // several disks of one node share its hub copies
            }
            checked += 1;
            match written.get(&(e.id.node.as_str(), e.id.seq)) {
                None => wrong.push(format!(
                    "{}/{} is at the hub but {} never wrote it (tenant {:?})",
                    e.id.node, e.id.seq, e.id.node, e.tenant
                )),
                Some(own) if *own != e => wrong.push(format!(
                    "{}/{} at the hub differs from its node's own",
                    e.id.node, e.id.seq
                )),
                Some(_) => {}
            }
        }
    }
    (wrong, checked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::{EventId, EventKind, TraceContext};

    fn signal(seq: u64, tenant: &str) -> Event {
        Event {
            id: EventId {
                node: "e".into(),
                seq,
            },
            tenant: tenant.into(),
            agent: None,
            trace: TraceContext::default(),
            time_us: seq,
            kind: EventKind::Signal {
                status: "s".into(),
                detail: String::new(),
            },
        }
    }

    fn disk(own: Vec<Event>, at_hub: Vec<Event>) -> Forwarded {
        Forwarded {
            node: "e".into(),
            own,
            first_seq: 0,
            acked_below: 0,
            at_hub,
        }
    }

    #[test]
    fn a_forged_event_at_the_hub_is_caught() {
        let own = vec![signal(1, "t"), signal(2, "t")];
        let ok = disk(own.clone(), own.clone());
        assert_eq!(hub_holds_only_what_nodes_wrote(&[ok]), (vec![], 2));
        let forged = disk(own.clone(), vec![signal(1, "t"), signal(9, "rogue")]);
        let (wrong, checked) = hub_holds_only_what_nodes_wrote(&[forged]);
        assert_eq!(checked, 2);
        assert_eq!(
            wrong,
            [r#"e/9 is at the hub but e never wrote it (tenant "rogue")"#]
        );
        let changed = disk(own, vec![signal(2, "other")]);
        assert_eq!(hub_holds_only_what_nodes_wrote(&[changed]).0.len(), 1);
    }

    #[test]
    fn events_of_a_wiped_disk_count_as_written() {
        let old = disk(vec![signal(1, "t")], vec![signal(1, "t"), signal(5, "t")]);
        let new = disk(vec![signal(5, "t")], vec![signal(1, "t"), signal(5, "t")]);
        assert_eq!(hub_holds_only_what_nodes_wrote(&[new, old]), (vec![], 2));
    }
}
