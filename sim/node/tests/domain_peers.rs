//! A domain's peer board over the (simulated) mesh: a state announced on one
//! node is heard on another, forgotten once its TTL passes unrenewed, never
//! across a partition, and an undecodable sample is counted, not learnt.

use std::sync::Arc;
use std::time::Duration;

use swarmd_actors::NodeCtx;
use swarmd_actors::domain::{Body, Domain, DomainPeers, Plan, Refusal};
use swarmd_actors::fleet::SpecError;
use swarmd_messages::SpawnSpec;
use swarmd_sim_node::{SeededEntropy, SimMesh, SimNode};

/// A domain whose peers tell each other a number.
struct Numbers;

impl Domain for Numbers {
    type Percept = u64;
    type Command = u8;
    type Intent = u8;
    type Task = u8;
    type Summary = u64;
    type PeerState = u64;
    type Model = u64;

    fn name(&self) -> &str {
        "numbers"
    }
    fn task_kinds(&self) -> Vec<String> {
        Vec::new()
    }
    fn body(&self, _: &SpawnSpec, _: &NodeCtx) -> Result<Box<dyn Body<Self>>, SpecError> {
        Err(SpecError::Invalid("no bodies here".into()))
    }
    fn safe_command(&self, _: Option<&u64>) -> u8 {
        0
    }
    fn check(&self, _: &u64, _: &[u64], _: &u8) -> Result<(), Refusal> {
        Ok(())
    }
    fn model(&self, _: &SpawnSpec) -> u64 {
        0
    }
    fn observe(&self, _: &mut u64, _: &u64) -> Result<(), String> {
        Ok(())
    }
    fn command(&self, _: &u64, _: &u8, _: &[u64]) -> u8 {
        0
    }
    fn summary(&self, m: &u64) -> u64 {
        *m
    }
    fn peer_state(&self, m: &u64) -> Option<u64> {
        Some(*m)
    }
    fn plan(&self, _: &u64, _: Option<&mut u8>) -> Plan<u8> {
        Plan::Go(0)
    }
}

async fn settle() {
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn states_cross_the_mesh_expire_and_stop_at_a_partition() {
    let mesh = SimMesh::new(
        Arc::new(SeededEntropy::new(7)),
        Duration::from_millis(1),
        64,
    );
    let (a, b) = (SimNode::new("a", 1, &mesh), SimNode::new("b", 2, &mesh));
    let ttl = Duration::from_secs(2);
    let on_a = DomainPeers::<Numbers>::default().for_tenant(&a.ctx, "t", "numbers", ttl);
    let on_b = DomainPeers::<Numbers>::default().for_tenant(&b.ctx, "t", "numbers", ttl);
    settle().await;

    on_a.announce("x", 41);
    settle().await;
    assert_eq!(on_b.peers("y"), [41], "heard across the mesh");
    assert_eq!(
        on_b.peers("x"),
        Vec::<u64>::new(),
        "an agent is not its own peer"
    );
    assert_eq!(on_a.peers("y"), [41], "and at once on its own node");

    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert!(on_b.peers("y").is_empty(), "forgotten after its TTL");

    mesh.partition("a", "b");
    on_a.announce("x", 42);
    settle().await;
    assert!(on_b.peers("y").is_empty(), "nothing crosses a partition");
    mesh.heal("a", "b");

    let garbage = b"not json".to_vec();
    a.ctx
        .mesh
        .publish("swarmd/t/domain/numbers/peer/z", garbage)
        .await
        .unwrap();
    settle().await;
    assert_eq!(
        on_b.undecodable.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert!(on_b.peers("y").is_empty());
}
