//! Erlang/OTP-style supervision on ractor.
//!
//! ractor only has links. This crate adds what OTP's `supervisor` gives: ordered
//! child specs, restart types, the `one_for_one` / `one_for_all` / `rest_for_one`
//! strategies, restart intensity with escalation, and ordered shutdown. It is
//! generic: it knows nothing of swarmd's types.
//!
//! It also defines the two smallest runtime seams, [`Clock`] and [`Entropy`], so
//! every crate above (and the supervisor's own backoff) can take time and
//! randomness from the node context rather than the OS.

mod child;
mod intensity;
pub mod seams;
mod supervisor;

pub use child::{ChildInfo, ChildSpec, Restart, Shutdown, StartFn, StartFuture};
pub use intensity::Intensity;
pub use supervisor::{Strategy, Supervisor, SupervisorMsg, SupervisorSpec};
