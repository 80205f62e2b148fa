//! Erlang/OTP-style supervision on ractor.
//!
//! ractor only has links. This crate adds what OTP's `supervisor` gives: ordered
//! child specs, restart types, the `one_for_one` / `one_for_all` /
//! `rest_for_one` / `simple_one_for_one` strategies, restart intensity with
//! escalation, significant children with auto-shutdown, the child API
//! (`start_child`, `terminate_child`, `restart_child`, `delete_child`,
//! `which_children`, `count_children`), ordered shutdown, a tree snapshot and a
//! stream of supervision events. It knows nothing of swarmd's types.
//!
//! Beyond OTP: an optional jittered restart [`Backoff`], and a 30 s limit on
//! any child's start.
//!
//! What happens to a stopping child's mail is ractor's rule and is documented
//! on [`Shutdown`]: queued messages are dropped and pending callers get a
//! `SenderError`; a restarted child is a new actor with an empty mailbox.
//!
//! It also defines the two smallest runtime seams, [`seams::Clock`] and
//! [`seams::Entropy`], so every crate above (and the backoff here) takes time
//! and randomness from the node context rather than the OS. The supervisor
//! itself measures time with `tokio::time`, which the simulator pauses.

mod api;
mod child;
mod children;
mod events;
mod intensity;
pub mod seams;
mod slot;
mod spec;
mod state;
mod strategy;
mod supervisor;

pub use api::{
    CALL_TIMEOUT, ChildSnapshot, Description, SupervisorError, SupervisorMsg, TreeSnapshot,
    count_children, delete_child, describe, restart_child, snapshot, start_child, terminate_child,
    which_children,
};
pub use child::{
    ChildCount, ChildInfo, ChildKind, ChildSpec, ChildStatus, Restart, Shutdown, StartFn,
    StartFuture,
};
pub use events::{EventSender, ExitReason, SupervisorEvent, event_channel};
pub use intensity::{Intensity, RestartWindow};
pub use slot::ActorSlot;
pub use spec::{AutoShutdown, Backoff, Strategy, SupervisorSpec};
pub use state::SupervisorState;
pub use supervisor::Supervisor;
