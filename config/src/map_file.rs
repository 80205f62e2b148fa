//! `world.map`: a floor in the MovingAI `.map` format, the common benchmark
//! format of multi-agent path finding (movingai.com/benchmarks):
//!
//! ```text
//! type octile
//! height 6
//! width 8
//! map
//! ........
//! .@@@@@@.
//! ```
//!
//! `.`, `G`, `S` and `E` (a League of Robot Runners endpoint) are free; `@`,
//! `O`, `T` and `W` are blocked. Row `y` of
//! the map is row `y` of the grid (`y` grows southwards), column `x` its `x`.
//! Docks are `world.docks`, or else the free cells of the map's outermost
//! ring that has any: the border of an open map, the cells along the inside
//! of the outer wall of a walled one (most benchmark maps), in the floor's
//! largest connected area.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use swarmd_messages::swarm::{Cell, FloorPlan};

/// A map side, in cells: at least a built-in grid's, and small enough that
/// the floor plan an agent is welcomed with stays well inside one frame.
pub const MAP_WIDTHS: std::ops::RangeInclusive<i32> = 8..=512;
pub const MAP_HEIGHTS: std::ops::RangeInclusive<i32> = 6..=512;

/// What is wrong with a map file, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

fn error(line: usize, reason: impl Into<String>) -> MapError {
    MapError {
        line,
        reason: reason.into(),
    }
}

/// Reads and parses `path`: the floor, with `docks` (or the ring rule).
pub fn load(path: &Path, docks: &[[i32; 2]]) -> Result<FloorPlan, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse(&text, docks).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a map's text into a floor plan.
pub fn parse(text: &str, docks: &[[i32; 2]]) -> Result<FloorPlan, MapError> {
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).enumerate();
    let mut next = |what: &str| {
        lines.next().map(|(i, l)| (i + 1, l)).ok_or_else(|| {
            error(
                text.lines().count() + 1,
                format!("expected {what}, found the end of the file"),
            )
        })
    };
    let (line, kind) = next("`type octile`")?;
    if kind.trim() != "type octile" {
        return Err(error(
            line,
            format!("expected `type octile`, found {kind:?}"),
        ));
    }
    let (height_line, height) = header_number(next("`height N`")?, "height")?;
    let (width_line, width) = header_number(next("`width N`")?, "width")?;
    if !MAP_HEIGHTS.contains(&height) {
        let why = format!("height {height} is outside {MAP_HEIGHTS:?}");
        return Err(error(height_line, why));
    }
    if !MAP_WIDTHS.contains(&width) {
        return Err(error(
            width_line,
            format!("width {width} is outside {MAP_WIDTHS:?}"),
        ));
    }
    let (line, word) = next("`map`")?;
    if word.trim() != "map" {
        return Err(error(line, format!("expected `map`, found {word:?}")));
    }
    let mut obstacles = Vec::new();
    for y in 0..height {
        let (line, row) = next(&format!("row {} of {height}", y + 1))?;
        obstacles.extend(parse_row(line, row, y, width)?);
    }
    if let Some((line, extra)) = lines.find(|(_, l)| !l.trim().is_empty()) {
        let why = format!("the map has {height} rows, but more follows: {extra:?}");
        return Err(error(line + 1, why));
    }
    let mut plan = FloorPlan {
        width,
        height,
        obstacles,
        docks: Vec::new(),
    };
    plan.docks = pick_docks(&plan, docks).map_err(|why| error(1, why))?;
    Ok(plan)
}

fn header_number((line, text): (usize, &str), key: &str) -> Result<(usize, i32), MapError> {
    let value = text
        .trim()
        .strip_prefix(key)
        .filter(|rest| rest.starts_with(' ') || rest.starts_with('\t'))
        .ok_or_else(|| error(line, format!("expected `{key} N`, found {text:?}")))?;
    let n = value.trim().parse::<i32>().map_err(|_| {
        error(
            line,
            format!("`{key}` must be a whole number, found {:?}", value.trim()),
        )
    })?;
    Ok((line, n))
}

/// The blocked cells of row `y`.
fn parse_row(line: usize, row: &str, y: i32, width: i32) -> Result<Vec<Cell>, MapError> {
    let cells = row.chars().count();
    if cells != width as usize {
        let why = format!("row {} has {cells} cells, the map is {width} wide", y + 1);
        return Err(error(line, why));
    }
    let mut blocked = Vec::new();
    for (x, terrain) in row.chars().enumerate() {
        match terrain {
            // `E`: a League of Robot Runners endpoint, free floor there.
            '.' | 'G' | 'S' | 'E' => {}
            '@' | 'O' | 'T' | 'W' => blocked.push(Cell::new(x as i32, y)),
            other => {
                let why = format!(
                    "column {}: {other:?} is not a terrain (free: . G S E; blocked: @ O T W)",
                    x + 1
                );
                return Err(error(line, why));
            }
        }
    }
    Ok(blocked)
}

/// The given docks, each on a free cell; or else the free cells of the
/// outermost ring of the map that has any (ring `k`: the cells `k` steps in
/// from the edge): the border itself on an open map, the cells along the
/// inside of the outer wall on a walled one (most benchmark maps). Only
/// cells of the floor's largest connected area count, so no dock is shut
/// away where no agent can reach it.
fn pick_docks(plan: &FloorPlan, given: &[[i32; 2]]) -> Result<Vec<Cell>, String> {
    let blocked: BTreeSet<Cell> = plan.obstacles.iter().copied().collect();
    let free = |c: Cell| plan.bounds().contains(c) && !blocked.contains(&c);
    if !given.is_empty() {
        let docks: Vec<Cell> = given.iter().map(|[x, y]| Cell::new(*x, *y)).collect();
        if let Some(bad) = docks.iter().find(|c| !free(**c)) {
            return Err(format!(
                "dock {bad} (world.docks) is not a free cell of the map"
            ));
        }
        return Ok(docks);
    }
    let floor = largest_area(plan, &free);
    let deepest = (plan.width.min(plan.height) + 1) / 2;
    (0..deepest)
        .map(|k| {
            ring(plan, k)
                .filter(|c| floor.contains(c))
                .collect::<Vec<_>>()
        })
        .find(|docks| !docks.is_empty())
        .ok_or_else(|| "the map has no free cell to dock at: give world.docks".into())
}

/// The cells `k` steps in from the map's edge: its top and bottom rows
/// column by column, then its sides row by row, each cell once.
fn ring(plan: &FloorPlan, k: i32) -> impl Iterator<Item = Cell> {
    let (x0, y0, x1, y1) = (k, k, plan.width - 1 - k, plan.height - 1 - k);
    let rows = (x0..=x1).flat_map(move |x| [Cell::new(x, y0), Cell::new(x, y1)]);
    let sides = (y0 + 1..y1).flat_map(move |y| [Cell::new(x0, y), Cell::new(x1, y)]);
    // A ring one row or one column thin would name its cells twice.
    let mut named = BTreeSet::new();
    rows.chain(sides).filter(move |c| named.insert(*c))
}

/// The free cells of the largest 4-connected area of the floor.
fn largest_area(plan: &FloorPlan, free: &impl Fn(Cell) -> bool) -> BTreeSet<Cell> {
    let mut seen = BTreeSet::new();
    let mut largest = BTreeSet::new();
    for y in 0..plan.height {
        for x in 0..plan.width {
            let start = Cell::new(x, y);
            if !free(start) || seen.contains(&start) {
                continue;
            }
            let area = flood(start, free);
            seen.extend(area.iter().copied());
            if area.len() > largest.len() {
                largest = area;
            }
        }
    }
    largest
}

/// Every free cell 4-connected to `start`.
fn flood(start: Cell, free: &impl Fn(Cell) -> bool) -> BTreeSet<Cell> {
    let mut area = BTreeSet::from([start]);
    let mut frontier = vec![start];
    while let Some(c) = frontier.pop() {
        let around =
            [(1, 0), (-1, 0), (0, 1), (0, -1)].map(|(dx, dy)| Cell::new(c.x + dx, c.y + dy));
        for next in around {
            if free(next) && area.insert(next) {
                frontier.push(next);
            }
        }
    }
    area
}

/// `world.docks` as a command line gives them: `X,Y;X,Y;…`.
pub fn parse_docks(text: &str) -> Result<Vec<[i32; 2]>, String> {
    let pair = |item: &str| -> Option<[i32; 2]> {
        let (x, y) = item.trim().split_once(',')?;
        Some([x.trim().parse().ok()?, y.trim().parse().ok()?])
    };
    text.split(';')
        .map(|item| pair(item).ok_or_else(|| format!("{item:?} is not a dock: give X,Y;X,Y;…")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "type octile\nheight 6\nwidth 8\nmap\n\
        ........\n\
        .@@..TT.\n\
        ........\n\
        .OO..WW.\n\
        ........\n\
        @@@@@@@@\n";

    #[test]
    fn a_small_map_loads_with_its_walls_and_border_docks() {
        let plan = parse(SMALL, &[]).unwrap();
        assert_eq!((plan.width, plan.height), (8, 6));
        assert_eq!(plan.obstacles.len(), 8 + 8);
        assert!(plan.obstacles.contains(&Cell::new(1, 1)));
        assert!(plan.obstacles.contains(&Cell::new(6, 3)));
        assert!(!plan.obstacles.contains(&Cell::new(0, 1)));
        // Top row (8), west and east columns of rows 1..=4 (8); the bottom row is wall.
        assert_eq!(plan.docks.len(), 16);
        assert!(plan.docks.iter().all(|d| !plan.obstacles.contains(d)));
    }

    #[test]
    fn given_docks_must_be_free_cells() {
        let plan = parse(SMALL, &[[0, 2], [7, 4]]).unwrap();
        assert_eq!(plan.docks, vec![Cell::new(0, 2), Cell::new(7, 4)]);
        let err = parse(SMALL, &[[1, 1]]).unwrap_err();
        assert!(err.reason.contains("dock (1,1)"), "{err}");
    }

    #[test]
    fn windows_line_endings_are_fine() {
        let crlf = SMALL.replace('\n', "\r\n");
        assert_eq!(parse(&crlf, &[]).unwrap(), parse(SMALL, &[]).unwrap());
    }

    #[test]
    fn a_malformed_map_is_refused_naming_its_line() {
        let cases: [(&str, usize, &str); 7] = [
            ("type grid\n", 1, "type octile"),
            ("type octile\nheight six\n", 2, "whole number"),
            ("type octile\nheight 6\nwidth 9000\n", 3, "outside"),
            (
                "type octile\nheight 6\nwidth 8\nmapp\n",
                4,
                "expected `map`",
            ),
            (&SMALL.replace(".@@..TT.", ".@@..TT"), 6, "has 7 cells"),
            (&SMALL.replace(".OO..WW.", ".OO..#W."), 8, "column 6"),
            (&format!("{SMALL}........\n"), 11, "more follows"),
        ];
        for (text, line, says) in cases {
            let err = parse(text, &[]).unwrap_err();
            assert_eq!(err.line, line, "{err} for {text:?}");
            assert!(err.reason.contains(says), "{err} should say {says:?}");
        }
        let short = parse("type octile\nheight 6\nwidth 8\nmap\n........\n", &[]).unwrap_err();
        assert_eq!(short.line, 6);
        assert!(short.reason.contains("row 2 of 6"), "{short}");
    }

    #[test]
    fn given_docks_win_over_the_walled_maps_rule() {
        let walled = "type octile\nheight 6\nwidth 8\nmap\n@@@@@@@@\n@......@\n@......@\n@......@\n@......@\n@@@@@@@@\n";
        assert_eq!(parse(walled, &[]).unwrap().docks.len(), 16);
        assert_eq!(
            parse(walled, &[[1, 1]]).unwrap().docks,
            vec![Cell::new(1, 1)]
        );
    }

    const WALLED: &str = "type octile\nheight 6\nwidth 8\nmap\n\
        @@@@@@@@\n\
        @......@\n\
        @.@@.@.@\n\
        @......@\n\
        @......@\n\
        @@@@@@@@\n";

    #[test]
    fn a_walled_map_docks_along_the_inside_of_its_outer_wall() {
        let plan = parse(WALLED, &[]).unwrap();
        // Ring 1: rows 1 and 4 (6 each), columns 1 and 6 of rows 2..=3 (4).
        assert_eq!(plan.docks.len(), 16, "{:?}", plan.docks);
        assert!(plan.docks.contains(&Cell::new(1, 1)));
        assert!(plan.docks.contains(&Cell::new(6, 4)));
        assert!(
            !plan.docks.contains(&Cell::new(3, 3)),
            "inner cells are no docks"
        );
        assert!(plan.docks.iter().all(|d| !plan.obstacles.contains(d)));
    }

    #[test]
    fn docks_lie_in_the_floors_largest_area() {
        // Two cells walled off in the north-west corner; a double wall.
        let text = "type octile\nheight 8\nwidth 8\nmap\n\
            @@@@@@@@\n\
            @..@@@@@\n\
            @@@@...@\n\
            @@@....@\n\
            @@.....@\n\
            @@.....@\n\
            @@@@@@@@\n\
            @@@@@@@@\n";
        let plan = parse(text, &[]).unwrap();
        assert!(
            !plan.docks.contains(&Cell::new(1, 1)),
            "shut away: {:?}",
            plan.docks
        );
        assert!(!plan.docks.contains(&Cell::new(2, 1)));
        // Ring 1's only cells in the large area: (6,2)..(6,5); none on (1,_).
        assert_eq!(
            plan.docks,
            vec![
                Cell::new(6, 2),
                Cell::new(6, 3),
                Cell::new(6, 4),
                Cell::new(6, 5)
            ]
        );
        let all_wall =
            "type octile\nheight 6\nwidth 8\nmap\n".to_string() + &"@@@@@@@@\n".repeat(6);
        let err = parse(&all_wall, &[]).unwrap_err();
        assert!(err.reason.contains("no free cell to dock at"), "{err}");
    }

    #[test]
    fn the_bundled_walled_map_loads() {
        let text = include_str!("../../config/maps/warehouse-walled.map");
        let plan = parse(text, &[]).unwrap();
        assert_eq!((plan.width, plan.height), (33, 15));
        assert!(
            plan.docks
                .iter()
                .all(|d| d.x == 1 || d.y == 1 || d.x == 31 || d.y == 13)
        );
        assert_eq!(plan.docks.len(), 2 * 31 + 2 * 11);
    }

    #[test]
    fn docks_parse_from_a_list_of_pairs() {
        assert_eq!(parse_docks("1,2; 30,4").unwrap(), vec![[1, 2], [30, 4]]);
        assert_eq!(parse_docks(" 5,6 ").unwrap(), vec![[5, 6]]);
        for bad in ["", "1", "1,2;", "a,b", "1,2,3"] {
            assert!(parse_docks(bad).is_err(), "{bad:?}");
        }
    }
}
