//! The pure parts of an agent's thinking: the built-in planner and path
//! finding. No actor state and no I/O, so they are tested on their own.

use std::collections::VecDeque;

use swarmd_messages::swarm::{Cell, Rect};

use swarmd_actors::sandbox::{GuestIntent, PlanInput};

/// What Supervision decides next; Situation turns it into actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Stay where you are.
    Hold,
    /// Walk to this cell.
    GoTo(Cell),
    /// Step aside to a free neighbouring cell, to look again from there.
    Explore,
}

/// Chooses an intent from a summary of the agent's situation. The built-in
/// [`RoutePlanner`] runs natively; a sandboxed guest implements the same ABI.
pub trait Planner: Send + Sync + 'static {
    fn plan(&self, input: &PlanInput) -> GuestIntent;
}

/// Go to the goal; step aside first when the last check failed; hold without a goal.
pub struct RoutePlanner;

impl Planner for RoutePlanner {
    fn plan(&self, input: &PlanInput) -> GuestIntent {
        match (input.goal, input.blocked) {
            (None, _) => GuestIntent::Hold,
            (Some(_), true) => GuestIntent::Explore,
            (Some(_), false) => GuestIntent::GoToGoal,
        }
    }
}

/// The guest's answer as an intent about a concrete goal cell.
pub fn intent_for(answer: GuestIntent, goal: Option<Cell>) -> Intent {
    match (answer, goal) {
        (GuestIntent::GoToGoal, Some(goal)) => Intent::GoTo(goal),
        (GuestIntent::Explore, Some(_)) => Intent::Explore,
        _ => Intent::Hold,
    }
}

/// The shortest 4-connected path from `from` to `to` inside `bounds`
/// avoiding `blocked`, both ends included. Deterministic: neighbours are
/// tried in a fixed order. `None` when there is no way through.
pub fn shortest_path(
    bounds: Rect,
    blocked: impl Fn(Cell) -> bool,
    from: Cell,
    to: Cell,
) -> Option<Vec<Cell>> {
    if from == to {
        return Some(vec![from]);
    }
    if !bounds.contains(to) || blocked(to) || !bounds.contains(from) {
        return None;
    }
    // Breadth-first over a dense array of the cells' parents: the searches
    // of big maps spent most of their time in a tree map here.
    let mut came_from = CameFrom::new(bounds);
    came_from.insert(from, from);
    let mut queue = VecDeque::from([from]);
    while let Some(cell) = queue.pop_front() {
        for next in cell.neighbours() {
            if !bounds.contains(next) || came_from.get(next).is_some() || blocked(next) {
                continue;
            }
            came_from.insert(next, cell);
            if next == to {
                return Some(came_from.walk_back(from, to));
            }
            queue.push_back(next);
        }
    }
    None
}

/// Each reached cell's parent, by the cell's index within the bounds.
struct CameFrom {
    bounds: Rect,
    width: usize,
    parents: Vec<Option<Cell>>,
}

impl CameFrom {
    fn new(bounds: Rect) -> Self {
        let width = (bounds.max.x - bounds.min.x + 1) as usize;
        let height = (bounds.max.y - bounds.min.y + 1) as usize;
        Self {
            bounds,
            width,
            parents: vec![None; width * height],
        }
    }

    fn index(&self, c: Cell) -> usize {
        debug_assert!(self.bounds.contains(c));
        (c.y - self.bounds.min.y) as usize * self.width + (c.x - self.bounds.min.x) as usize
    }

    fn get(&self, c: Cell) -> Option<Cell> {
        self.parents[self.index(c)]
    }

    fn insert(&mut self, c: Cell, parent: Cell) {
        let at = self.index(c);
        self.parents[at] = Some(parent);
    }

    fn walk_back(&self, from: Cell, to: Cell) -> Vec<Cell> {
        let mut path = vec![to];
        let mut at = to;
        while at != from {
            at = self.get(at).expect("every reached cell has a parent");
            path.push(at);
        }
        path.reverse();
        path
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn bounds() -> Rect {
        Rect {
            min: Cell::new(0, 0),
            max: Cell::new(4, 4),
        }
    }

    #[test]
    fn paths_go_around_what_blocks() {
        let wall: BTreeSet<Cell> = (0..4).map(|y| Cell::new(2, y)).collect();
        let path = shortest_path(
            bounds(),
            |c| wall.contains(&c),
            Cell::new(0, 0),
            Cell::new(4, 0),
        )
        .unwrap();
        assert_eq!(path.first(), Some(&Cell::new(0, 0)));
        assert_eq!(path.last(), Some(&Cell::new(4, 0)));
        assert!(
            path.contains(&Cell::new(2, 4)),
            "through the only gap: {path:?}"
        );
        assert!(path.windows(2).all(|w| w[0].distance(w[1]) == 1));
        assert_eq!(path.len(), 13);
    }

    #[test]
    fn no_path_through_a_closed_wall() {
        let wall: BTreeSet<Cell> = (0..5).map(|y| Cell::new(2, y)).collect();
        assert_eq!(
            shortest_path(
                bounds(),
                |c| wall.contains(&c),
                Cell::new(0, 0),
                Cell::new(4, 0)
            ),
            None
        );
        assert_eq!(
            shortest_path(
                bounds(),
                |c| wall.contains(&c),
                Cell::new(0, 0),
                Cell::new(9, 9)
            ),
            None
        );
    }

    #[test]
    fn the_route_planner_explores_when_blocked() {
        let input = |goal, blocked| PlanInput {
            x: 0,
            y: 0,
            goal,
            blocked,
        };
        assert_eq!(RoutePlanner.plan(&input(None, true)), GuestIntent::Hold);
        assert_eq!(
            RoutePlanner.plan(&input(Some((3, 3)), false)),
            GuestIntent::GoToGoal
        );
        assert_eq!(
            RoutePlanner.plan(&input(Some((3, 3)), true)),
            GuestIntent::Explore
        );
        let goal = Cell::new(3, 3);
        assert_eq!(
            intent_for(GuestIntent::GoToGoal, Some(goal)),
            Intent::GoTo(goal)
        );
        assert_eq!(intent_for(GuestIntent::GoToGoal, None), Intent::Hold);
    }
}
