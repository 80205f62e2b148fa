//! How swarm actors reach each other by address, on this node or another.
//! The cluster crate implements it over the gateway; tests and the simulator
//! use [`LocalRouter`], which only knows this node's directory.

use std::sync::Arc;

use serde::Serialize;
use swarmd_messages::encode_payload;
use swarmd_messages::swarm::Address;

use crate::agents::LocalDirectory;

pub trait Router: Send + Sync + 'static {
    /// This node's name.
    fn node(&self) -> &str;

    /// One-way, like Erlang's `!`: `Err` says the message surely did not go.
    fn cast_bytes(&self, to: &Address, payload: Vec<u8>) -> Result<(), String>;

    /// The node hosting the world right now, as far as this node knows.
    fn world_host(&self) -> Option<String>;

    /// The node running the mission planner right now, as far as this node knows.
    fn cloud(&self) -> Option<String>;
}

/// Encodes `msg` and casts it.
pub fn cast<T: Serialize>(router: &dyn Router, to: &Address, msg: &T) -> Result<(), String> {
    let bytes = encode_payload(msg).map_err(|e| e.to_string())?;
    router.cast_bytes(to, bytes)
}

/// A router for one node on its own: the world and the planner are local.
#[derive(Clone)]
pub struct LocalRouter {
    pub node: Arc<str>,
    pub directory: LocalDirectory,
}

impl Router for LocalRouter {
    fn node(&self) -> &str {
        &self.node
    }

    fn cast_bytes(&self, to: &Address, payload: Vec<u8>) -> Result<(), String> {
        if to.node != *self.node {
            return Err(format!("node {} is not reachable from here", to.node));
        }
        self.directory
            .deliver(&to.name, payload)
            .map_err(|e| e.to_string())
    }

    fn world_host(&self) -> Option<String> {
        Some(self.node.to_string())
    }

    fn cloud(&self) -> Option<String> {
        Some(self.node.to_string())
    }
}
