//! The mesh's trust boundaries with real zenoh sessions on loopback: access
//! control keeps a node to its tenants' keys, and with `[mesh.tls]` a peer
//! without a certificate from the CA cannot reach the mesh at all.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use futures::FutureExt;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use swarmd_actors::ctx::MeshError;
use swarmd_actors::ctx::{PubSub, Subscription};
use swarmd_cluster::mesh::{MeshAuth, MeshPlan, ZenohMesh};
use swarmd_config::{MeshSection, TlsSection};

/// Publish rounds at most before the positive control must have arrived.
const ROUNDS: usize = 100;
/// Rounds a forgery gets after the first marker: had it a way in, it would show.
const AFTER_FIRST: usize = 20;

fn port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn section(listen: Vec<String>, connect: Vec<String>, tls: Option<TlsSection>) -> MeshSection {
    MeshSection {
        listen,
        connect,
        multicast_scouting: false,
        insecure: false,
        subscription_capacity: 1024,
        tls,
        port_offset: 1000,
        agents_listen: Vec::new(),
    }
}

async fn open(section: &MeshSection, tenants: &[String]) -> Result<ZenohMesh, MeshError> {
    ZenohMesh::open(&MeshPlan::from_section(section, tenants, "test-node")).await
}

/// A plain mesh session on `listen`/`connect`, its links authenticated with `cookie`'s key.
async fn with_cookie(
    dir: &Path,
    cookie: Option<&str>,
    listen: &[String],
    connect: &[String],
) -> ZenohMesh {
    // Named after its directory: samples name their publisher.
    let name = dir.file_name().unwrap().to_str().unwrap();
    let mut plan = MeshPlan::from_section(
        &section(listen.to_vec(), connect.to_vec(), None),
        &tenants(&["a"]),
        name,
    );
    std::fs::create_dir_all(dir).unwrap();
    plan.auth = cookie.map(|c| MeshAuth::from_cookie(c, dir).unwrap());
    ZenohMesh::open(&plan).await.unwrap()
}

fn tenants(names: &[&str]) -> Vec<String> {
    names.iter().map(|t| t.to_string()).collect()
}

/// Publishes `(forged, marker)` pairs until `n` markers arrived at `marked`.
/// Returns how many samples `watched` got meanwhile.
async fn rounds(
    publish: impl AsyncFn(usize),
    marked: &mut Subscription,
    watched: &mut Subscription,
) -> usize {
    let (mut markers, mut leaked) = (0, 0);
    for round in 0..ROUNDS + AFTER_FIRST {
        publish(round).await;
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), marked.recv()).await {
            markers += 1;
        }
        while let Some(Some(_)) = watched.recv().now_or_never() {
            leaked += 1;
        }
        if markers >= AFTER_FIRST {
            return leaked;
        }
    }
    panic!(
        "only {markers} markers arrived in {} rounds",
        ROUNDS + AFTER_FIRST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_carries_only_its_tenants_keys() {
    let endpoint = format!("tcp/127.0.0.1:{}", port());
    let node_a = open(
        &section(vec![endpoint.clone()], vec![], None),
        &tenants(&["a"]),
    )
    .await
    .unwrap();
    let both = open(
        &section(vec![], vec![endpoint], None),
        &tenants(&["a", "b"]),
    )
    .await
    .unwrap();
    // Subscribing to tenant b's keys bypasses swarmd's own check (the
    // production mesh wraps this session in `TenantScoped`): zenoh's access
    // control is what stops it here.
    let mut own = node_a.subscribe("swarmd/a/**").await.unwrap();
    let mut other = node_a.subscribe("swarmd/b/**").await.unwrap();
    let publish = async |round: usize| {
        both.publish("swarmd/b/state/x", vec![round as u8])
            .await
            .unwrap();
        both.publish("swarmd/a/state/x", vec![round as u8])
            .await
            .unwrap();
    };
    let leaked = rounds(publish, &mut own, &mut other).await;
    assert_eq!(leaked, 0, "a node serving tenant a read tenant b's keys");
    // Nor can it publish outside its tenants: nothing reaches a peer.
    let mut at_both = both.subscribe("swarmd/b/**").await.unwrap();
    let mut marks = both.subscribe("swarmd/a/**").await.unwrap();
    let publish = async |round: usize| {
        node_a
            .publish("swarmd/b/yield", vec![round as u8])
            .await
            .unwrap();
        node_a
            .publish("swarmd/a/yield", vec![round as u8])
            .await
            .unwrap();
    };
    let leaked = rounds(publish, &mut marks, &mut at_both).await;
    assert_eq!(
        leaked, 0,
        "a node serving tenant a wrote to tenant b's keys"
    );
    node_a.close().await;
    both.close().await;
}

struct Pki {
    ca: Issuer<'static, KeyPair>,
    ca_pem: std::path::PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = ca.self_signed(&key).unwrap();
        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, cert.pem()).unwrap();
        Self {
            ca: Issuer::new(ca, key),
            ca_pem,
        }
    }

    fn node(&self, dir: &Path, name: &str) -> TlsSection {
        let params = CertificateParams::new(vec![name.into(), "127.0.0.1".into()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let (cert_path, key_path) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        std::fs::set_permissions(
            &key_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        TlsSection {
            cert: cert_path,
            key: key_path,
            ca: self.ca_pem.clone(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_a_peer_can_neither_publish_nor_read() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let port = port();
    let tls_endpoint = format!("tls/127.0.0.1:{port}");
    let node = open(
        &section(
            vec![tls_endpoint.clone()],
            vec![],
            Some(pki.node(dir.path(), "edge-1")),
        ),
        &tenants(&["a"]),
    )
    .await
    .unwrap();
    let peer = open(
        &section(
            vec![],
            vec![tls_endpoint.clone()],
            Some(pki.node(dir.path(), "edge-2")),
        ),
        &tenants(&["a"]),
    )
    .await
    .unwrap();
    // Rogues: plain TCP to the TLS port, and TLS with no client certificate.
    let mut plain = zenoh::Config::default();
    plain.insert_json5("mode", "\"peer\"").unwrap();
    plain
        .insert_json5("scouting/multicast/enabled", "false")
        .unwrap();
    let endpoint = format!("[\"tcp/127.0.0.1:{port}\"]");
    plain.insert_json5("connect/endpoints", &endpoint).unwrap();
    let plain = zenoh::open(plain).await.unwrap();
    let mut no_cert = zenoh::Config::default();
    no_cert.insert_json5("mode", "\"peer\"").unwrap();
    no_cert
        .insert_json5("scouting/multicast/enabled", "false")
        .unwrap();
    no_cert
        .insert_json5("connect/endpoints", &format!("[\"{tls_endpoint}\"]"))
        .unwrap();
    let ca = format!("{:?}", pki.ca_pem.display().to_string());
    no_cert
        .insert_json5("transport/link/tls/root_ca_certificate", &ca)
        .unwrap();
    let no_cert = zenoh::open(no_cert).await.unwrap();

    let mut at_node = node.subscribe("swarmd/a/**").await.unwrap();
    let mut forged_seen = node.subscribe("swarmd/a/yield").await.unwrap();
    let rogue_reads = plain.declare_subscriber("swarmd/**").await.unwrap();
    let publish = async |round: usize| {
        for rogue in [&plain, &no_cert] {
            rogue
                .put("swarmd/a/yield", vec![round as u8])
                .await
                .unwrap();
        }
        peer.publish("swarmd/a/state/edge-2", vec![round as u8])
            .await
            .unwrap();
    };
    let leaked = rounds(publish, &mut at_node, &mut forged_seen).await;
    assert_eq!(leaked, 0, "a rogue's publication reached the node");
    // It hears its own puts, and nothing of the mesh's.
    while let Ok(Some(sample)) = rogue_reads.try_recv() {
        let key = sample.key_expr().as_str();
        assert_eq!(key, "swarmd/a/yield", "a rogue read the mesh's {key}");
    }
    for rogue in [&plain, &no_cert] {
        assert_eq!(
            rogue.info().peers_zid().await.count(),
            0,
            "a rogue has a mesh link"
        );
    }
    assert!(peer.publish("swarmd/a/x", vec![]).await.is_ok());
    node.close().await;
    peer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cookies_key_a_peer_cannot_link_to_a_nodes_mesh() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = vec![format!("tcp/127.0.0.1:{}", port())];
    let node = with_cookie(&dir.path().join("node"), Some("the-cookie"), &endpoint, &[]).await;
    let member = with_cookie(
        &dir.path().join("member"),
        Some("the-cookie"),
        &[],
        &endpoint,
    )
    .await;
    let wrong = with_cookie(
        &dir.path().join("wrong"),
        Some("another-cookie"),
        &[],
        &endpoint,
    )
    .await;
    let keyless = with_cookie(&dir.path().join("keyless"), None, &[], &endpoint).await;
    let mut marks = node.subscribe("swarmd/a/mark").await.unwrap();
    let mut forged = node.subscribe("swarmd/a/forged").await.unwrap();
    let publish = async |round: usize| {
        for stranger in [&wrong, &keyless] {
            stranger
                .publish("swarmd/a/forged", vec![round as u8])
                .await
                .unwrap();
        }
        member
            .publish("swarmd/a/mark", vec![round as u8])
            .await
            .unwrap();
    };
    let leaked = rounds(publish, &mut marks, &mut forged).await;
    assert_eq!(
        leaked, 0,
        "a peer without the cookie's key reached the mesh"
    );
    let linked = node.linked().await;
    let id = |mesh: &ZenohMesh| mesh.identity().unwrap().id;
    assert!(linked.contains(&id(&member)), "{linked:?}");
    assert!(
        !linked.contains(&id(&wrong)) && !linked.contains(&id(&keyless)),
        "{linked:?}"
    );
    let from = node.received_from();
    assert!(
        from.len() == 1 && from[0].0 == "member" && from[0].1 >= AFTER_FIRST as u64,
        "{from:?}"
    );
    for mesh in [node, member, wrong, keyless] {
        mesh.close().await;
    }
}
