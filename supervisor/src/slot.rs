use std::sync::{Arc, RwLock};

use ractor::{ActorRef, Message};

/// The current incarnation of a supervised actor. A restart makes a new actor
/// with a new `ActorRef`; the child's start function stores it here, and
/// whoever talks to the child reads it here, so nobody holds a dead ref.
pub struct ActorSlot<M: Message>(Arc<RwLock<Option<ActorRef<M>>>>);

impl<M: Message> ActorSlot<M> {
    pub fn new() -> Self {
        Self(Arc::new(RwLock::new(None)))
    }

    pub fn set(&self, actor: ActorRef<M>) {
        *self.0.write().expect("actor slot poisoned") = Some(actor);
    }

    /// The latest incarnation, if one has started.
    pub fn get(&self) -> Option<ActorRef<M>> {
        self.0.read().expect("actor slot poisoned").clone()
    }
}

impl<M: Message> Clone for ActorSlot<M> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<M: Message> Default for ActorSlot<M> {
    fn default() -> Self {
        Self::new()
    }
}
