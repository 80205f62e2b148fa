//! What the checkers read once every node has lost power: each node's
//! ledger, the hub's copies, the forwarders' cursors, the disks of wiped
//! nodes, and the driver's own acked appends. A read error is a violation,
//! never an empty log or a zero.

use std::collections::BTreeMap;
use std::time::Duration;

use swarmd_messages::{Event, EventKind, PlacementChange, stable_hash};
use swarmd_storage::ledger::{LedgerReader, persisted_cursor, persisted_first_seq};
use swarmd_storage::{Storage, StorageError};
use swarmd_supervisor::Intensity;
use swarmd_warehouse::agent::{INTENSITY_PERIOD, MAX_RESTARTS};

use super::probe::{PROBE_TENANT, Probe, ProbeAck};
use crate::check::{self, Forwarded, Limit, Tally};
use crate::cluster::SimCluster;
use crate::trace::Trace;

/// Events younger than this (on their node's clock) may still be on their way.
const FORWARD_GRACE_US: u64 = 5_000_000;
/// No node's log in a run is longer than this.
const MAX_LOG: usize = 1_000_000;

pub struct OnDisks<'a> {
    pub cluster: &'a SimCluster,
    /// Every cloud: an edge forwards to whichever is up. The first is the
    /// one that started first.
    pub hubs: &'a [String],
    pub edges: &'a [String],
    pub probe: &'a Probe,
    /// The drain began then (µs since the Unix epoch, the nodes' clocks).
    pub drained_from_us: u64,
}

/// What a check collects as it goes.
pub struct Findings<'a> {
    pub trace: &'a mut Trace,
    pub violations: &'a mut Vec<String>,
    pub tally: &'a mut Tally,
}

impl OnDisks<'_> {
    /// Every node's ledger into the trace, then every ledger checker.
    pub fn check(&self, mission_deadline: Duration, found: &mut Findings<'_>) {
        let logs = self.logs(found);
        let every_log = || logs.values().flatten();
        found.tally.yields = decisions(every_log(), |r| r.starts_with("yield to "));
        let done = |r: &str| r.starts_with("task ") && r.ends_with("finished: Done");
        found.tally.tasks_done = decisions(every_log(), done);
        let in_run = || every_log().filter(|e| e.time_us < self.drained_from_us);
        found.tally.tasks_in_run = decisions(in_run(), done);
        let reached = |r: &str| r.starts_with("task ") && r.contains(" reached waypoint ");
        found.tally.errands_in_run = decisions(in_run(), reached) + found.tally.tasks_in_run;
        let forwarded: Vec<Forwarded> = self
            .edges
            .iter()
            .filter_map(|edge| {
                let storage = self.cluster.member(edge)?.storage.clone();
                let own = logs.get(edge).cloned().unwrap_or_default();
                Some(self.forwarded(edge, edge.clone(), storage.as_ref(), own, found))
            })
            .collect();
        let (wrong, verified) = check::acked_events_at_hub(&forwarded);
        found.violations.extend(wrong);
        found.tally.acked_at_hub = verified;
        self.appends(&logs, &forwarded, found);
        let retired = self.retired(found);
        let every_disk: Vec<Forwarded> = forwarded.iter().chain(&retired).cloned().collect();
        let (wrong, checked) = check::hub_holds_only_what_nodes_wrote(&every_disk);
        found.violations.extend(wrong);
        found.tally.hub_events = checked;
        self.backlog(&forwarded, found);
        floor(&logs, &retired, found);
        self.missions(&logs, mission_deadline, found);
        self.placements(&logs, found);
        let (wrong, count) = check::leaders_never_overlap(&logs);
        found.violations.extend(wrong);
        found.tally.takeovers = count.takeovers;
        found.tally.leader_accepts = count.accepted;
        found.tally.stale_refused = count.refused;
    }

    /// No agent on two nodes at once beyond the grace; moves and fences counted.
    fn placements(&self, logs: &BTreeMap<String, Vec<Event>>, found: &mut Findings<'_>) {
        let hub = self
            .cluster
            .member(&self.hubs[0])
            .map(|m| m.config.placement.grace_ms);
        let grace_us = hub.unwrap_or(0).saturating_mul(1000);
        let (wrong, compared) = check::one_node_at_a_time(logs, grace_us);
        found.violations.extend(wrong);
        found.tally.placements = compared;
        let placements = logs.values().flatten().filter_map(|e| match &e.kind {
            EventKind::Placement { change, .. } => Some(change),
            _ => None,
        });
        for change in placements {
            match change {
                PlacementChange::Moved { .. } => found.tally.moves += 1,
                PlacementChange::Fenced { .. } => found.tally.fenced += 1,
                _ => {}
            }
        }
    }

    fn reader(&self, node: &str) -> LedgerReader {
        let member = self.cluster.member(node).expect("a member");
        LedgerReader::new(member.storage.clone())
    }

    /// Every node's own log, each event a trace line; the intensity check on each.
    fn logs(&self, found: &mut Findings<'_>) -> BTreeMap<String, Vec<Event>> {
        let mut logs = BTreeMap::new();
        for (name, _) in self.cluster.members() {
            let own = log(&self.reader(name), name, found.violations);
            for e in &own {
                let kind = stable_hash(&format!("{:?}", e.kind));
                let (seq, time, agent, what) = (e.id.seq, e.time_us, &e.agent, e.kind.name());
                found.trace.line(format!(
                    "{name} #{seq} {time}us {agent:?} {what} {kind:016x}"
                ));
            }
            let (wrong, restarts) = check::intensity_respected(&own, limit_of);
            found.violations.extend(wrong);
            found.tally.restarts += restarts;
            logs.insert(name.clone(), own);
        }
        logs
    }

    fn forwarded(
        &self,
        name: &str,
        label: String,
        storage: &dyn Storage,
        own: Vec<Event>,
        found: &mut Findings<'_>,
    ) -> Forwarded {
        let first = persisted_first_seq(storage, name);
        let cursor = persisted_cursor(storage, name);
        let f = Forwarded {
            node: label,
            first_seq: read_seq("first seq", name, first, found.violations),
            acked_below: read_seq("forward cursor", name, cursor, found.violations),
            at_hub: self.at_hubs(name, found.violations),
            own,
        };
        let (node, below, at_hub) = (&f.node, f.acked_below, f.at_hub.len());
        found
            .trace
            .line(format!("{node} acked below #{below}, {at_hub} at the hub"));
        f
    }

    /// `node`'s events as the hubs hold them, each distinct copy once.
    fn at_hubs(&self, node: &str, violations: &mut Vec<String>) -> Vec<Event> {
        let mut by_seq: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
        for hub in self.hubs {
            for e in log(&self.reader(hub), node, violations) {
                let copies = by_seq.entry(e.id.seq).or_default();
                if !copies.contains(&e) {
                    copies.push(e);
                }
            }
        }
        by_seq.into_values().flatten().collect()
    }

    /// The driver's acked appends: on their node's disk, and at the hub.
    fn appends(
        &self,
        logs: &BTreeMap<String, Vec<Event>>,
        forwarded: &[Forwarded],
        found: &mut Findings<'_>,
    ) {
        let at_hub: BTreeMap<String, Vec<Event>> = forwarded
            .iter()
            .map(|f| (f.node.clone(), f.at_hub.clone()))
            .collect();
        let acked = self.probe.acked();
        let (wrong, verified) = check::acked_appends(&appends(&acked), self.hubs, logs, &at_hub);
        found.violations.extend(wrong);
        found.tally.appends = self.probe.sent();
        found.tally.appends_verified = verified;
    }

    /// Wiped disks: what those incarnations had forwarded must be at the hub
    /// (what they had not went with the disk, as on real hardware).
    fn retired(&self, found: &mut Findings<'_>) -> Vec<Forwarded> {
        let retired: Vec<Forwarded> = self
            .cluster
            .retired
            .iter()
            .map(|(name, storage)| {
                let own = log(&LedgerReader::new(storage.clone()), name, found.violations);
                let label = format!("{name} (wiped disk)");
                self.forwarded(name, label, storage.as_ref(), own, found)
            })
            .collect();
        let (wrong, verified) = check::acked_events_at_hub(&retired);
        found.violations.extend(wrong);
        found.tally.retired_acked = verified;
        retired_appends(self.probe, self.hubs, &retired, found);
        retired
    }

    fn backlog(&self, forwarded: &[Forwarded], found: &mut Findings<'_>) {
        let before_us = |node: &str| {
            let clock = &self.cluster.member(node).expect("an edge").clock;
            let now = clock.wall_now().duration_since(std::time::UNIX_EPOCH);
            let now_us = now.map_or(0, |d| d.as_micros() as u64);
            now_us.saturating_sub(FORWARD_GRACE_US)
        };
        let (wrong, backlog) = check::backlog(forwarded, before_us);
        found.violations.extend(wrong);
        found.tally.backlog = backlog;
    }

    fn missions(
        &self,
        logs: &BTreeMap<String, Vec<Event>>,
        deadline: Duration,
        found: &mut Findings<'_>,
    ) {
        let missions = check::missions(logs.values().flatten());
        found.tally.missions_planned = missions.len() as u64;
        found.tally.missions_ended =
            missions.values().filter(|m| m.outcome.is_some()).count() as u64;
        for (id, m) in &missions {
            let (planned, outcome) = (m.planned_us, &m.outcome);
            found
                .trace
                .line(format!("mission {id} planned {planned}us: {outcome:?}"));
        }
        let deadline_us = self.cluster.clock.epoch_us() + deadline.as_micros() as u64;
        found
            .violations
            .extend(check::missions_end(&missions, deadline_us));
        let cloud = logs.get(&self.hubs[0]).map_or(&[][..], Vec::as_slice);
        let (wrong, checked) = check::recipe_steps_in_order(cloud, &crate::scenario::recipe());
        found.violations.extend(wrong);
        found.tally.recipe_steps = checked;
        // Whichever cloud led recorded the completions it saw.
        let clouds: Vec<Event> = self
            .hubs
            .iter()
            .filter_map(|hub| logs.get(hub))
            .flatten()
            .cloned()
            .collect();
        let (wrong, checked) = check::tasks_completed_once(&clouds);
        found.violations.extend(wrong);
        found.tally.tasks_completed = checked;
    }
}

/// Decisions in `log` whose rationale `matches`.
fn decisions<'a>(log: impl Iterator<Item = &'a Event>, matches: impl Fn(&str) -> bool) -> u64 {
    let rationales = log.filter_map(|e| match &e.kind {
        EventKind::Decision { rationale, .. } => Some(rationale.as_str()),
        _ => None,
    });
    rationales.filter(|r| matches(r)).count() as u64
}

/// A node's log; a read error is a violation, never an empty log.
fn log(reader: &LedgerReader, node: &str, violations: &mut Vec<String>) -> Vec<Event> {
    reader.node_log(node, 0, MAX_LOG).unwrap_or_else(|e| {
        violations.push(format!("{node}'s log cannot be read: {e}"));
        Vec::new()
    })
}

/// A persisted seq; a read error is a violation, never 0.
fn read_seq(
    what: &str,
    node: &str,
    read: Result<u64, StorageError>,
    violations: &mut Vec<String>,
) -> u64 {
    read.unwrap_or_else(|e| {
        violations.push(format!("{node}'s {what} cannot be read: {e}"));
        0
    })
}

/// The agents' own view of the floor, from every disk's events.
fn floor(logs: &BTreeMap<String, Vec<Event>>, retired: &[Forwarded], found: &mut Findings<'_>) {
    let mut all: Vec<Event> = logs.values().flatten().cloned().collect();
    all.extend(retired.iter().flat_map(|r| r.own.iter().cloned()));
    let (wrong, count) = check::one_agent_per_cell_over_time(&all);
    found.violations.extend(wrong);
    (found.tally.stays, found.tally.stays_unjudged) = (count.stays, count.unjudged);
    let (refused, lost) = check::near_misses_and_losses(&all);
    (found.tally.near_collisions, found.tally.events_lost) = (refused, lost);
    if lost > 0 {
        let line = format!("{lost} supervision events lost before the ledger");
        found.violations.push(line);
    }
}

fn appends(acked: &[ProbeAck]) -> Vec<check::AckedAppend<'_>> {
    acked
        .iter()
        .map(|a| check::AckedAppend {
            id: &a.id,
            tenant: PROBE_TENANT,
            kind: &a.kind,
        })
        .collect()
}

/// Acks of wiped disks: those the hub had acknowledged must be there (and
/// on the old disk); the rest went with the disk.
fn retired_appends(
    probe: &Probe,
    hubs: &[String],
    retired: &[Forwarded],
    found: &mut Findings<'_>,
) {
    let mut logs = BTreeMap::new();
    let mut at_hub = BTreeMap::new();
    let mut kept = Vec::new();
    for r in retired {
        let name = r.node.trim_end_matches(" (wiped disk)").to_string();
        // Several wipes of one node: its acks are judged by its latest old disk.
        logs.insert(name.clone(), r.own.clone());
        at_hub.insert(name.clone(), r.at_hub.clone());
        let forwarded = |a: &&ProbeAck| {
            a.id.node == name && a.id.seq >= r.first_seq && a.id.seq < r.acked_below
        };
        kept.extend(probe.retired.iter().filter(forwarded).cloned());
    }
    found.tally.appends_lost_with_disk = (probe.retired.len() - kept.len()) as u64;
    let (wrong, verified) = check::acked_appends(&appends(&kept), hubs, &logs, &at_hub);
    found.violations.extend(wrong);
    found.tally.appends_verified += verified;
}

/// The intensity each supervisor of a node runs with.
fn limit_of(supervisor: &str) -> Limit {
    let (max_restarts, period) = match supervisor {
        "node" => (3, Duration::from_secs(30)),
        "dialers" => (10, Duration::from_secs(10)),
        "storage" | "cluster" | "agents" | "cloud" => {
            let default = Intensity::default();
            (default.max_restarts, default.period)
        }
        // Every other supervisor is an agent's.
        _ => (MAX_RESTARTS, INTENSITY_PERIOD),
    };
    Limit {
        max_restarts,
        period,
    }
}
