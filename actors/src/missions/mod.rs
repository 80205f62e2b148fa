//! Missions (cloud role): goals split into assignments for agents by
//! capability and load, progress followed, work of lost agents reassigned,
//! and everything kept on disk across restarts.

pub mod book;
pub mod dead_letters;
mod planner;
pub mod recipe;
pub mod sandboxed;
mod store;
pub mod trace;

pub use book::{Mission, MissionState, Task, TaskState};
pub use planner::{MAX_MISSIONS, MissionPlanner, PlannerArgs, PlannerMsg, planner_child};
