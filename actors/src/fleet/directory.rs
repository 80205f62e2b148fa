use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Endpoint, EndpointError};

/// This node's addressable actors by name. Bounded by whoever registers
/// (the agents supervisor's `max_children`).
#[derive(Clone, Default)]
pub struct LocalDirectory(Arc<Mutex<BTreeMap<String, Endpoint>>>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliverError {
    #[error("no actor named {0:?} on this node")]
    NoSuchActor(String),
    #[error("actor {name:?} refused the message: {reason}")]
    Refused { name: String, reason: EndpointError },
}

impl LocalDirectory {
    /// Registers `name`; `false` if the name is taken.
    pub fn register(&self, name: &str, endpoint: Endpoint) -> bool {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.contains_key(name) {
            return false;
        }
        map.insert(name.to_string(), endpoint);
        true
    }

    pub fn unregister(&self, name: &str) -> bool {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(name).is_some()
    }

    pub fn contains(&self, name: &str) -> bool {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.contains_key(name)
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Delivers `payloads` in order, looking `name` up once. Returns how many
    /// were refused (each is a message lost to this actor) or that it is missing.
    pub fn deliver_all(&self, name: &str, payloads: Vec<Vec<u8>>) -> Result<usize, DeliverError> {
        let endpoint = {
            let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            map.get(name).cloned()
        };
        let endpoint = endpoint.ok_or_else(|| DeliverError::NoSuchActor(name.to_string()))?;
        Ok(endpoint.deliver_all(payloads))
    }

    pub fn deliver(&self, name: &str, payload: Vec<u8>) -> Result<(), DeliverError> {
        let endpoint = {
            let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            map.get(name).cloned()
        };
        let endpoint = endpoint.ok_or_else(|| DeliverError::NoSuchActor(name.to_string()))?;
        endpoint
            .deliver(payload)
            .map_err(|reason| DeliverError::Refused {
                name: name.to_string(),
                reason,
            })
    }
}
