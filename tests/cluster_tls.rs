//! Cluster sessions over mutual TLS, with a CA and certificates made here.

mod support;

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::Value;
use support::{Node, STARTUP};

const COOKIE: [(&str, &str); 1] = [("SWARMD_COOKIE", "TLSCLUSTERCOOKIEXQZJVKWPMBRTYHGF")];

/// Writes `<prefix>ca.pem`, `<prefix>node.pem` and `<prefix>node.key`: a CA
/// and one node certificate it signed, valid for 127.0.0.1 and localhost.
fn make_pki(dir: &Path, prefix: &str) -> String {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let mut node = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    node.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let node_key = KeyPair::generate().unwrap();
    let node_cert = node.signed_by(&node_key, &issuer).unwrap();

    let ca = support::write_file(dir, &format!("{prefix}ca.pem"), &ca_cert.pem());
    let cert = support::write_file(dir, &format!("{prefix}node.pem"), &node_cert.pem());
    let key = support::write_file(dir, &format!("{prefix}node.key"), &node_key.serialize_pem());
    // A key readable by others is refused, as the cookie is.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let text = format!(
        "[cluster]\nheartbeat_interval_ms = 100\nsuspect_after_ms = 400\ndown_after_ms = 1200\n\
         [cluster.tls]\ncert = {cert:?}\nkey = {key:?}\nca = {ca:?}\n"
    );
    let config = support::write_file(dir, &format!("{prefix}tls.toml"), &text);
    config.display().to_string()
}

fn up(member: &'static str) -> impl Fn(&Value) -> bool {
    move |v: &Value| {
        v["message"] == "membership changed" && v["member"] == member && v["to"] == "up"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_cluster_over_mutual_tls_and_strangers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = make_pki(dir.path(), "");
    let stranger = make_pki(dir.path(), "other-");

    let args = |config: &str, name: &str, role: &str| {
        vec![
            "--config".to_string(),
            config.into(),
            "--name".into(),
            name.into(),
            "--role".into(),
            role.into(),
        ]
    };
    let cloud_args = args(&trusted, "cloud", "cloud");
    let cloud_args: Vec<&str> = cloud_args.iter().map(String::as_str).collect();
    let mut cloud = Node::start(&dir.path().join("cloud"), &cloud_args, &COOKIE);
    cloud.ready().await;
    let seed = cloud.listen.clone();

    let mut edge_args = args(&trusted, "edge1", "edge");
    edge_args.extend(["--join".to_string(), seed.clone()]);
    let edge_args: Vec<&str> = edge_args.iter().map(String::as_str).collect();
    let mut edge = Node::start(&dir.path().join("edge1"), &edge_args, &COOKIE);
    cloud
        .wait_for("edge1 up at cloud", STARTUP, up("edge1"))
        .await;
    edge.wait_for("cloud up at edge1", STARTUP, up("cloud"))
        .await;

    // Right cookie, but a certificate from another CA; and no TLS at all.
    let mut rogue_args = args(&stranger, "rogue", "edge");
    rogue_args.extend(["--join".to_string(), seed.clone()]);
    let rogue_args: Vec<&str> = rogue_args.iter().map(String::as_str).collect();
    let mut rogue = Node::start(&dir.path().join("rogue"), &rogue_args, &COOKIE);
    let plain_args = ["--name", "plain", "--role", "edge", "--join", &seed];
    let mut plain = Node::start(&dir.path().join("plain"), &plain_args, &COOKIE);
    let refused = |v: &Value| v["message"] == "cannot connect";
    let rogue_error = rogue.wait_for("rogue refused", STARTUP, refused).await;
    assert!(
        rogue_error["error"].as_str().unwrap().contains("TLS"),
        "{rogue_error}"
    );
    plain.wait_for("plain refused", STARTUP, refused).await;

    // The cloud refused both at the TLS layer; the trusted pair never saw them.
    let tls_refusal = |v: &Value| {
        let message = v["message"].as_str().unwrap_or("");
        message.starts_with("Error establishing secure socket")
    };
    cloud
        .wait_count("TLS refusals", STARTUP, 2, tls_refusal)
        .await;
    for stranger in ["rogue", "plain"] {
        let met = cloud.events().iter().any(|v| v["member"] == stranger);
        assert!(!met, "{stranger} must not join");
    }
    for node in [&mut plain, &mut rogue, &mut edge, &mut cloud] {
        node.signal(libc::SIGTERM);
        assert_eq!(node.exit().await.code(), Some(0));
    }
    assert!(
        !cloud
            .events()
            .iter()
            .any(|v| v["member"] == "edge1" && v["to"] == "down")
    );
}
