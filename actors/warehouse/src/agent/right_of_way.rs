//! Right of way between two agents that want each other's cells (a head-on
//! meeting in a corridor): a rule both compute the same way from the same
//! two announced states, so they agree without asking anyone.
//!
//! Rank, best first: busy before idle (an idle agent is asked to step aside
//! anyway); then busy for longer (so an agent that keeps losing becomes the
//! oldest and wins: nobody starves); then the smaller name (a stable tie-break).

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};

use swarmd_messages::peer::PeerState;
use swarmd_messages::swarm::{Cell, Rect};

/// A yielding agent looks this far for a cell off the winner's way.
pub const MAKE_WAY_RADIUS: u32 = 12;

/// Who an announced state is, for ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rank<'a> {
    pub busy_since_us: Option<u64>,
    pub agent: &'a str,
}

impl<'a> Rank<'a> {
    pub fn of(state: &'a PeerState) -> Self {
        Self {
            busy_since_us: state.busy_since_us,
            agent: &state.agent,
        }
    }

    fn key(&self) -> (bool, u64, &str) {
        let since = self.busy_since_us;
        (since.is_none(), since.unwrap_or(u64::MAX), self.agent)
    }

    /// Whether `self` goes first when it meets `other` head-on.
    pub fn outranks(&self, other: &Rank<'_>) -> bool {
        self.key().cmp(&other.key()) == Ordering::Less
    }
}

/// Head-on: each wants the cell the other stands on. `my_way` is the cells
/// ahead of `me`, nearest first, as announced.
pub fn head_on(me: Cell, my_way: &[Cell], peer: &PeerState) -> bool {
    peer.intent.contains(&me) && my_way.contains(&peer.at)
}

/// What `winner` holds and means to take: the cells a yielding agent keeps off.
pub fn claim_of(winner: &PeerState) -> BTreeSet<Cell> {
    winner.intent.iter().copied().chain([winner.at]).collect()
}

/// The first step of the shortest way from `from` to the nearest open cell
/// off `claim` (through claimed cells if need be: backing out of a corridor
/// runs ahead of the winner). `None` when there is no such cell near.
pub fn make_way(
    bounds: Rect,
    open: impl Fn(Cell) -> bool,
    from: Cell,
    claim: &BTreeSet<Cell>,
) -> Option<Cell> {
    let mut first_step = std::collections::BTreeMap::from([(from, from)]);
    let mut queue = VecDeque::from([from]);
    while let Some(c) = queue.pop_front() {
        if c != from && !claim.contains(&c) {
            return first_step.get(&c).copied();
        }
        for n in c.neighbours() {
            let near = n.distance(from) <= MAKE_WAY_RADIUS;
            if near && bounds.contains(n) && open(n) && !first_step.contains_key(&n) {
                let step = if c == from { n } else { first_step[&c] };
                first_step.insert(n, step);
                queue.push_back(n);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(agent: &str, at: Cell, intent: &[Cell], since: Option<u64>) -> PeerState {
        PeerState {
            agent: agent.into(),
            at,
            intent: intent.to_vec(),
            task: None,
            load: 0,
            busy_since_us: since,
            making_way_for: None,
            sent_us: 0,
        }
    }

    #[test]
    fn both_sides_agree_on_who_goes_first() {
        let cases = [
            (Some(10), Some(20), "b", "a", true),
            (Some(10), None, "b", "a", true),
            (Some(10), Some(10), "a", "b", true),
            (None, None, "a", "b", true),
        ];
        for (since_a, since_b, name_a, name_b, a_first) in cases {
            let a = state(name_a, Cell::new(0, 0), &[], since_a);
            let b = state(name_b, Cell::new(1, 0), &[], since_b);
            let (ra, rb) = (Rank::of(&a), Rank::of(&b));
            assert_eq!(ra.outranks(&rb), a_first, "{a:?} vs {b:?}");
            assert_ne!(ra.outranks(&rb), rb.outranks(&ra), "exactly one goes first");
        }
    }

    #[test]
    fn head_on_needs_both_to_want_the_others_cell() {
        let (a, b) = (Cell::new(2, 0), Cell::new(3, 0));
        let peer = state("b", b, &[a, Cell::new(1, 0)], Some(1));
        assert!(head_on(a, &[b, Cell::new(4, 0)], &peer));
        assert!(
            !head_on(a, &[Cell::new(2, 1)], &peer),
            "a is not going through b"
        );
        let follower = state("b", b, &[Cell::new(4, 0)], Some(1));
        assert!(
            !head_on(a, &[b], &follower),
            "going the same way is no conflict"
        );
    }

    #[test]
    fn the_loser_backs_out_of_a_corridor_and_steps_off_the_winners_way() {
        // A corridor along y = 1 from x = 0 to x = 5, with a side cell at (5, 0).
        // The winner stands on (1, 1): no way through it.
        let open = |c: Cell| (c.y == 1 || c == Cell::new(5, 0)) && c != Cell::new(1, 1);
        let bounds = Rect {
            min: Cell::new(0, 0),
            max: Cell::new(6, 2),
        };
        let winner = state(
            "w",
            Cell::new(1, 1),
            &[2, 3, 4, 5].map(|x| Cell::new(x, 1)),
            Some(1),
        );
        let claim = claim_of(&winner);
        let loser_at = Cell::new(3, 1);
        assert_eq!(
            make_way(bounds, open, loser_at, &claim),
            Some(Cell::new(4, 1))
        );
        assert_eq!(
            make_way(bounds, open, Cell::new(5, 1), &claim),
            Some(Cell::new(5, 0))
        );
        let nowhere = |c: Cell| c.y == 1 && (2..=5).contains(&c.x);
        assert_eq!(make_way(bounds, nowhere, loser_at, &claim), None);
    }
}
