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

/// A throwaway CA that signs node certificates into `dir`.
struct Pki<'a> {
    dir: &'a Path,
    prefix: &'static str,
    ca: Issuer<'static, KeyPair>,
    ca_pem: std::path::PathBuf,
}

impl<'a> Pki<'a> {
    fn new(dir: &'a Path, prefix: &'static str) -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let ca_pem = support::write_file(dir, &format!("{prefix}ca.pem"), &ca_cert.pem());
        Self {
            dir,
            prefix,
            ca: Issuer::new(ca, ca_key),
            ca_pem,
        }
    }

    /// A certificate for node `cert_for` (a DNS SAN), valid for 127.0.0.1 and
    /// localhost too; returns the path of a config that uses it.
    fn node(&self, cert_for: &str) -> String {
        let (dir, prefix) = (self.dir, self.prefix);
        let sans = vec![cert_for.into(), "127.0.0.1".into(), "localhost".into()];
        let mut node = CertificateParams::new(sans).unwrap();
        node.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = node.signed_by(&key, &self.ca).unwrap();
        let cert = support::write_file(dir, &format!("{prefix}{cert_for}.pem"), &cert.pem());
        let key_path = format!("{prefix}{cert_for}.key");
        let key = support::write_file(dir, &key_path, &key.serialize_pem());
        // A key readable by others is refused, as the cookie is.
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let ca = &self.ca_pem;
        let text = format!(
            "[cluster]\nheartbeat_interval_ms = 100\nsuspect_after_ms = 400\ndown_after_ms = 1200\n\
             [cluster.tls]\ncert = {cert:?}\nkey = {key:?}\nca = {ca:?}\n"
        );
        let config = support::write_file(dir, &format!("{prefix}{cert_for}.toml"), &text);
        config.display().to_string()
    }
}

fn up(member: &'static str) -> impl Fn(&Value) -> bool {
    move |v: &Value| {
        v["message"] == "membership changed" && v["member"] == member && v["to"] == "up"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_cluster_over_mutual_tls_and_strangers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = Pki::new(dir.path(), "");
    let stranger = Pki::new(dir.path(), "other-");

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
    let cloud_args = args(&trusted.node("cloud"), "cloud", "cloud");
    let cloud_args: Vec<&str> = cloud_args.iter().map(String::as_str).collect();
    let mut cloud = Node::start(&dir.path().join("cloud"), &cloud_args, &COOKIE);
    cloud.ready().await;
    let seed = cloud.listen.clone();

    let edge1_config = trusted.node("edge1");
    let mut edge_args = args(&edge1_config, "edge1", "edge");
    edge_args.extend(["--join".to_string(), seed.clone()]);
    let edge_args: Vec<&str> = edge_args.iter().map(String::as_str).collect();
    let mut edge = Node::start(&dir.path().join("edge1"), &edge_args, &COOKIE);
    cloud
        .wait_for("edge1 up at cloud", STARTUP, up("edge1"))
        .await;
    edge.wait_for("cloud up at edge1", STARTUP, up("cloud"))
        .await;

    // Right cookie, but a certificate from another CA; and no TLS at all.
    let mut rogue_args = args(&stranger.node("rogue"), "rogue", "edge");
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
        v["message"] == "cluster connection refused"
            && v["error"]
                .as_str()
                .unwrap_or("")
                .contains("TLS handshake failed")
    };
    cloud
        .wait_count("TLS refusals", STARTUP, 2, tls_refusal)
        .await;

    // A trusted certificate, but for edge1, presented by a node calling itself edge2.
    let mut impostor_args = args(&edge1_config, "edge2", "edge");
    impostor_args.extend(["--join".to_string(), seed.clone()]);
    let impostor_args: Vec<&str> = impostor_args.iter().map(String::as_str).collect();
    let mut impostor = Node::start(&dir.path().join("edge2"), &impostor_args, &COOKIE);
    let refusal = cloud
        .wait_for("impostor refused", STARTUP, |v| {
            v["message"]
                == "cluster session refused: its certificate is not for the node it claims to be"
        })
        .await;
    assert_eq!(refusal["peer"], "edge2", "{refusal}");
    // The console speaks TLS when the config has it, and is refused without.
    let console_config = trusted.node("console");
    let with_tls = [
        "console",
        &seed,
        "--config",
        &console_config,
        "-c",
        "nodes --json",
    ];
    let (status, out, err) = support::run(&with_tls, &COOKIE).await;
    assert!(status.success(), "{err}");
    assert!(out.contains("\"edge1\""), "{out}");
    let (status, _, err) = support::run(&["console", &seed, "-c", "nodes"], &COOKIE).await;
    assert_eq!(status.code(), Some(2), "{err}");
    for stranger in ["rogue", "plain", "edge2"] {
        let met = cloud.events().iter().any(|v| v["member"] == stranger);
        assert!(!met, "{stranger} must not join");
    }
    for node in [&mut impostor, &mut plain, &mut rogue, &mut edge, &mut cloud] {
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
