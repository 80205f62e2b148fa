//! The peer states a node's link believes, by agent and by area, so an
//! agent's question "who is near me" reads a few areas, not every state.

use std::collections::{BTreeMap, BTreeSet};

use swarmd_messages::peer::PeerState;
use swarmd_messages::swarm::Cell;
use tokio::time::Instant;

/// The side of the square areas states are filed under, in cells.
const AREA: i32 = 8;

/// An area's corner index.
type Area = (i32, i32);

fn area_of(cell: Cell) -> Area {
    (cell.x.div_euclid(AREA), cell.y.div_euclid(AREA))
}

/// States filed by area (each area's by agent), and each agent's area.
#[derive(Default)]
pub struct PeerStates {
    area_of_agent: BTreeMap<String, Area>,
    by_area: BTreeMap<Area, BTreeMap<String, (PeerState, Instant)>>,
    /// Agents by when their state arrived: the stalest is the first.
    by_arrival: BTreeSet<(Instant, String)>,
}

impl PeerStates {
    pub fn len(&self) -> usize {
        self.area_of_agent.len()
    }

    pub fn get(&self, agent: &str) -> Option<&(PeerState, Instant)> {
        let area = self.area_of_agent.get(agent)?;
        self.by_area.get(area)?.get(agent)
    }

    pub fn insert(&mut self, state: PeerState, got: Instant) {
        let agent = state.agent.clone();
        let area = area_of(state.at);
        if let Some(old) = self.area_of_agent.insert(agent.clone(), area) {
            self.unfile(&agent, old);
        }
        self.by_arrival.insert((got, agent.clone()));
        self.by_area
            .entry(area)
            .or_default()
            .insert(agent, (state, got));
    }

    pub fn remove(&mut self, agent: &str) {
        if let Some(area) = self.area_of_agent.remove(agent) {
            self.unfile(agent, area);
        }
    }

    /// Takes `agent` out of `area` and of the arrival order.
    fn unfile(&mut self, agent: &str, area: Area) {
        if let Some(states) = self.by_area.get_mut(&area) {
            if let Some((_, got)) = states.remove(agent) {
                self.by_arrival.remove(&(got, agent.to_string()));
            }
            if states.is_empty() {
                self.by_area.remove(&area);
            }
        }
    }

    fn all(&self) -> impl Iterator<Item = (&String, &(PeerState, Instant))> {
        self.by_area.values().flatten()
    }

    /// Keeps the states `keep` says yes to.
    pub fn retain(&mut self, keep: impl Fn(&PeerState, Instant) -> bool) {
        let gone: Vec<String> = self
            .all()
            .filter(|(_, (state, got))| !keep(state, *got))
            .map(|(agent, _)| agent.clone())
            .collect();
        gone.iter().for_each(|agent| self.remove(agent));
    }

    /// The agent whose state arrived longest ago.
    pub fn stalest(&self) -> Option<String> {
        self.by_arrival.first().map(|(_, agent)| agent.clone())
    }

    /// States within `radius` cells of `at` (by `Cell::distance`) that
    /// `keep` says yes to, in agent-name order.
    pub fn near(
        &self,
        at: Cell,
        radius: u32,
        keep: impl Fn(&PeerState, Instant) -> bool,
    ) -> Vec<PeerState> {
        let r = i32::try_from(radius).unwrap_or(i32::MAX / 2);
        let (low, high) = (
            area_of(Cell::new(at.x.saturating_sub(r), at.y.saturating_sub(r))),
            area_of(Cell::new(at.x.saturating_add(r), at.y.saturating_add(r))),
        );
        let columns = usize::try_from(i64::from(high.0) - i64::from(low.0)).unwrap_or(0);
        // A radius wider than the areas filed is cheaper as one pass over them.
        let areas: Vec<_> = if columns > self.by_area.len() {
            self.by_area.values().collect()
        } else {
            (low.0..=high.0)
                .flat_map(|x| self.by_area.range((x, low.1)..=(x, high.1)))
                .map(|(_, states)| states)
                .collect()
        };
        let mut near: Vec<&PeerState> = areas
            .into_iter()
            .flat_map(|states| states.values())
            .filter(|(state, got)| state.at.distance(at) <= radius && keep(state, *got))
            .map(|(state, _)| state)
            .collect();
        near.sort_by(|a, b| a.agent.cmp(&b.agent));
        near.into_iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(agent: &str, x: i32, y: i32) -> PeerState {
        PeerState {
            agent: agent.into(),
            at: Cell::new(x, y),
            intent: vec![],
            task: None,
            load: 0,
            busy_since_us: None,
            making_way_for: None,
            sent_us: 0,
        }
    }

    /// The answer a scan of every state gives.
    fn scanned(all: &[PeerState], at: Cell, radius: u32) -> Vec<String> {
        let mut near: Vec<String> = all
            .iter()
            .filter(|s| s.at.distance(at) <= radius)
            .map(|s| s.agent.clone())
            .collect();
        near.sort();
        near
    }

    #[test]
    fn near_finds_what_a_full_scan_finds_as_states_move_and_go() {
        let now = Instant::now();
        let mut states = PeerStates::default();
        let mut all = Vec::new();
        for i in 0..200 {
            let s = state(&format!("a{i}"), (i * 37) % 61 - 20, (i * 53) % 47 - 10);
            states.insert(s.clone(), now);
            all.push(s);
        }
        // Some move (a few across areas), some go.
        for i in (0..200).step_by(7) {
            let moved = state(&format!("a{i}"), (i * 11) % 61 - 20, (i * 5) % 47 - 10);
            states.insert(moved.clone(), now);
            all[i as usize] = moved;
        }
        states.retain(|s, _| !s.agent.ends_with('3'));
        all.retain(|s| !s.agent.ends_with('3'));
        assert_eq!(states.len(), all.len());
        for (x, y, r) in [
            (0, 0, 8),
            (-20, -10, 3),
            (17, 30, 12),
            (40, 36, 0),
            (5, 5, 100),
            (0, 0, u32::MAX),
        ] {
            let got: Vec<String> = states
                .near(Cell::new(x, y), r, |_, _| true)
                .into_iter()
                .map(|s| s.agent)
                .collect();
            assert_eq!(
                got,
                scanned(&all, Cell::new(x, y), r),
                "at ({x}, {y}) within {r}"
            );
        }
        assert!(states.by_area.values().all(|names| !names.is_empty()));
        assert_eq!(
            states.by_arrival.len(),
            states.len(),
            "one arrival per state"
        );
    }

    #[test]
    fn the_stalest_is_the_state_that_arrived_first_and_was_not_renewed() {
        let t0 = Instant::now();
        let at = |ms| t0 + std::time::Duration::from_millis(ms);
        let mut states = PeerStates::default();
        states.insert(state("a", 0, 0), at(1));
        states.insert(state("b", 50, 50), at(2));
        states.insert(state("c", 1, 1), at(3));
        assert_eq!(states.stalest().as_deref(), Some("a"));
        states.insert(state("a", 40, 40), at(4)); // renewed, in another area
        assert_eq!(states.stalest().as_deref(), Some("b"));
        states.remove("b");
        assert_eq!(states.stalest().as_deref(), Some("c"));
        assert_eq!(states.by_arrival.len(), 2);
    }
}
