//! The League of Robot Runners' problem format (LoRR, 2023–2026), read into
//! what the warehouse scenario runs: the floor, where each agent starts and
//! the task stream.
//!
//! A problem is a JSON file naming, relative to itself, a MovingAI `.map`
//! (`mapFile`), an agents file (`agentFile`) and a tasks file (`taskFile`),
//! with `teamSize` (agents) and `numTasksReveal` (tasks kept revealed at
//! once, as a multiple of the team). Agents and tasks files: optional `#`
//! comment lines, a count, then one line per agent (a cell) or per task
//! (its errands' cells, comma-separated, visited in order). A cell is
//! linearized: `y * width + x`. Fields this runner does not model
//! (`agentCounter`, `delayConfig`, `agentSize`, …) are ignored; orientation
//! is not modelled either (a LoRR robot turns in place, a swarmd agent
//! does not).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use swarmd_messages::swarm::{Cell, FloorPlan, Workload};

/// A task is at most this many errands (a longer one is refused).
pub const MAX_ERRANDS: usize = swarmd_messages::swarm::MAX_ERRANDS;
/// At most this many tasks are read (the rest of a file is never revealed
/// in a run this runner can afford).
pub const MAX_TASKS: usize = 1_000_000;
/// At most this many agents.
pub const MAX_AGENTS: usize = 20_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Problem {
    map_file: String,
    agent_file: String,
    task_file: String,
    team_size: usize,
    num_tasks_reveal: f64,
}

/// A problem, read and checked against its map.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The problem file's stem (`random_20`).
    pub name: String,
    /// The map's file name, and the floor read from it.
    pub map: String,
    pub floor: FloorPlan,
    /// Where each agent starts, one cell per agent, free and distinct.
    pub starts: Vec<Cell>,
    /// The tasks in order, and how many are revealed at once.
    pub workload: Arc<Workload>,
}

/// Reads `problem` and the files it names.
pub fn load(problem: &Path) -> Result<Instance, String> {
    let read =
        |path: &Path| std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
    let text = read(problem)?;
    let spec: Problem =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", problem.display()))?;
    if !(1..=MAX_AGENTS).contains(&spec.team_size) {
        return Err(format!(
            "teamSize {} is outside 1..={MAX_AGENTS}",
            spec.team_size
        ));
    }
    if !(spec.num_tasks_reveal.is_finite() && spec.num_tasks_reveal > 0.0) {
        return Err(format!(
            "numTasksReveal {} is not a positive number",
            spec.num_tasks_reveal
        ));
    }
    let dir = problem.parent().unwrap_or(Path::new("."));
    let map_path = dir.join(&spec.map_file);
    let floor = swarmd_config::map_file::parse(&read(&map_path)?, &[])
        .map_err(|e| format!("{}: {e}", map_path.display()))?;
    let map = Map::of(&floor);
    let agents = cells_file(&read(&dir.join(&spec.agent_file))?, &map, 1)
        .map_err(|e| format!("{}: {e}", spec.agent_file))?;
    if agents.len() < spec.team_size {
        let why = format!("{} agents for a team of {}", agents.len(), spec.team_size);
        return Err(format!("{}: {why}", spec.agent_file));
    }
    let starts: Vec<Cell> = agents
        .into_iter()
        .take(spec.team_size)
        .map(|a| a[0])
        .collect();
    distinct(&starts).map_err(|e| format!("{}: {e}", spec.agent_file))?;
    let tasks = cells_file(&read(&dir.join(&spec.task_file))?, &map, MAX_ERRANDS)
        .map_err(|e| format!("{}: {e}", spec.task_file))?;
    let revealed = (spec.num_tasks_reveal * spec.team_size as f64).ceil() as usize;
    let name = problem.file_stem().unwrap_or_default().to_string_lossy();
    Ok(Instance {
        name: name.into_owned(),
        map: spec.map_file.clone(),
        floor,
        starts,
        workload: Arc::new(Workload {
            tasks,
            revealed: revealed.max(1),
        }),
    })
}

/// A count, then one line of comma-separated cells per entry (at most
/// `most` cells each), each cell free on `floor`.
fn cells_file(text: &str, floor: &Map, most: usize) -> Result<Vec<Vec<Cell>>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (line, count) = lines.next().ok_or("the file is empty")?;
    let count: usize = count
        .parse()
        .map_err(|_| format!("line {line}: expected a count, found {count:?}"))?;
    let entries = lines
        .take(count.min(MAX_TASKS))
        .map(|(line, l)| entry(l, floor, most).map_err(|e| format!("line {line}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if entries.len() < count.min(MAX_TASKS) {
        return Err(format!(
            "{count} entries announced, {} found",
            entries.len()
        ));
    }
    Ok(entries)
}

fn entry(line: &str, floor: &Map, most: usize) -> Result<Vec<Cell>, String> {
    let cells = line
        .split(',')
        .map(|item| cell(item.trim(), floor))
        .collect::<Result<Vec<_>, _>>()?;
    if cells.len() > most {
        return Err(format!("{} cells, at most {most}", cells.len()));
    }
    Ok(cells)
}

/// A linearized cell (`y * width + x`), on the floor and not a wall.
fn cell(item: &str, floor: &Map) -> Result<Cell, String> {
    let at: i64 = item
        .parse()
        .map_err(|_| format!("{item:?} is not a cell number"))?;
    let (w, h) = (i64::from(floor.width), i64::from(floor.height));
    if !(0..w * h).contains(&at) {
        return Err(format!("cell {at} is off the {w}x{h} map"));
    }
    let cell = Cell::new((at % w) as i32, (at / w) as i32);
    if floor.walls.contains(&cell) {
        return Err(format!("cell {at} {cell} is a wall"));
    }
    Ok(cell)
}

/// The map as the files' cells are checked against it.
struct Map {
    width: i32,
    height: i32,
    walls: HashSet<Cell>,
}

impl Map {
    fn of(floor: &FloorPlan) -> Self {
        Map {
            width: floor.width,
            height: floor.height,
            walls: floor.obstacles.iter().copied().collect(),
        }
    }
}

fn distinct(starts: &[Cell]) -> Result<(), String> {
    let mut seen = HashSet::new();
    match starts.iter().find(|c| !seen.insert(**c)) {
        Some(twice) => Err(format!("two agents start at {twice}")),
        None => Ok(()),
    }
}

/// Simulated milliseconds per LoRR timestep: one move of every agent, at
/// the agents' configured pace (`reflex_hz / move_every_ticks`).
pub fn step_ms() -> u64 {
    let config = swarmd_config::load(None, &[]).expect("the embedded defaults load");
    let agents = &config.agents;
    1_000 * agents.move_every_ticks / u64::from(agents.reflex_hz)
}
