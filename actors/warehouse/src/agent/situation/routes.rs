//! Routes in the Situation layer: the floor as this agent knows it (shelves,
//! hazards, peers, congested cells) and the shortest ways across it.

use std::collections::HashSet;

use swarmd_messages::swarm::Cell;

use super::SituationState;
use crate::agent::planning::shortest_path;

impl SituationState {
    /// A peer seen or announced on `cell`, but for one making way for this agent.
    pub(super) fn peer_at(&self, cell: Cell) -> bool {
        let making_way = |name: &str| self.ahead_of.iter().any(|a| a == name);
        self.peers
            .iter()
            .any(|(name, (c, _))| *c == cell && !making_way(name))
    }

    /// The cells `peer_at` is true of, for a search to look up.
    fn peer_cells(&self) -> HashSet<Cell> {
        let making_way = |name: &str| self.ahead_of.iter().any(|a| a == name);
        let standing = self.peers.iter().filter(|(name, _)| !making_way(name));
        standing.map(|(_, (c, _))| *c).collect()
    }

    /// Around shelves, hazards and the peers remembered. A peer or a hazard
    /// on the goal itself does not hide the way to it: the agent goes next
    /// to it, and the reflex never steps onto it.
    pub(super) fn path(&self, from: Cell, to: Cell) -> Option<Vec<Cell>> {
        self.route(from, to, true)
    }

    /// The shortest way past shelves and hazards, and past peers if
    /// `around_peers`; what stands on `to` itself never blocks it.
    pub(super) fn route(&self, from: Cell, to: Cell, around_peers: bool) -> Option<Vec<Cell>> {
        let floor = self.floor.as_ref()?;
        let peers = if around_peers {
            self.peer_cells()
        } else {
            HashSet::new()
        };
        let peer = |c: Cell| peers.contains(&c);
        let in_way = |c: Cell| c != to && (self.hazards.contains_key(&c) || peer(c));
        let blocked = |c: Cell| !floor.is_open(c) || in_way(c);
        // Around congested cells when there is such a way; else through them.
        if around_peers && let Some(avoid) = self.avoided(from, to) {
            let clear = |c: Cell| blocked(c) || (c != from && avoid.contains(&c));
            if let Some(way) = shortest_path(floor.bounds, clear, from, to) {
                return Some(way);
            }
        }
        shortest_path(floor.bounds, blocked, from, to)
    }

    pub(super) fn is_open(&self, c: Cell) -> bool {
        self.floor.as_ref().is_some_and(|f| f.is_open(c)) && !self.hazards.contains_key(&c)
    }

    pub(super) fn is_passage(&self, c: Cell) -> bool {
        self.floor.as_ref().is_some_and(|f| f.is_passage(c))
    }

    pub(super) fn in_the_way(&self, c: Cell) -> bool {
        self.floor.as_ref().is_some_and(|f| f.in_the_way(c))
    }

    pub(super) fn on_dock(&self, c: Cell) -> bool {
        self.floor.as_ref().is_some_and(|f| f.docks.contains(&c))
    }
}
