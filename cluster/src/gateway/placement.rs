//! Where an agent may run, from what nodes advertise: a node hosts a spec
//! only if it runs edges, is up and reachable, serves the tenant, has the
//! kind, offers every capability asked for, is not at its memory budget and
//! has a free slot. Of those, the one with most free slots wins (then most
//! free memory, then the smaller name). The chosen node's factory checks
//! again when the spawn arrives: an advert is a hint, never a grant.

use swarmd_messages::SpawnSpec;
use swarmd_messages::advert::NodeAdvert;

/// A node as placement sees it.
pub struct Candidate<'a> {
    pub name: &'a str,
    pub runs_edge: bool,
    /// Up, and this node can reach it (or it is this node).
    pub reachable: bool,
    pub advert: Option<&'a NodeAdvert>,
}

impl<'a> Candidate<'a> {
    /// A member of this node's view, as its advert and state make it.
    pub fn member(m: &'a super::MemberStatus) -> Self {
        Self {
            name: &m.info.name,
            runs_edge: m.info.role.runs_edge(),
            reachable: m.state == super::MemberState::Up && m.connected,
            advert: m.advert.as_ref(),
        }
    }
}

/// Why `candidate` cannot host `spec`, or `None` when it can.
pub fn unfit(candidate: &Candidate, spec: &SpawnSpec) -> Option<String> {
    if !candidate.runs_edge {
        return Some("runs no agents (cloud role)".into());
    }
    if !candidate.reachable {
        return Some("not reachable".into());
    }
    let Some(advert) = candidate.advert else {
        return Some("has not advertised what it hosts yet".into());
    };
    let (profile, capacity) = (&advert.profile, &advert.capacity);
    if !profile.tenants.contains(&spec.tenant) {
        return Some(format!("does not serve tenant {:?}", spec.tenant));
    }
    if !profile.kinds.contains(&spec.kind) {
        return Some(format!("has no agent kind {:?}", spec.kind));
    }
    if let Some(c) = spec
        .capabilities
        .iter()
        .find(|c| !profile.capabilities.contains(c))
    {
        return Some(format!("lacks capability {c:?}"));
    }
    if !capacity.accepting {
        let budget = capacity.memory_budget_mb.unwrap_or_default();
        return Some(format!(
            "is at its memory budget ({} of {budget} MB)",
            capacity.rss_mb
        ));
    }
    if capacity.free_slots() == 0 {
        return Some(format!(
            "runs its maximum of {} agents",
            capacity.max_agents
        ));
    }
    None
}

/// The best node for `spec`, or why none can host it (each node's reason).
pub fn choose(candidates: &[Candidate], spec: &SpawnSpec) -> Result<String, String> {
    let mut reasons = Vec::new();
    let mut best: Option<(&Candidate, &NodeAdvert)> = None;
    for candidate in candidates {
        if let Some(why) = unfit(candidate, spec) {
            reasons.push(format!("{} {why}", candidate.name));
            continue;
        }
        let advert = candidate.advert.expect("unfit checks the advert");
        if best.is_none_or(|(b, a)| better((candidate, advert), (b, a))) {
            best = Some((candidate, advert));
        }
    }
    match best {
        Some((candidate, _)) => Ok(candidate.name.to_string()),
        None if reasons.is_empty() => Err("no node is known".into()),
        None => Err(format!(
            "no node can host agent {:?}: {}",
            spec.id,
            reasons.join("; ")
        )),
    }
}

fn better(a: (&Candidate, &NodeAdvert), b: (&Candidate, &NodeAdvert)) -> bool {
    let key = |(c, ad): (&Candidate, &NodeAdvert)| {
        (
            ad.capacity.free_slots(),
            ad.capacity.free_memory_mb,
            std::cmp::Reverse(c.name.to_string()),
        )
    };
    key(a) > key(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmd_messages::advert::{NodeCapacity, NodeProfile};

    fn advert(capabilities: &[&str], running: u32) -> NodeAdvert {
        NodeAdvert {
            profile: NodeProfile {
                tenants: vec!["t".into()],
                kinds: vec!["grid".into()],
                squads: vec!["default".into()],
                capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
            },
            capacity: NodeCapacity {
                max_agents: 10,
                running_agents: running,
                accepting: true,
                ..NodeCapacity::default()
            },
            mesh: None,
            leads: None,
        }
    }

    fn candidate<'a>(name: &'a str, advert: &'a NodeAdvert) -> Candidate<'a> {
        Candidate {
            name,
            runs_edge: true,
            reachable: true,
            advert: Some(advert),
        }
    }

    fn spec(capabilities: &[&str]) -> SpawnSpec {
        let mut spec = SpawnSpec::new("a1", "grid", "t");
        spec.capabilities = capabilities.iter().map(|c| c.to_string()).collect();
        spec
    }

    #[test]
    fn never_a_node_without_the_capability_even_when_it_is_emptier() {
        let (walker, flyer) = (advert(&["move"], 0), advert(&["move", "fly"], 9));
        let nodes = [candidate("a-walker", &walker), candidate("b-flyer", &flyer)];
        assert_eq!(choose(&nodes, &spec(&["fly"])), Ok("b-flyer".into()));
        assert_eq!(choose(&nodes, &spec(&["move"])), Ok("a-walker".into()));
    }

    #[test]
    fn no_node_fits_and_the_refusal_names_each_reason() {
        let walker = advert(&["move"], 0);
        let mut full = advert(&["move", "fly"], 10);
        full.capacity.max_agents = 10;
        let mut budget = advert(&["fly"], 0);
        budget.capacity.accepting = false;
        budget.capacity.rss_mb = 130;
        budget.capacity.memory_budget_mb = Some(128);
        let cloud = advert(&["fly"], 0);
        let mut nodes = vec![
            candidate("walker", &walker),
            candidate("full", &full),
            candidate("budget", &budget),
            candidate("cloud", &cloud),
        ];
        nodes[3].runs_edge = false;
        let why = choose(&nodes, &spec(&["fly"])).unwrap_err();
        for part in [
            "walker lacks capability \"fly\"",
            "full runs its maximum of 10 agents",
            "budget is at its memory budget (130 of 128 MB)",
            "cloud runs no agents",
        ] {
            assert!(why.contains(part), "{why}");
        }
    }

    #[test]
    fn the_node_with_most_free_slots_wins_then_the_smaller_name() {
        let (busy, idle, idle2) = (advert(&[], 5), advert(&[], 1), advert(&[], 1));
        let nodes = [
            candidate("a", &busy),
            candidate("c", &idle),
            candidate("b", &idle2),
        ];
        assert_eq!(choose(&nodes, &spec(&[])), Ok("b".into()));
    }

    #[test]
    fn a_node_without_an_advert_or_out_of_reach_is_not_chosen() {
        let a = advert(&[], 0);
        let mut nodes = [candidate("gone", &a), candidate("silent", &a)];
        nodes[0].reachable = false;
        nodes[1].advert = None;
        assert!(choose(&nodes, &spec(&[])).is_err());
    }
}
