//! Types that cross a node boundary, and their codec.
//!
//! This crate is a leaf: types only, no actor logic. Everything on the wire is
//! serde + bincode 2 inside a versioned [`Envelope`]. Decoding is fallible and
//! bounded: a bad frame is an error value, never a panic and never an unbounded
//! allocation.

pub mod advert;
mod codec;
mod envelope;
mod event;
mod hash;
pub mod limits;
mod member;
pub mod peer;
pub mod recipe;
pub mod swarm;
pub mod task;
mod wire;

pub use codec::{
    CodecError, MAX_FRAME_BYTES, decode, decode_payload, decode_version, encode, encode_payload,
};
pub use envelope::{Envelope, SYSTEM_TENANT, TraceContext, WIRE_VERSION};
pub use event::{
    AgentChange, AuditOutcome, AuditRecord, BrainAnswer, DomainAct, Event, EventDraft, EventId,
    EventKind, FloorChange, GovernanceAction, LeadershipChange, MemberState, MissionChange,
    MissionOutcome, PlacementChange, SEQ_INCARNATION_SHIFT, StepChange, SupervisionAction,
    TaskChange, TaskRef, readable_event_id,
};
pub use hash::{StableHasher, stable_hash};
pub use wire::{
    LedgerRefused, MemberInfo, NO_TICKET, Reply, Request, Role, SpawnRejected, SpawnSpec, Ticket,
    WatchRefused, WireFrame, WireMsg,
};
