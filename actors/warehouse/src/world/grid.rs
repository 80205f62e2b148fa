//! The built-in `grid` world as a plain state machine: a warehouse floor with
//! shelves, docks, hazards that come and go, and agents. Everything random
//! comes from the Entropy it is given, so one seed gives one floor and one
//! history. The world enforces its own invariant: no two agents in one cell.

use std::collections::{BTreeMap, BTreeSet};

use swarmd_messages::swarm::{Address, Cell, FloorPlan, Layout, MoveRefused, Perception};

use swarmd_actors::ctx::Entropy;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridConfig {
    pub width: i32,
    pub height: i32,
    /// Agents see other agents and hazards this many cells away (Manhattan).
    pub sense_radius: u32,
    /// At most this many hazards at once.
    pub max_hazards: usize,
    /// At most this many agents in the world.
    pub max_agents: usize,
    /// The floor plan's seed: one seed, one floor, on every node that asks.
    pub floor_seed: u64,
    pub layout: Layout,
    /// A floor read from a map file: it replaces `layout`, and its size
    /// must be `width` x `height`.
    pub floor: Option<FloorPlan>,
    /// Where agents that name no cell enter, in the order they enter
    /// (then seeded cells): a benchmark instance's start positions.
    pub starts: Vec<Cell>,
}

impl Default for GridConfig {
    fn default() -> Self {
        Self {
            width: 24,
            height: 12,
            sense_radius: 3,
            max_hazards: 3,
            max_agents: 10_000,
            floor_seed: 7,
            layout: Layout::Warehouse,
            floor: None,
            starts: Vec::new(),
        }
    }
}

/// Why an agent could not enter the world.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnterRefused {
    #[error("the world holds {0} agents at most")]
    Full(usize),
    #[error("no free cell left")]
    NoFreeCell,
}

pub struct GridWorld {
    config: GridConfig,
    plan: FloorPlan,
    obstacles: BTreeSet<Cell>,
    hazards: BTreeSet<Cell>,
    agents: BTreeMap<String, (Address, Cell)>,
    occupied: BTreeMap<Cell, String>,
    /// `config.starts` handed out so far.
    starts_taken: usize,
}

impl GridWorld {
    pub fn new(config: GridConfig) -> Self {
        let plan = floor_plan(&config);
        let obstacles = plan.obstacles.iter().copied().collect();
        Self {
            config,
            plan,
            obstacles,
            hazards: BTreeSet::new(),
            agents: BTreeMap::new(),
            occupied: BTreeMap::new(),
            starts_taken: 0,
        }
    }

    pub fn config(&self) -> &GridConfig {
        &self.config
    }

    pub fn plan(&self) -> &FloorPlan {
        &self.plan
    }

    pub fn position(&self, agent: &str) -> Option<Cell> {
        self.agents.get(agent).map(|(_, c)| *c)
    }

    pub fn address(&self, agent: &str) -> Option<&Address> {
        self.agents.get(agent).map(|(a, _)| a)
    }

    pub fn agents(&self) -> impl Iterator<Item = (&str, Cell)> {
        self.agents.iter().map(|(n, (_, c))| (n.as_str(), *c))
    }

    pub fn hazards(&self) -> impl Iterator<Item = Cell> + '_ {
        self.hazards.iter().copied()
    }

    /// Free of shelves, hazards and agents, and on the floor.
    pub fn is_free(&self, c: Cell) -> bool {
        self.plan.bounds().contains(c)
            && !self.obstacles.contains(&c)
            && !self.hazards.contains(&c)
            && !self.occupied.contains_key(&c)
    }

    /// Places `agent` on the free cell nearest to `preferred` (or a seeded
    /// one). An agent already in the world keeps its cell and gets the new address.
    pub fn enter(
        &mut self,
        agent: Address,
        preferred: Option<Cell>,
        entropy: &dyn Entropy,
    ) -> Result<Cell, EnterRefused> {
        if let Some((address, cell)) = self.agents.get_mut(&agent.name) {
            *address = agent;
            return Ok(*cell);
        }
        if self.agents.len() >= self.config.max_agents {
            return Err(EnterRefused::Full(self.config.max_agents));
        }
        let start = preferred
            .or_else(|| self.next_start())
            .unwrap_or_else(|| self.random_cell(entropy));
        let cell = self.nearest_free(start).ok_or(EnterRefused::NoFreeCell)?;
        self.occupied.insert(cell, agent.name.clone());
        self.agents.insert(agent.name.clone(), (agent, cell));
        self.check_invariant();
        Ok(cell)
    }

    pub fn leave(&mut self, agent: &str) -> bool {
        let Some((_, cell)) = self.agents.remove(agent) else {
            return false;
        };
        self.occupied.remove(&cell);
        self.check_invariant();
        true
    }

    /// Moves `agent` one step. The world is the last line of defence: it
    /// refuses whatever the agent's reflex should have avoided.
    pub fn step(&mut self, agent: &str, to: Cell) -> Result<(), MoveRefused> {
        let from = self.position(agent).ok_or(MoveRefused::NotInWorld)?;
        if from.distance(to) != 1 {
            return Err(MoveRefused::NotAdjacent { from, to });
        }
        if !self.plan.bounds().contains(to) {
            return Err(MoveRefused::OffFloor(to));
        }
        if self.obstacles.contains(&to) {
            return Err(MoveRefused::Shelf(to));
        }
        if self.hazards.contains(&to) {
            return Err(MoveRefused::Hazard(to));
        }
        #[cfg(not(feature = "bug-collisions"))]
        if let Some(other) = self.occupied.get(&to) {
            let by = other.clone();
            return Err(MoveRefused::Taken { cell: to, by });
        }
        if self.occupied.get(&from).map(String::as_str) == Some(agent) {
            self.occupied.remove(&from);
        }
        self.occupied.insert(to, agent.to_string());
        if let Some((_, cell)) = self.agents.get_mut(agent) {
            *cell = to;
        }
        self.check_invariant();
        Ok(())
    }

    /// What `agent` senses now, answering `request`.
    pub fn perceive(
        &self,
        agent: &str,
        request: u64,
        refused: Option<MoveRefused>,
    ) -> Option<Perception> {
        let position = self.position(agent)?;
        let near = |c: Cell| c.distance(position) <= self.config.sense_radius;
        Some(Perception {
            request,
            position,
            agents_near: self.agents_near(agent, position),
            hazards_near: self.hazards.iter().copied().filter(|c| near(*c)).collect(),
            refused,
            // The world actor stamps it: the grid has no clock.
            arrived_us: 0,
        })
    }

    /// Agents other than `agent` within the sense radius of `at`, by name.
    /// Read from the occupancy index, column by column of the diamond, so a
    /// perception costs the cells in sight, not the agents on the floor.
    fn agents_near(&self, agent: &str, at: Cell) -> Vec<(String, Cell)> {
        let radius = self.config.sense_radius;
        let diamond_columns = 2 * u64::from(radius) + 1;
        // The broken build lets agents share a cell, which the index cannot hold.
        if cfg!(feature = "bug-collisions") || diamond_columns > self.occupied.len() as u64 {
            return self
                .agents()
                .filter(|(n, c)| *n != agent && c.distance(at) <= radius)
                .map(|(n, c)| (n.to_string(), c))
                .collect();
        }
        let r = i32::try_from(radius).expect("fewer columns than agents");
        let mut near: Vec<(&str, Cell)> = Vec::new();
        for dx in -r..=r {
            let (x, reach) = (at.x.saturating_add(dx), r - dx.abs());
            let column =
                Cell::new(x, at.y.saturating_sub(reach))..=Cell::new(x, at.y.saturating_add(reach));
            let others = self.occupied.range(column).filter(|(_, n)| *n != agent);
            near.extend(others.map(|(c, n)| (n.as_str(), *c)));
        }
        near.sort_unstable_by(|a, b| a.0.cmp(b.0));
        near.into_iter().map(|(n, c)| (n.to_string(), c)).collect()
    }

    /// Places a hazard on `cell` if it is free (fault injection, tests and the
    /// console). Over `max_hazards`, nothing is placed.
    pub fn place_hazard(&mut self, cell: Cell) -> bool {
        if !self.is_free(cell) || self.hazards.len() >= self.config.max_hazards {
            return false;
        }
        self.hazards.insert(cell)
    }

    /// A hazard appears on a seeded free cell; the oldest-placed (smallest)
    /// one clears when the cap is reached. Returns what changed.
    pub fn shift_hazards(&mut self, entropy: &dyn Entropy) -> (Option<Cell>, Option<Cell>) {
        let cleared = if self.hazards.len() >= self.config.max_hazards {
            let pick = entropy.next_u64() as usize % self.hazards.len().max(1);
            let gone = self.hazards.iter().nth(pick).copied();
            gone.inspect(|c| {
                self.hazards.remove(c);
            })
        } else {
            None
        };
        let candidate = self.random_cell(entropy);
        let appeared = self.is_free(candidate).then(|| {
            self.hazards.insert(candidate);
            candidate
        });
        (appeared, cleared)
    }

    fn next_start(&mut self) -> Option<Cell> {
        let start = self.config.starts.get(self.starts_taken).copied()?;
        self.starts_taken += 1;
        Some(start)
    }

    fn random_cell(&self, entropy: &dyn Entropy) -> Cell {
        let x = (entropy.next_u64() % self.config.width as u64) as i32;
        let y = (entropy.next_u64() % self.config.height as u64) as i32;
        Cell::new(x, y)
    }

    /// Breadth-first from `start` over the floor, ignoring what blocks.
    fn nearest_free(&self, start: Cell) -> Option<Cell> {
        let bounds = self.plan.bounds();
        let start = Cell::new(
            start.x.clamp(0, bounds.max.x),
            start.y.clamp(0, bounds.max.y),
        );
        let mut seen = BTreeSet::from([start]);
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(c) = queue.pop_front() {
            if self.is_free(c) {
                return Some(c);
            }
            for n in c.neighbours() {
                if bounds.contains(n) && seen.insert(n) {
                    queue.push_back(n);
                }
            }
        }
        None
    }

    fn check_invariant(&self) {
        if cfg!(feature = "bug-collisions") {
            return; // the broken build breaks it on purpose
        }
        debug_assert_eq!(
            self.agents.len(),
            self.occupied.len(),
            "two agents share a cell"
        );
        debug_assert!(
            self.agents
                .iter()
                .all(|(n, (_, c))| self.occupied.get(c) == Some(n)),
            "occupancy out of step with positions"
        );
    }
}

/// The floor of `config`: a pure function of it, the same on every node.
/// Docks are along the west wall.
pub fn floor_plan(config: &GridConfig) -> FloorPlan {
    if let Some(floor) = &config.floor {
        assert_eq!(
            (floor.width, floor.height),
            (config.width, config.height),
            "a map's size is the world's"
        );
        return floor.clone();
    }
    assert!(
        config.width >= 8 && config.height >= 6,
        "a grid needs at least 8x6 cells"
    );
    let obstacles = match config.layout {
        Layout::Warehouse => shelves(config),
        Layout::Hallway => hallway_walls(config),
    };
    let docks = (1..config.height - 1)
        .step_by(3)
        .map(|y| Cell::new(0, y))
        .collect();
    FloorPlan {
        width: config.width,
        height: config.height,
        obstacles,
        docks,
    }
}

/// Rows of shelves (with seeded gaps) between free aisles, free outer columns.
fn shelves(config: &GridConfig) -> Vec<Cell> {
    let mut seed = config.floor_seed;
    let mut obstacles = Vec::new();
    for y in (2..config.height - 2).step_by(3) {
        for x in 3..config.width - 3 {
            if !splitmix64(&mut seed).is_multiple_of(5) {
                obstacles.push(Cell::new(x, y));
            }
        }
    }
    obstacles
}

/// A wall three cells thick down the middle, pierced by one corridor.
fn hallway_walls(config: &GridConfig) -> Vec<Cell> {
    let (mid, door) = (config.width / 2, config.height / 2);
    (mid - 1..=mid + 1)
        .flat_map(|x| {
            (0..config.height)
                .filter(move |y| *y != door)
                .map(move |y| Cell::new(x, y))
        })
        .collect()
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
#[path = "grid_tests.rs"]
mod tests;
