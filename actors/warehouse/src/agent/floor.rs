//! The static floor an agent plans on: bounds, shelves and docks. Every agent
//! of a node gets the same plan from the world, so it is built once per plan
//! and shared, not copied into each agent (10k agents on a big floor would
//! otherwise hold 10k copies of its shelves).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use swarmd_messages::swarm::{Cell, FloorPlan, Rect};

#[derive(Debug, PartialEq, Eq)]
pub struct Floor {
    pub bounds: Rect,
    /// Whether each cell of `bounds` is a shelf, row by row: searches of
    /// big maps look cells up here thousands of times a decision.
    shelves: Vec<bool>,
    /// Shared cells an idle agent must not park on.
    pub docks: BTreeSet<Cell>,
    /// Open cells with at most two open neighbours: corridors, gaps.
    passages: BTreeSet<Cell>,
}

impl Floor {
    fn new(plan: &FloorPlan) -> Self {
        let mut floor = Self {
            bounds: plan.bounds(),
            shelves: Vec::new(),
            docks: plan.docks.iter().copied().collect(),
            passages: BTreeSet::new(),
        };
        let b = floor.bounds;
        floor.shelves = vec![false; ((b.max.x - b.min.x + 1) * (b.max.y - b.min.y + 1)) as usize];
        for shelf in plan.obstacles.iter().filter(|c| b.contains(**c)) {
            let at = floor.index(*shelf);
            floor.shelves[at] = true;
        }
        let cells =
            (b.min.x..=b.max.x).flat_map(|x| (b.min.y..=b.max.y).map(move |y| Cell::new(x, y)));
        floor.passages = cells
            .filter(|c| floor.is_open(*c))
            .filter(|c| {
                c.neighbours()
                    .into_iter()
                    .filter(|n| floor.is_open(*n))
                    .count()
                    <= 2
            })
            .collect();
        floor
    }

    /// On the floor and not a shelf.
    pub fn is_open(&self, c: Cell) -> bool {
        self.bounds.contains(c) && !self.shelves[self.index(c)]
    }

    /// `c`'s place in `shelves`; `c` is within the bounds.
    fn index(&self, c: Cell) -> usize {
        let width = self.bounds.max.x - self.bounds.min.x + 1;
        ((c.y - self.bounds.min.y) * width + (c.x - self.bounds.min.x)) as usize
    }

    /// A corridor or a gap between shelves: one agent blocks it.
    pub fn is_passage(&self, c: Cell) -> bool {
        self.passages.contains(&c)
    }

    /// In a passage, or at its mouth: where an idle agent is in the way.
    pub fn in_the_way(&self, c: Cell) -> bool {
        self.is_passage(c) || c.neighbours().into_iter().any(|n| self.is_passage(n))
    }
}

/// A plan and the floor built from it.
type Built = (FloorPlan, Arc<Floor>);

/// The floor of the last plan seen, shared by the agents of one kind.
#[derive(Clone, Default)]
pub struct FloorCache(Arc<Mutex<Option<Built>>>);

impl FloorCache {
    /// The floor of the last plan seen: a layer restarted without a new
    /// welcome from the world starts from it.
    pub fn last(&self) -> Option<Arc<Floor>> {
        let last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        last.as_ref().map(|(_, floor)| floor.clone())
    }

    pub fn floor(&self, plan: &FloorPlan) -> Arc<Floor> {
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &*last {
            Some((seen, floor)) if seen == plan => floor.clone(),
            _ => {
                let floor = Arc::new(Floor::new(plan));
                *last = Some((plan.clone(), floor.clone()));
                floor
            }
        }
    }
}
