//! What the checkers counted in one run.

/// What the checkers looked at in one run: a checker that looked at
/// nothing proves nothing, so each scenario sets minimums (see `scenario`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// World snapshots taken, and agent positions checked in them.
    pub snapshots: u64,
    pub positions: u64,
    /// Moves the world refused (near-collisions), as of the last snapshot.
    pub refused_moves: u64,
    /// Refused moves the agents themselves reported.
    pub near_collisions: u64,
    /// Agents' stays in a cell judged for overlaps, and those not judged
    /// (their node died, so their last reports may be lost).
    pub stays: u64,
    pub stays_unjudged: u64,
    /// Supervision events a recorder reported lost before the ledger.
    pub events_lost: u64,
    /// Acknowledged edge events found at the hub, unchanged and once.
    pub acked_at_hub: u64,
    /// Appends the driver made, and the acks it got that were verified on
    /// disk and at the hub (after every node lost power).
    pub appends: u64,
    pub appends_verified: u64,
    /// Acks of wiped disks excused: their events had not left the node.
    pub appends_lost_with_disk: u64,
    /// Durable edge events never acknowledged by the end (must be 0).
    pub backlog: u64,
    /// Acked events of wiped (re-provisioned) disks found at the hub.
    pub retired_acked: u64,
    pub missions_planned: u64,
    pub missions_ended: u64,
    /// Starts of recipe steps checked against their needs.
    pub recipe_steps: u64,
    /// Task completions in the cloud's ledger checked for a second completer.
    pub tasks_completed: u64,
    /// Supervisor restarts counted by the intensity checker.
    pub restarts: u64,
    /// Frames the rogue sent that must be refused, garbage links it opened,
    /// and frames the hub's gateway refused (or could not decode).
    pub rogue_frames: u64,
    pub rogue_links: u64,
    pub rogue_refused: u64,
    /// Events at the hub checked against their nodes' own disks.
    pub hub_events: u64,
    /// Layer kills the fault schedule made, and those that found no target.
    pub kills: u64,
    pub kills_missed: u64,
    /// Coordination: tasks done, yields of right of way (from the hub's
    /// ledger), and deadlocks found (each one a violation).
    pub tasks_done: u64,
    /// Of those, and of the waypoints reached on the way (errands), what
    /// was done before the drain: the work a benchmark counts.
    pub tasks_in_run: u64,
    pub errands_in_run: u64,
    pub yields: u64,
    pub deadlocks: u64,
    /// Stretches of agents running on a node compared for overlaps, moves
    /// of supervised agents, and agents their own node fenced.
    pub placements: u64,
    pub moves: u64,
    pub fenced: u64,
    /// `[cloud] ha`: takeovers the clouds recorded, assignments accepted
    /// under a token (checked for order), and a deposed leader's
    /// assignments the agents refused.
    pub takeovers: u64,
    pub leader_accepts: u64,
    pub stale_refused: u64,
}

impl Tally {
    pub fn line(&self) -> String {
        format!(
            "checked snapshots={} positions={} refused_moves={} near_collisions={} stays={} \
             stays_unjudged={} events_lost={} appends={} appends_verified={} \
             appends_lost_with_disk={} acked_at_hub={} backlog={} retired_acked={} \
             missions_planned={} missions_ended={} recipe_steps={} tasks_completed={} restarts={} kills={} kills_missed={} \
             rogue_frames={} rogue_links={} rogue_refused={} hub_events={} tasks_done={} \
             tasks_in_run={} errands_in_run={} yields={} deadlocks={} placements={} moves={} fenced={} takeovers={} \
             leader_accepts={} stale_refused={}",
            self.snapshots,
            self.positions,
            self.refused_moves,
            self.near_collisions,
            self.stays,
            self.stays_unjudged,
            self.events_lost,
            self.appends,
            self.appends_verified,
            self.appends_lost_with_disk,
            self.acked_at_hub,
            self.backlog,
            self.retired_acked,
            self.missions_planned,
            self.missions_ended,
            self.recipe_steps,
            self.tasks_completed,
            self.restarts,
            self.kills,
            self.kills_missed,
            self.rogue_frames,
            self.rogue_links,
            self.rogue_refused,
            self.hub_events,
            self.tasks_done,
            self.tasks_in_run,
            self.errands_in_run,
            self.yields,
            self.deadlocks,
            self.placements,
            self.moves,
            self.fenced,
            self.takeovers,
            self.leader_accepts,
            self.stale_refused
        )
    }
}
