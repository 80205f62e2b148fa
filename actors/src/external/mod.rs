//! Bodies and brains in any language (DESIGN §17): an agent of any domain
//! whose body (perception and action) or brain (decisions) is an external
//! process, speaking the agent protocol over the mesh under
//! `swarmd/<tenant>/agent/<agent>/…` (PROTOCOL.md, beside this file).
//!
//! The runtime keeps its guarantees whatever the external side does: every
//! command passes the reflex's safety rules; a silent body halts the agent
//! in its safe state; a late or unreadable brain is journaled and the
//! domain's planner decides; an emergency stop reaches the body as the safe
//! command within a reflex tick. Spawn parameters choose the sides:
//! `body = "remote"`, `brain = "remote"` (`body_silent_ms`, `brain_deadline_ms`).

mod body;
mod brain;
mod link;
pub mod protocol;
mod rejections;

pub use body::RemoteBody;
pub use brain::{Heard, RemoteBrain};
pub use link::Link;
