//! How swarm actors reach each other by address, on this node or another.
//! The cluster crate implements it over the gateway; tests and the simulator
//! use [`LocalRouter`], which only knows this node's directory.

use std::sync::Arc;

use serde::Serialize;
use swarmd_messages::swarm::Address;
use swarmd_messages::{CodecError, encode_payload};

use crate::fencing::Fence;
use crate::fleet::{DeliverError, LocalDirectory};

/// Why a cast surely did not go.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot encode the message: {0}")]
    Encode(#[from] CodecError),
    #[error("node {0} is not reachable from here")]
    Unreachable(String),
    #[error("no {0} is up")]
    NoHost(&'static str),
    #[error(transparent)]
    Deliver(#[from] DeliverError),
    /// The cluster transport refused it (its own error, boxed: it lives above this crate).
    #[error(transparent)]
    Transport(Box<dyn std::error::Error + Send + Sync>),
}

pub trait Router: Send + Sync + 'static {
    /// This node's name.
    fn node(&self) -> &str;

    /// One-way, like Erlang's `!`: `Err` says the message surely did not go.
    fn cast_bytes(&self, to: &Address, payload: Vec<u8>) -> Result<(), SendError>;

    /// The node hosting the world right now, as far as this node knows.
    fn world_host(&self) -> Option<String>;

    /// The node running the mission planner right now, as far as this node knows.
    fn cloud(&self) -> Option<String>;

    /// The node's fencing tokens: assignments older than the newest seen are refused.
    fn fence(&self) -> &Fence;
}

/// Encodes `msg` and casts it.
pub fn cast<T: Serialize>(router: &dyn Router, to: &Address, msg: &T) -> Result<(), SendError> {
    let bytes = encode_payload(msg)?;
    router.cast_bytes(to, bytes)
}

/// A router for one node on its own: the world and the planner are local.
#[derive(Clone)]
pub struct LocalRouter {
    pub node: Arc<str>,
    pub directory: LocalDirectory,
    pub fence: Fence,
}

impl Router for LocalRouter {
    fn node(&self) -> &str {
        &self.node
    }

    fn cast_bytes(&self, to: &Address, payload: Vec<u8>) -> Result<(), SendError> {
        if to.node != *self.node {
            return Err(SendError::Unreachable(to.node.clone()));
        }
        Ok(self.directory.deliver(&to.name, payload)?)
    }

    fn world_host(&self) -> Option<String> {
        Some(self.node.to_string())
    }

    fn cloud(&self) -> Option<String> {
        Some(self.node.to_string())
    }

    fn fence(&self) -> &Fence {
        &self.fence
    }
}
