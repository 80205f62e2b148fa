use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use tokio::sync::mpsc;

/// One message received from the mesh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub key: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeshError {
    #[error("the mesh is not enabled on this node: {0}")]
    Disabled(String),
    #[error("invalid key expression {key:?}: {reason}")]
    BadKey { key: String, reason: String },
    #[error("mesh transport error: {0}")]
    Transport(String),
}

/// The horizontal plane: edge-to-edge publish/subscribe over key expressions.
pub trait PubSub: Send + Sync + 'static {
    /// Publishes reliably: it waits for room rather than dropping.
    fn publish(&self, key: &str, payload: Vec<u8>) -> BoxFuture<'_, Result<(), MeshError>>;

    /// Subscribes to a key expression such as `swarm/acme/peers/**`.
    fn subscribe(&self, key_expr: &str) -> BoxFuture<'_, Result<Subscription, MeshError>>;

    /// Leaves the mesh. Publishing and subscribing fail afterwards.
    fn close(&self) -> BoxFuture<'_, ()>;

    /// Node-wide counts, for the console's `stats`.
    fn stats(&self) -> MeshStats {
        MeshStats::default()
    }

    /// Samples received per publishing node (as the sample names it), most
    /// first; an in-process mesh has none.
    fn received_from(&self) -> Vec<(String, u64)> {
        Vec::new()
    }

    /// This session's id and the endpoints it listens on, for its advert;
    /// none for an in-process mesh.
    fn identity(&self) -> Option<MeshIdentity> {
        None
    }

    /// Ids of the sessions this one has a live link to.
    fn linked(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async { Vec::new() })
    }

    /// Links this session to `peer`'s; true once a link is up (it may have
    /// been already). An in-process mesh links nothing.
    fn link(&self, _peer: &MeshIdentity) -> BoxFuture<'_, Result<bool, MeshError>> {
        Box::pin(async { Ok(false) })
    }
}

pub use swarmd_messages::advert::MeshIdentity;

/// What a mesh session has carried since it opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeshStats {
    pub published: u64,
    pub received: u64,
    /// Received samples lost to a full subscription queue.
    pub dropped: u64,
}

/// A live subscription. Samples wait in a bounded queue; when the subscriber
/// falls behind, the newest sample is dropped and counted, so the transport
/// is never blocked by one slow actor. Dropping it undeclares the subscription.
pub struct Subscription {
    samples: mpsc::Receiver<Sample>,
    dropped: Arc<AtomicU64>,
    _transport: Option<Box<dyn Send + Sync>>,
}

/// The sending half a transport pushes received samples into.
#[derive(Clone)]
pub struct SampleSink {
    samples: mpsc::Sender<Sample>,
    dropped: Arc<AtomicU64>,
}

impl SampleSink {
    /// Queues a sample without waiting; counts it as dropped when the queue
    /// is full. Returns whether it was queued.
    pub fn offer(&self, sample: Sample) -> bool {
        let queued = self.samples.try_send(sample).is_ok();
        if !queued {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }
}

impl Subscription {
    /// A bounded queue of `capacity` samples and the sink a transport fills it through.
    pub fn channel(capacity: usize) -> (SampleSink, Subscription) {
        assert!(
            capacity > 0,
            "a subscription queue needs room for one sample"
        );
        let (tx, rx) = mpsc::channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let sink = SampleSink {
            samples: tx,
            dropped: dropped.clone(),
        };
        let subscription = Subscription {
            samples: rx,
            dropped,
            _transport: None,
        };
        (sink, subscription)
    }

    /// Keeps the transport-side subscription alive as long as this one.
    pub fn keep_alive(&mut self, transport: Box<dyn Send + Sync>) {
        self._transport = Some(transport);
    }

    /// The next sample, or `None` once the transport has closed.
    pub async fn recv(&mut self) -> Option<Sample> {
        self.samples.recv().await
    }

    /// Samples lost to a full queue so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_queue_drops_newest_and_counts() {
        let (sink, mut sub) = Subscription::channel(2);
        let queued: Vec<bool> = (0..5u8)
            .map(|i| {
                sink.offer(Sample {
                    key: "k".into(),
                    payload: vec![i],
                })
            })
            .collect();
        assert_eq!(queued, [true, true, false, false, false]);
        assert_eq!(sub.dropped(), 3);
        assert_eq!(sub.recv().await.unwrap().payload, vec![0]);
        assert_eq!(sub.recv().await.unwrap().payload, vec![1]);
        drop(sink);
        assert_eq!(sub.recv().await, None, "closed once every sink is gone");
    }
}
