//! Who may be an agent's body or brain: only a process with its tenant's
//! agent credential, on the agent gateway. A wrong password is refused at
//! the link, another tenant's credential reaches none of this tenant's
//! agents, the agent credential does not open the mesh, frames that are not
//! the protocol's are journaled once per reason; over `[mesh.tls]` a
//! certificate from the mesh's CA is needed as well.

mod support;

use std::path::Path;

use support::console::configured;
use support::external::{ask_credentials, credentials, domain_acts, run};
use support::{eventually, free_port, python};
use tokio::process::Command;

/// `rogue_body.py` with `user`/`password`: its exit code and what it printed.
async fn rogue(endpoint: &str, tenant: &str, user: &str, password: &str) -> (i32, String) {
    rogue_with(endpoint, tenant, user, password, &[]).await
}

async fn rogue_with(
    endpoint: &str,
    tenant: &str,
    user: &str,
    password: &str,
    flags: &[&str],
) -> (i32, String) {
    let out = Command::new(python::python())
        .arg(python::script("rogue_body.py"))
        .args([endpoint, tenant, user, password, "d1"])
        .args(flags)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_tenants_credential_a_process_is_no_body() {
    let dir = tempfile::tempdir().unwrap();
    let (mesh, endpoint) = (
        format!("tcp/127.0.0.1:{}", free_port()),
        format!("tcp/127.0.0.1:{}", free_port()),
    );
    let toml = format!(
        "[node]\ntenants = [\"default\", \"other\"]\n[missions]\ndemo = false\n\
         [agents]\nboot = 0\n[mesh]\nlisten = [{mesh:?}]\nagents_listen = [{endpoint:?}]\n"
    );
    let edge = configured(dir.path(), "edge", &toml, &[]).await;
    let config = dir.path().join("edge.toml");
    let (own, other) = (
        credentials(&config, "default").await,
        credentials(&config, "other").await,
    );
    let said = credentials_refused(&config, "nobody").await;
    assert!(said.contains("does not serve tenant"), "{said}");
    // The gateway is opt-in: a node without mesh.agents_listen has none.
    let closed = support::write_file(dir.path(), "closed.toml", "[agents]\nboot = 0\n");
    let said = credentials_refused(&closed, "default").await;
    assert!(said.contains("opens no agent gateway"), "{said}");

    run(
        &edge,
        r#"spawn drone {"id": "d1", "params": {"home": "40,2", "body": "remote"}}"#,
    )
    .await;
    let (code, said) = rogue(&endpoint, "default", "agent.default", "not-the-key").await;
    assert_eq!(code, 3, "a wrong password joined the mesh: {said}");
    assert!(said.starts_with("refused"), "{said}");

    // The agent credential opens the agent gateway, not the mesh itself.
    let (user, password) = (
        own["user"].as_str().unwrap(),
        own["password"].as_str().unwrap(),
    );
    let (code, said) = rogue(&mesh, "default", user, password).await;
    assert_eq!(code, 3, "an agent credential joined the mesh: {said}");

    // Admitted to the gateway, but for tenant `other`: zenoh's access
    // control keeps it off tenant default's keys.
    let (user, password) = (
        other["user"].as_str().unwrap(),
        other["password"].as_str().unwrap(),
    );
    let (code, said) = rogue(&endpoint, "default", user, password).await;
    assert_eq!((code, said.trim()), (0, "sent 40"));
    let events = run(&edge, "events --kind domain --agent d1 --limit 1000").await;
    assert!(
        domain_acts(&events, "Connected").is_empty(),
        "another tenant's process was heard as d1's body: {events:?}"
    );

    // The positive control: the tenant's own credential is heard.
    let (user, password) = (
        own["user"].as_str().unwrap(),
        own["password"].as_str().unwrap(),
    );
    let (code, said) = rogue(&endpoint, "default", user, password).await;
    assert_eq!((code, said.trim()), (0, "sent 40"));
    eventually("the tenant's own body heard", || async {
        let events = run(&edge, "events --kind domain --agent d1 --limit 1000").await;
        (!domain_acts(&events, "Connected").is_empty()).then_some(())
    })
    .await;

    // Frames that are not the protocol's: each kind journaled once, however many.
    let (code, said) = rogue_with(&endpoint, "default", user, password, &["--bad"]).await;
    assert_eq!((code, said.trim()), (0, "sent 40"));
    let rejected = eventually("the bad frames journaled", || async {
        let events = run(&edge, "events --kind domain --agent d1 --limit 1000").await;
        let rejected = domain_acts(&events, "Rejected");
        (rejected.len() >= 2).then_some(rejected)
    })
    .await;
    let whys: Vec<&str> = rejected
        .iter()
        .map(|d| d["act"]["Rejected"]["why"].as_str().unwrap())
        .collect();
    assert_eq!(whys.len(), 2, "once per kind of reason: {whys:?}");
    assert!(
        whys.iter().any(|w| w.starts_with("not a protocol message")),
        "{whys:?}"
    );
    assert!(
        whys.iter().any(|w| w.contains("protocol version 2")),
        "{whys:?}"
    );
}

/// `swarmd mesh credentials` for `tenant` that must fail: what it said.
async fn credentials_refused(config: &Path, tenant: &str) -> String {
    let out = ask_credentials(config, tenant).await;
    assert!(!out.status.success(), "credentials for {tenant} were given");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A CA, and certificates it signs for 127.0.0.1, written into `dir`:
/// `(ca, [(cert, key)])`.
fn pki(dir: &Path, names: &[&str]) -> (String, Vec<(String, String)>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    use std::os::unix::fs::PermissionsExt;
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = support::write_file(dir, "ca.pem", &ca.self_signed(&ca_key).unwrap().pem());
    let issuer = Issuer::new(ca, ca_key);
    let signed = names.iter().map(|name| {
        let sans = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(sans)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let cert = support::write_file(dir, &format!("{name}.pem"), &cert.pem());
        let key_path = support::write_file(dir, &format!("{name}.key"), &key.serialize_pem());
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        (cert.display().to_string(), key_path.display().to_string())
    });
    let signed = signed.collect();
    (ca_pem.display().to_string(), signed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_mesh_tls_a_body_needs_a_certificate_and_the_credential() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, certs) = pki(dir.path(), &["node", "body"]);
    let ((node_cert, node_key), (body_cert, body_key)) = (&certs[0], &certs[1]);
    let (mesh, endpoint) = (free_port(), free_port());
    let toml = format!(
        "[missions]\ndemo = false\n[agents]\nboot = 0\n[mesh]\n\
         listen = [\"tls/127.0.0.1:{mesh}\"]\nagents_listen = [\"tls/127.0.0.1:{endpoint}\"]\n\
         [mesh.tls]\ncert = {node_cert:?}\nkey = {node_key:?}\nca = {ca:?}\n"
    );
    let edge = configured(dir.path(), "edge", &toml, &[]).await;
    let creds = credentials(&dir.path().join("edge.toml"), "default").await;
    assert_eq!(creds["tls"], true, "{creds}");
    let endpoint = creds["endpoints"][0].as_str().unwrap().to_string();
    assert!(endpoint.starts_with("tls/"), "{endpoint}");
    let (user, password) = (
        creds["user"].as_str().unwrap(),
        creds["password"].as_str().unwrap(),
    );
    run(
        &edge,
        r#"spawn drone {"id": "d1", "params": {"home": "40,2", "body": "remote"}}"#,
    )
    .await;

    let rogue_tls = |cert: Option<(&str, &str)>, password: &str| {
        let mut cmd = Command::new(python::python());
        cmd.arg(python::script("rogue_body.py"))
            .args([endpoint.as_str(), "default", user, password, "d1"])
            .kill_on_drop(true);
        if let Some((cert, key)) = cert {
            cmd.env("SWARMD_TLS_CA", &ca)
                .env("SWARMD_TLS_CERT", cert)
                .env("SWARMD_TLS_KEY", key);
        }
        async move {
            let out = cmd.output().await.unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).to_string(),
            )
        }
    };
    let (code, said) = rogue_tls(None, password).await;
    assert_eq!(code, 3, "no certificate, yet linked: {said}");
    let (code, said) = rogue_tls(Some((body_cert, body_key)), "not-the-key").await;
    assert_eq!(
        code, 3,
        "a certificate without the credential linked: {said}"
    );
    let (code, said) = rogue_tls(Some((body_cert, body_key)), password).await;
    assert_eq!((code, said.trim()), (0, "sent 40"));
    eventually("the body heard over TLS", || async {
        let events = run(&edge, "events --kind domain --agent d1 --limit 1000").await;
        (!domain_acts(&events, "Connected").is_empty()).then_some(())
    })
    .await;
}
