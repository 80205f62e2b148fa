use std::time::Duration;

use ractor::{ActorRef, Message};
use tokio::sync::watch;

/// The current incarnation of a supervised actor. A restart makes a new actor
/// with a new `ActorRef`; the child's start function stores it here, and
/// whoever talks to the child reads it here, so nobody holds a dead ref.
pub struct ActorSlot<M: Message>(watch::Sender<Option<ActorRef<M>>>);

impl<M: Message> ActorSlot<M> {
    pub fn new() -> Self {
        Self(watch::Sender::new(None))
    }

    pub fn set(&self, actor: ActorRef<M>) {
        self.0.send_replace(Some(actor));
    }

    /// The latest incarnation, if one has started.
    pub fn get(&self) -> Option<ActorRef<M>> {
        self.0.borrow().clone()
    }

    /// The latest incarnation, waiting up to `limit` for the first to start.
    pub async fn wait(&self, limit: Duration) -> Option<ActorRef<M>> {
        let mut updates = self.0.subscribe();
        let started = tokio::time::timeout(limit, updates.wait_for(Option::is_some)).await;
        started.ok()?.ok()?.clone()
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
