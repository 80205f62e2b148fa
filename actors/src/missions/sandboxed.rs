//! Sandboxed recipe steps: a step whose mission a Wasm guest plans when the
//! step starts, run in the sandbox under its limits (fuel, memory, a
//! deadline on the node's clock; see [`crate::sandbox`]). A guest that
//! traps, runs out, misses the deadline or answers outside the ABI fails
//! that attempt of the step, with the reason; retries and the dead-letter
//! queue apply as to any step.
//!
//! # The step ABI
//!
//! The module imports nothing and exports
//! `step_goal(which: i32, width: i32, height: i32, attempt: i32, reserved: i32) -> i32`,
//! called five times per attempt with the floor's size (0 when unknown)
//! and the attempt (from 1):
//!
//! - `which = 0`: the goal's kind, 0 cover a sector, 1 fetch an item;
//! - `which = 1..=4`: cover: `min.x`, `min.y`, `max.x`, `max.y`; fetch:
//!   `item.x`, `item.y`, `dock.x`, `dock.y`.
//!
//! Every cell must lie on the floor when its size is known, and a sector's
//! `min` must not pass its `max`.

use swarmd_messages::swarm::{Cell, FloorPlan, Goal, Rect};
use tokio::time::Instant;

use crate::sandbox::{Guest, SandboxLimits};

/// Checks that `module` loads as a step guest (at submission).
pub fn check(module: &[u8], limits: SandboxLimits) -> Result<(), String> {
    Guest::load_step(module, limits.clone())
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The mission the guest in `module` plans for `attempt` of its step.
pub async fn plan_step(
    module: &[u8],
    floor: Option<&FloorPlan>,
    attempt: u32,
    limits: SandboxLimits,
) -> Result<Goal, String> {
    let guest_error = |e: crate::sandbox::SandboxError| format!("the step's guest: {e}");
    let mut guest = Guest::load_step(module, limits).map_err(guest_error)?;
    let size = floor.map_or((0, 0), |f| (f.width, f.height));
    let attempt = i32::try_from(attempt).unwrap_or(i32::MAX);
    let mut answers = [0; 5];
    for (which, answer) in answers.iter_mut().enumerate() {
        let which = which as i32;
        *answer = guest
            .step_goal(&Instant::now, which, size, attempt)
            .await
            .map_err(guest_error)?;
    }
    let [kind, a, b, c, d] = answers;
    let (first, second) = (Cell::new(a, b), Cell::new(c, d));
    let on_floor = |cell: Cell| {
        size == (0, 0) || (0..size.0).contains(&cell.x) && (0..size.1).contains(&cell.y)
    };
    if let Some(off) = [first, second].into_iter().find(|c| !on_floor(*c)) {
        let (w, h) = size;
        return Err(format!(
            "the step's guest planned {off}, off the {w}x{h} floor"
        ));
    }
    match kind {
        0 if first.x <= second.x && first.y <= second.y => Ok(Goal::CoverSector {
            sector: Rect {
                min: first,
                max: second,
            },
        }),
        0 => Err(format!(
            "the step's guest planned a sector from {first} past {second}"
        )),
        1 => Ok(Goal::Fetch {
            item: first,
            dock: second,
        }),
        other => Err(format!(
            "the step's guest answered kind {other}; expected 0 (cover) or 1 (fetch)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUARTER: &str = include_str!("../sandbox/guests/step_quarter.wat");

    fn floor() -> FloorPlan {
        FloorPlan {
            width: 24,
            height: 12,
            obstacles: vec![],
            docks: vec![],
        }
    }

    #[tokio::test]
    async fn the_guest_plans_a_quarter_of_the_floor_per_attempt() {
        let limits = SandboxLimits::default();
        check(QUARTER.as_bytes(), limits.clone()).unwrap();
        let goal = plan_step(QUARTER.as_bytes(), Some(&floor()), 1, limits.clone()).await;
        let sector = Rect {
            min: Cell::new(0, 0),
            max: Cell::new(11, 5),
        };
        assert_eq!(goal, Ok(Goal::CoverSector { sector }));
        let goal = plan_step(QUARTER.as_bytes(), Some(&floor()), 2, limits.clone()).await;
        let sector = Rect {
            min: Cell::new(12, 0),
            max: Cell::new(23, 5),
        };
        assert_eq!(goal, Ok(Goal::CoverSector { sector }));
    }

    #[tokio::test]
    async fn a_guest_that_spins_or_answers_off_the_floor_fails_the_attempt_with_why() {
        let limits = SandboxLimits::default();
        let spin = "(module (func (export \"step_goal\") (param i32 i32 i32 i32 i32) (result i32) (loop (br 0)) (i32.const 0)))";
        let why = plan_step(spin.as_bytes(), Some(&floor()), 1, limits.clone())
            .await
            .unwrap_err();
        assert!(
            why.starts_with("the step's guest: ")
                && (why.contains("fuel") || why.contains("deadline")),
            "{why}"
        );
        let far = "(module (func (export \"step_goal\") (param i32 i32 i32 i32 i32) (result i32) (i32.const 99)))";
        let why = plan_step(far.as_bytes(), Some(&floor()), 1, limits.clone())
            .await
            .unwrap_err();
        assert_eq!(why, "the step's guest planned (99,99), off the 24x12 floor");
        let agent_planner = crate::sandbox::guests::PLANNER;
        let why = check(agent_planner.as_bytes(), limits.clone()).unwrap_err();
        assert!(why.contains("step_goal"), "{why}");
    }
}
