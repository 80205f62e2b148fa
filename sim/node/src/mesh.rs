//! SimPubSub: the mesh seam in memory. Every simulated node gets a handle on
//! one shared `SimMesh`. A sample reaches each matching subscriber after a
//! seeded delay, in order per (publisher, subscriber) link, unless the two
//! nodes are partitioned when it is sent or when it would arrive.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use swarmd_actors::ctx::{MeshError, PubSub, Sample, SampleSink, Subscription};
use swarmd_supervisor::seams::Entropy;
use tokio::time::Instant;

pub struct SimMesh {
    state: Mutex<MeshState>,
    entropy: Arc<dyn Entropy>,
    max_delay: Duration,
    subscription_capacity: usize,
    next_id: AtomicU64,
}

#[derive(Default)]
struct MeshState {
    /// By id, so fan-out order is fixed (no hash order in the simulator).
    subscribers: BTreeMap<u64, Subscriber>,
    /// Unordered node pairs that cannot reach each other.
    cut: BTreeSet<(String, String)>,
    /// When the last sample on each (from, to) link arrives: FIFO per link.
    link_clock: BTreeMap<(String, String), Instant>,
}

struct Subscriber {
    node: String,
    pattern: Vec<String>,
    sink: SampleSink,
}

/// A node pair in one order, whichever way it is named.
pub fn node_pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.into(), b.into())
    } else {
        (b.into(), a.into())
    }
}

impl SimMesh {
    pub fn new(
        entropy: Arc<dyn Entropy>,
        max_delay: Duration,
        subscription_capacity: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(MeshState::default()),
            entropy,
            max_delay,
            subscription_capacity,
            next_id: AtomicU64::new(0),
        })
    }

    /// `node`'s view of the mesh, for its NodeCtx.
    pub fn join(self: &Arc<Self>, node: &str) -> SimPubSub {
        SimPubSub {
            mesh: self.clone(),
            node: node.to_owned(),
            closed: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn partition(&self, a: &str, b: &str) {
        self.lock().cut.insert(node_pair(a, b));
    }

    pub fn heal(&self, a: &str, b: &str) {
        self.lock().cut.remove(&node_pair(a, b));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MeshState> {
        self.state.lock().expect("sim mesh poisoned")
    }

    fn reachable(&self, a: &str, b: &str) -> bool {
        a == b || !self.lock().cut.contains(&node_pair(a, b))
    }
}

pub struct SimPubSub {
    mesh: Arc<SimMesh>,
    node: String,
    closed: Arc<AtomicBool>,
}

/// Unsubscribes when the subscription is dropped.
struct Registration {
    mesh: Arc<SimMesh>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.mesh.lock().subscribers.remove(&self.id);
    }
}

fn chunks(key: &str) -> Result<Vec<String>, MeshError> {
    let parts: Vec<String> = key.split('/').map(str::to_owned).collect();
    if key.is_empty() || parts.iter().any(String::is_empty) {
        return Err(MeshError::BadKey {
            key: key.to_owned(),
            reason: "empty chunk".into(),
        });
    }
    Ok(parts)
}

/// zenoh's rules: `*` is one chunk, `**` is any number of chunks, including none.
fn matches(pattern: &[String], key: &[String]) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((head, rest)) if head == "**" => {
            (0..=key.len()).any(|skip| matches(rest, &key[skip..]))
        }
        Some((head, rest)) => match key.split_first() {
            Some((k, krest)) => (head == "*" || head == k) && matches(rest, krest),
            None => false,
        },
    }
}

impl PubSub for SimPubSub {
    fn publish(&self, key: &str, payload: Vec<u8>) -> BoxFuture<'_, Result<(), MeshError>> {
        let key = key.to_owned();
        Box::pin(async move {
            if self.closed.load(Ordering::SeqCst) {
                return Err(MeshError::Transport("the mesh session is closed".into()));
            }
            let parts = chunks(&key)?;
            let now = Instant::now();
            let mut state = self.mesh.lock();
            let targets: Vec<(String, SampleSink)> = state
                .subscribers
                .values()
                .filter(|s| matches(&s.pattern, &parts))
                .map(|s| (s.node.clone(), s.sink.clone()))
                .collect();
            for (to, sink) in targets {
                if to != self.node && state.cut.contains(&node_pair(&self.node, &to)) {
                    continue;
                }
                let link = (self.node.clone(), to.clone());
                let earliest = now + self.mesh.entropy.jitter(self.mesh.max_delay);
                let arrive = earliest.max(state.link_clock.get(&link).copied().unwrap_or(earliest));
                state.link_clock.insert(link, arrive);
                let (mesh, from, sample) = (
                    self.mesh.clone(),
                    self.node.clone(),
                    Sample {
                        key: key.clone(),
                        payload: payload.clone(),
                    },
                );
                tokio::spawn(async move {
                    tokio::time::sleep_until(arrive).await;
                    if mesh.reachable(&from, &to) {
                        let _ = sink.offer(sample);
                    }
                });
            }
            Ok(())
        })
    }

    fn subscribe(&self, key_expr: &str) -> BoxFuture<'_, Result<Subscription, MeshError>> {
        let key_expr = key_expr.to_owned();
        Box::pin(async move {
            if self.closed.load(Ordering::SeqCst) {
                return Err(MeshError::Transport("the mesh session is closed".into()));
            }
            let pattern = chunks(&key_expr)?;
            let (sink, mut subscription) = Subscription::channel(self.mesh.subscription_capacity);
            let id = self.mesh.next_id.fetch_add(1, Ordering::SeqCst);
            let subscriber = Subscriber {
                node: self.node.clone(),
                pattern,
                sink,
            };
            self.mesh.lock().subscribers.insert(id, subscriber);
            subscription.keep_alive(Box::new(Registration {
                mesh: self.mesh.clone(),
                id,
            }));
            Ok(subscription)
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.closed.store(true, Ordering::SeqCst);
            self.mesh
                .lock()
                .subscribers
                .retain(|_, s| s.node != self.node);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeededEntropy;

    fn mesh(seed: u64) -> Arc<SimMesh> {
        SimMesh::new(
            Arc::new(SeededEntropy::new(seed)),
            Duration::from_millis(20),
            64,
        )
    }

    fn k(s: &str) -> Vec<String> {
        s.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn key_expressions_follow_zenoh() {
        assert!(matches(&k("swarm/*/peers"), &k("swarm/acme/peers")));
        assert!(!matches(&k("swarm/*/peers"), &k("swarm/acme/x/peers")));
        assert!(matches(&k("swarm/**"), &k("swarm/acme/peers/edge-1")));
        assert!(matches(&k("swarm/**/edge-1"), &k("swarm/edge-1")));
        assert!(!matches(&k("swarm/acme"), &k("swarm/acme/peers")));
    }

    #[tokio::test(start_paused = true)]
    async fn samples_arrive_in_order_per_link_after_a_delay() {
        let mesh = mesh(3);
        let (a, b) = (mesh.join("a"), mesh.join("b"));
        let mut sub = b.subscribe("swarm/**").await.unwrap();
        let sent_at = Instant::now();
        for i in 0..20u8 {
            a.publish("swarm/acme/peers/a", vec![i]).await.unwrap();
        }
        a.publish("other/key", vec![99]).await.unwrap();
        let mut got = Vec::new();
        for _ in 0..20 {
            got.push(sub.recv().await.unwrap().payload[0]);
        }
        assert_eq!(got, (0..20).collect::<Vec<_>>());
        assert!(Instant::now() > sent_at, "delivery takes virtual time");
    }

    #[tokio::test(start_paused = true)]
    async fn a_partition_drops_traffic_both_ways_until_healed() {
        let mesh = mesh(4);
        let (a, b) = (mesh.join("a"), mesh.join("b"));
        let mut at_a = a.subscribe("x/**").await.unwrap();
        let mut at_b = b.subscribe("x/**").await.unwrap();
        a.publish("x/in-flight", vec![0]).await.unwrap();
        mesh.partition("b", "a");
        b.publish("x/from-b", vec![1]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        mesh.heal("a", "b");
        a.publish("x/after", vec![2]).await.unwrap();
        // b hears itself; a's sample in flight at the cut never arrives.
        assert_eq!(at_b.recv().await.unwrap().payload, vec![1]);
        assert_eq!(at_b.recv().await.unwrap().payload, vec![2]);
        // a hears itself, but never b's partitioned sample.
        assert_eq!(at_a.recv().await.unwrap().payload, vec![0]);
        assert_eq!(at_a.recv().await.unwrap().payload, vec![2]);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_a_subscription_or_closing_the_node_unsubscribes() {
        let mesh = mesh(5);
        let (a, b) = (mesh.join("a"), mesh.join("b"));
        let sub = b.subscribe("k").await.unwrap();
        drop(sub);
        assert!(mesh.lock().subscribers.is_empty());
        let _kept = b.subscribe("k").await.unwrap();
        b.close().await;
        assert!(mesh.lock().subscribers.is_empty());
        assert!(b.publish("k", vec![]).await.is_err());
        assert!(matches!(
            a.publish("", vec![]).await,
            Err(MeshError::BadKey { .. })
        ));
    }
}
