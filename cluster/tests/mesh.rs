//! The production mesh: two real zenoh peer sessions on loopback.

use std::net::TcpListener;
use std::time::Duration;

use swarmd_actors::ctx::{MeshError, PubSub};
use swarmd_cluster::mesh::{MeshPlan, ZenohMesh};
use swarmd_config::MeshSection;

fn section(listen: Vec<String>, connect: Vec<String>, capacity: usize) -> MeshSection {
    MeshSection {
        listen,
        connect,
        multicast_scouting: false,
        insecure: false,
        subscription_capacity: capacity,
        tls: None,
        port_offset: 1000,
        agents_listen: Vec::new(),
    }
}

async fn open(section: &MeshSection, tenants: &[String]) -> Result<ZenohMesh, MeshError> {
    ZenohMesh::open(&MeshPlan::from_section(section, tenants, "test-node")).await
}

fn acme() -> Vec<String> {
    vec!["acme".to_string()]
}

fn free_endpoint() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("tcp/127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_published_on_one_peer_reaches_a_subscriber_on_another() {
    let endpoint = free_endpoint();
    let a = open(&section(vec![endpoint.clone()], vec![], 64), &acme())
        .await
        .unwrap();
    let b = open(&section(vec![], vec![endpoint], 64), &acme())
        .await
        .unwrap();
    let mut sub = a.subscribe("swarmd/acme/peers/**").await.unwrap();

    // The subscription's declaration travels to b asynchronously: publish until
    // one arrives, a bounded number of times.
    let mut received = None;
    for attempt in 0u8..50 {
        b.publish("swarmd/acme/peers/edge-2", vec![attempt])
            .await
            .unwrap();
        if let Ok(sample) = tokio::time::timeout(Duration::from_millis(100), sub.recv()).await {
            received = sample;
            break;
        }
    }
    let sample = received.expect("a sample within 50 attempts");
    assert_eq!(sample.key, "swarmd/acme/peers/edge-2");
    assert_eq!(sample.payload.len(), 1);
    assert_eq!(sub.dropped(), 0);

    b.publish("swarmd/acme/hazards/1", vec![9]).await.unwrap();
    b.publish("swarmd/acme/peers/edge-3", vec![42])
        .await
        .unwrap();
    let next = loop {
        let s = tokio::time::timeout(Duration::from_secs(5), sub.recv())
            .await
            .unwrap()
            .unwrap();
        if s.payload != sample.payload {
            break s;
        }
    };
    assert_eq!(
        (next.key.as_str(), next.payload),
        ("swarmd/acme/peers/edge-3", vec![42]),
        "hazards not matched"
    );
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_expressions_are_errors_not_panics() {
    let mesh = open(&section(vec![], vec![], 8), &acme()).await.unwrap();
    assert!(matches!(
        mesh.publish("a/**/", vec![]).await,
        Err(MeshError::BadKey { .. })
    ));
    assert!(matches!(
        mesh.subscribe("").await,
        Err(MeshError::BadKey { .. })
    ));
    mesh.close().await;
    assert!(
        mesh.publish("a/b", vec![]).await.is_err(),
        "closed mesh refuses publishing"
    );
}

/// Waits (bounded) until `mesh` has a live link to `other`.
async fn linked(mesh: &ZenohMesh, other: &ZenohMesh) {
    let id = other.identity().unwrap().id;
    for _ in 0..200 {
        if mesh.linked().await.contains(&id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no link to {id} within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_joined_through_one_seed_link_directly_and_outlive_it() {
    // On loopback zenoh's gossip offers no locators: the node's mesh linker
    // links members by their adverts, as here.
    let (seed_at, edge_1_at, edge_2_at) = (free_endpoint(), free_endpoint(), free_endpoint());
    let seed = open(&section(vec![seed_at.clone()], vec![], 64), &acme())
        .await
        .unwrap();
    let edge_1 = open(
        &section(vec![edge_1_at], vec![seed_at.clone()], 64),
        &acme(),
    )
    .await
    .unwrap();
    let edge_2 = open(&section(vec![edge_2_at], vec![seed_at], 64), &acme())
        .await
        .unwrap();
    let to_edge_2 = edge_2.identity().unwrap();
    // As the node's linker does: dial each round until the link is up (a
    // dial may fail, or find another under way).
    for _ in 0..50 {
        if edge_1.linked().await.contains(&to_edge_2.id) {
            break;
        }
        edge_1.link(&to_edge_2).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    linked(&edge_1, &edge_2).await;
    linked(&edge_2, &edge_1).await;
    assert!(
        edge_1.link(&to_edge_2).await.unwrap(),
        "a second link call is a no-op"
    );
    seed.close().await;
    let mut inbox = edge_2.subscribe("swarmd/acme/peer/**").await.unwrap();
    // The subscription's declaration travels to edge-1 first: publish until one arrives.
    for round in 0..100u8 {
        edge_1
            .publish("swarmd/acme/peer/a1", vec![round])
            .await
            .unwrap();
        if let Ok(Some(sample)) =
            tokio::time::timeout(Duration::from_millis(100), inbox.recv()).await
        {
            assert_eq!(sample.key, "swarmd/acme/peer/a1");
            return;
        }
    }
    panic!("edge-2 heard nothing from edge-1 once the seed was gone");
}
