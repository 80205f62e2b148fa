//! The production mesh: two real zenoh peer sessions on loopback.

use std::net::TcpListener;
use std::time::Duration;

use swarmd_actors::ctx::{MeshError, PubSub};
use swarmd_cluster::mesh::{ZenohMesh, open};
use swarmd_config::{MeshSection, Role};

fn section(listen: Vec<String>, connect: Vec<String>, capacity: usize) -> MeshSection {
    MeshSection {
        listen,
        connect,
        multicast_scouting: false,
        insecure: false,
        subscription_capacity: capacity,
        tls: None,
    }
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
    let a = ZenohMesh::open(&section(vec![endpoint.clone()], vec![], 64), &acme())
        .await
        .unwrap();
    let b = ZenohMesh::open(&section(vec![], vec![endpoint], 64), &acme())
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
    let mesh = ZenohMesh::open(&section(vec![], vec![], 8), &acme())
        .await
        .unwrap();
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

#[tokio::test]
async fn a_cloud_node_has_no_mesh() {
    let mesh = open(
        &section(vec![], vec![], 8),
        Role::Cloud,
        &["default".into()],
    )
    .await
    .unwrap();
    assert!(matches!(
        mesh.publish("a/b", vec![]).await,
        Err(MeshError::Disabled(_))
    ));
}
