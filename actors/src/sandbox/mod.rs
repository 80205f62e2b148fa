//! The agent sandbox (DESIGN §4): untrusted agent behaviour, a planner, runs
//! as a WebAssembly module under fuel, memory and wall-clock limits. A trap,
//! running out of fuel or missing the deadline fails the [`Sandbox`] actor,
//! and the agent's supervisor handles it by its policy.
//!
//! # The guest ABI
//!
//! A guest is a WebAssembly module, given as WAT text or a binary. It imports
//! nothing: the sandbox provides no host functions, so no filesystem, network
//! or clock, and a module with any import is refused at load. It has no
//! `start` function, and at most one memory, one table and one instance.
//!
//! It exports:
//!
//! - `plan(x: i32, y: i32, goal_x: i32, goal_y: i32, blocked: i32) -> i32`:
//!   the agent stands at `(x, y)`; its goal cell is `(goal_x, goal_y)`, or
//!   `goal_x = goal_y = -1` when it has none; `blocked` is 1 when the last
//!   consistency check failed, else 0. Returns an intent: 0 hold, 1 go to the
//!   goal, 2 explore (detour before going on).
//! - `parameterize(intent: i32, x: i32, y: i32, goal_x: i32, goal_y: i32) -> i32`,
//!   optional: turns an intent into one step: 0 stay, 1 north (y - 1),
//!   2 east (x + 1), 3 south (y + 1), 4 west (x - 1).
//!
//! Any other return value is an ABI error, as is a missing or ill-typed
//! `plan`. [`guests::PLANNER`] is the reference guest.
//!
//! # The limits ([`SandboxLimits`])
//!
//! - **Fuel**: each call gets a fresh `fuel_per_call` (one unit is roughly
//!   one Wasm instruction); running out is [`SandboxError::OutOfFuel`].
//! - **Memory**: at most `memory_bytes` of linear memory. A `memory.grow`
//!   past it traps (it does not return -1), reported as
//!   [`SandboxError::Memory`]; so does a module whose initial memory is over.
//! - **Deadline**: each call must finish within `deadline` on the node's
//!   [`Clock`](crate::ctx::Clock), else [`SandboxError::Deadline`].
//!
//! After any error a [`Guest`] is poisoned and refuses further calls: the
//! actor fails and its restart loads the module afresh.
//!
//! # Why wasmi, and how the deadline works
//!
//! wasmi is an interpreter: it builds 7-10x faster than wasmtime and adds
//! 3.5 MB instead of 20, runs the same way on every host, and planners are
//! called at only 1-10 Hz. It has no epoch interruption, so the deadline is
//! built on resumable calls: a call gets its fuel in slices of `fuel_slice`.
//! When a slice runs dry the call is suspended; the sandbox checks the
//! per-call fuel cap and the deadline on tokio's monotonic clock (through a
//! [`Stopwatch`], so tests can step it), yields to the runtime, and resumes
//! with the next slice. The deadline is therefore only checked every slice,
//! and the simulator's paused, virtual time governs it too.

mod actor;
mod guest;
#[cfg(test)]
mod tests;

pub use actor::{Sandbox, SandboxArgs, SandboxMsg, SandboxState, sandbox_child};
pub use guest::{Guest, GuestIntent, PlanInput, SandboxError, SandboxLimits, Step, Stopwatch};

/// Guests shipped for tests, benchmarks and demos.
pub mod guests {
    /// The reference planner: holds without a goal or on it, explores when
    /// blocked,
    /// else goes to its goal by greedy steps, x first.
    pub const PLANNER: &str = include_str!("guests/planner.wat");
    /// `plan` executes `unreachable`.
    pub const TRAP: &str = include_str!("guests/trap.wat");
    /// `plan` loops forever.
    pub const SPIN: &str = include_str!("guests/spin.wat");
    /// `plan` grows its memory until the sandbox refuses.
    pub const HOG: &str = include_str!("guests/hog.wat");
    /// `plan` counts to 10^8: finite, but far longer than a deadline.
    pub const SLOW: &str = include_str!("guests/slow.wat");
    /// A recipe step's planner: a quarter of the floor per attempt.
    pub const STEP_QUARTER: &str = include_str!("guests/step_quarter.wat");
}
