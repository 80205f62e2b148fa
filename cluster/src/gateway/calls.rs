//! What this node waits for from others: replies to its calls and exits of the
//! remote actors it watches. Both tables are bounded; entries whose waiter has
//! gone away are swept on every tick.

use std::collections::BTreeMap;

use swarmd_messages::Reply;
use tokio::sync::oneshot;

use super::{CallError, ExitCause, RemoteExit};

/// Calls in flight at most; beyond, a call fails with `Overloaded`.
pub const MAX_PENDING_CALLS: usize = 65_536;
/// Remote watches at most, each way.
pub const MAX_WATCHES: usize = 100_000;

struct PendingCall {
    node: String,
    reply: oneshot::Sender<Result<Reply, CallError>>,
}

struct Watch {
    node: String,
    actor: String,
    notify: oneshot::Sender<RemoteExit>,
}

#[derive(Default)]
pub struct Waited {
    calls: BTreeMap<u64, PendingCall>,
    watches: BTreeMap<u64, Watch>,
}

impl Waited {
    pub fn add_call(
        &mut self,
        id: u64,
        node: &str,
        reply: oneshot::Sender<Result<Reply, CallError>>,
    ) -> Result<(), oneshot::Sender<Result<Reply, CallError>>> {
        if self.calls.len() >= MAX_PENDING_CALLS {
            return Err(reply);
        }
        let call = PendingCall {
            node: node.to_string(),
            reply,
        };
        assert!(self.calls.insert(id, call).is_none(), "call ids are unique");
        Ok(())
    }

    pub fn add_watch(
        &mut self,
        id: u64,
        node: &str,
        actor: &str,
        notify: oneshot::Sender<RemoteExit>,
    ) -> Result<(), oneshot::Sender<RemoteExit>> {
        if self.watches.len() >= MAX_WATCHES {
            return Err(notify);
        }
        let watch = Watch {
            node: node.to_string(),
            actor: actor.to_string(),
            notify,
        };
        assert!(
            self.watches.insert(id, watch).is_none(),
            "watch ids are unique"
        );
        Ok(())
    }

    /// Completes call `id`. A reply nobody waits for any more is dropped.
    pub fn reply(&mut self, id: u64, body: Reply) -> bool {
        match self.calls.remove(&id) {
            Some(call) => {
                let _ = call.reply.send(Ok(body));
                true
            }
            None => false,
        }
    }

    /// Fires watch `id` with `cause`.
    pub fn exited(&mut self, id: u64, cause: ExitCause) {
        if let Some(w) = self.watches.remove(&id) {
            let exit = RemoteExit {
                node: w.node,
                actor: w.actor,
                cause,
            };
            let _ = w.notify.send(exit);
        }
    }

    /// `node` is gone: its calls fail and its watches fire.
    pub fn node_lost(&mut self, node: &str, error: CallError, cause: ExitCause) {
        let calls: Vec<u64> = ids_of(&self.calls, |c| c.node == node);
        for id in calls {
            let call = self.calls.remove(&id).expect("listed above");
            let _ = call.reply.send(Err(error.clone()));
        }
        let watches: Vec<u64> = ids_of(&self.watches, |w| w.node == node);
        for id in watches {
            self.exited(id, cause.clone());
        }
    }

    /// Drops entries whose caller stopped waiting (timed out or went away).
    /// Returns the watches to cancel remotely, as `(node, id)`.
    pub fn sweep(&mut self) -> Vec<(String, u64)> {
        self.calls.retain(|_, c| !c.reply.is_closed());
        let gone = ids_of(&self.watches, |w| w.notify.is_closed());
        gone.into_iter()
            .filter_map(|id| self.watches.remove(&id).map(|w| (w.node, id)))
            .collect()
    }

    pub fn len(&self) -> (usize, usize) {
        (self.calls.len(), self.watches.len())
    }
}

fn ids_of<T>(map: &BTreeMap<u64, T>, pick: impl Fn(&T) -> bool) -> Vec<u64> {
    map.iter()
        .filter(|(_, v)| pick(v))
        .map(|(id, _)| *id)
        .collect()
}

/// Watches other nodes hold on this node's actors: actor name → (node, watch id).
#[derive(Default)]
pub struct Watched {
    by_actor: BTreeMap<String, Vec<(String, u64)>>,
    count: usize,
}

impl Watched {
    pub fn add(&mut self, actor: &str, node: &str, watch: u64) -> bool {
        if self.count >= MAX_WATCHES {
            return false;
        }
        self.count += 1;
        let watchers = self.by_actor.entry(actor.to_string()).or_default();
        watchers.push((node.to_string(), watch));
        true
    }

    pub fn remove(&mut self, node: &str, watch: u64) {
        for watchers in self.by_actor.values_mut() {
            let before = watchers.len();
            watchers.retain(|(n, w)| !(n == node && *w == watch));
            self.count -= before - watchers.len();
        }
        self.by_actor.retain(|_, w| !w.is_empty());
    }

    /// The watchers of `actor`, which just exited.
    pub fn take(&mut self, actor: &str) -> Vec<(String, u64)> {
        let watchers = self.by_actor.remove(actor).unwrap_or_default();
        self.count -= watchers.len();
        watchers
    }

    pub fn forget_node(&mut self, node: &str) {
        for watchers in self.by_actor.values_mut() {
            let before = watchers.len();
            watchers.retain(|(n, _)| n != node);
            self.count -= before - watchers.len();
        }
        self.by_actor.retain(|_, w| !w.is_empty());
    }
}
