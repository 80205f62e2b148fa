//! Bodies and brains in another language, on real processes: Python
//! airframes (over `eclipse-zenoh`, the package in actors/python) are the
//! bodies of two drones of an edge; one drone's brain is a Python process
//! too. Percepts come in and commands go out over the mesh; the reflex
//! refuses the brain's unsafe flight; both missions complete; the body's
//! process killed, its agents halt in their safe state, and resume when it
//! returns. A process with a wrong credential, or another tenant's, is no
//! body. The package's own unit tests run in the venv the test creates.

mod support;

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use std::sync::{Arc, Mutex};
use support::console::{ENV, configured, console, json_lines};
use support::{Node, eventually, free_port, python};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

async fn run(node: &Node, line: &str) -> Vec<Value> {
    let (code, out, err) = console(&node.listen, &["--json", "-c", line]).await;
    assert_eq!(code, 0, "{line}: {out}{err}");
    json_lines(&out)
}

/// `swarmd mesh credentials` for `tenant` on the node configured by `config`.
async fn credentials(config: &Path, tenant: &str) -> Value {
    let out = support::swarmd()
        .args(["mesh", "credentials", "--tenant", tenant, "--config"])
        .arg(config)
        .envs(ENV)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap()
}

/// A Python script of tests/external, started and seen `ready`.
async fn script(name: &str, args: &[&str]) -> Script {
    started(python::script(name), args).await
}

/// A running Python program and every line it printed after `ready`.
struct Script {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Script {
    /// The last line printed about `agent`, as JSON.
    fn last_about(&self, agent: &str) -> Option<Value> {
        let lines = self.lines.lock().unwrap();
        let about = lines
            .iter()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok());
        about.into_iter().find(|v| v["agent"] == agent)
    }
}

/// The Python program `path`, started and seen `ready`.
async fn started(path: std::path::PathBuf, args: &[&str]) -> Script {
    let name = path.display().to_string();
    let mut child = Command::new(python::python())
        .arg(&path)
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line()).await;
    let line = ready.unwrap_or_else(|_| panic!("{name} not ready in 60 s"));
    assert_eq!(line.unwrap().as_deref(), Some("ready"), "{name}");
    // Kept (the last few hundred), and drained so the script never blocks.
    let kept = Arc::new(Mutex::new(Vec::new()));
    let keep = kept.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut kept = keep.lock().unwrap();
            if kept.len() == 512 {
                kept.remove(0);
            }
            kept.push(line);
        }
    });
    Script { child, lines: kept }
}

async fn agent(cloud: &Node, id: &str) -> Option<Value> {
    run(cloud, "agents")
        .await
        .into_iter()
        .find(|a| a["id"] == id)
}

async fn completed(cloud: &Node, id: u64) {
    let state = eventually("the mission ended", || async {
        let missions = run(cloud, "missions").await;
        let state = missions.into_iter().find(|m| m["id"] == id)?["state"].clone();
        (state != "Active").then_some(state)
    })
    .await;
    assert_eq!(state, "Completed", "mission {id}");
}

fn domain_acts(events: &[Value], act: &str) -> Vec<Value> {
    events
        .iter()
        .map(|e| e["detail"]["Domain"].clone())
        .filter(|d| d["act"].get(act).is_some() || d["act"] == act)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_bodies_and_a_brain_fly_drones_under_the_reflex() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[missions]\ndemo = false\n[agents]\nboot = 0\n";
    let cloud = configured(dir.path(), "cloud", base, &["--role", "cloud"]).await;
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let edge_toml = format!("{base}[mesh]\nagents_listen = [{endpoint:?}]\n");
    let join = ["--join", cloud.listen.as_str()];
    let edge = configured(dir.path(), "edge", &edge_toml, &join).await;
    let creds = credentials(&dir.path().join("edge.toml"), "default").await;
    assert_eq!(creds["user"], "agent.default");
    assert_eq!(creds["endpoints"][0], endpoint.as_str(), "{creds}");
    let (user, password) = (
        creds["user"].as_str().unwrap(),
        creds["password"].as_str().unwrap(),
    );

    let spawn = |id: &str, home: &str, brain: &str| {
        format!(
            r#"spawn drone {{"id": "{id}", "params": {{"home": "{home}", "body": "remote", "brain": "{brain}"}}}}"#
        )
    };
    let running = |id: &'static str| {
        let cloud = &cloud;
        async move { (agent(cloud, id).await?["halted"] == false).then_some(()) }
    };
    let mission = |to: &str| {
        format!(r#"mission {{"task": {{"kind": "deliver", "payload": {{"to": {to}}}}}}}"#)
    };
    let bodies = ["d1:40,2", "d2:190,5"];
    let body_args = |extra: &[&'static str]| {
        let mut args = vec![endpoint.as_str(), "default", user, password];
        args.extend(extra);
        args
    };
    let mut body = script("drones_body.py", &body_args(&bodies)).await;
    let _brain = script("drone_brain.py", &body_args(&["d2", "230,5"])).await;

    // d2 alone first, so the first mission is its: the brain's.
    run(&edge, &spawn("d2", "190,5", "remote")).await;
    eventually("d2 reported, running", || running("d2")).await;
    let east = run(&cloud, &mission("[190, 40]")).await[0]["mission"]
        .as_u64()
        .unwrap();
    eventually("d2 holds the east delivery", || async {
        let d2 = agent(&cloud, "d2").await?;
        (!d2["tasks"].as_array()?.is_empty()).then_some(())
    })
    .await;
    run(&edge, &spawn("d1", "40,2", "local")).await;
    eventually("d1 reported, running", || running("d1")).await;
    let west = run(&cloud, &mission("[40, 30]")).await[0]["mission"]
        .as_u64()
        .unwrap();
    for id in [east, west] {
        completed(&cloud, id).await;
    }

    let d2 = run(&edge, "events --kind domain --agent d2 --limit 1000").await;
    let refused = domain_acts(&d2, "Refused");
    assert!(
        refused
            .iter()
            .any(|d| d["act"]["Refused"]["rule"] == "geofence"),
        "the reflex refused the brain's flight out of the airspace: {d2:?}"
    );
    let brain = domain_acts(&d2, "Brain");
    let accepted: Vec<_> = brain
        .iter()
        .filter(|d| d["act"]["Brain"]["outcome"] == "accepted")
        .collect();
    assert!(!accepted.is_empty(), "{d2:?}");
    assert!(
        accepted
            .iter()
            .all(|d| d["act"]["Brain"]["model"] == "scripted")
    );
    assert!(
        accepted
            .iter()
            .any(|d| d["act"]["Brain"]["prompt_hash"] == "unsafe"),
        "{accepted:?}"
    );
    let connected = domain_acts(&d2, "Connected");
    assert!(
        connected
            .iter()
            .any(|d| d["act"]["Connected"]["from"] == "drones_body.py:d2"),
        "the body's identity journaled: {d2:?}"
    );

    // An emergency stop reaches the external body as the safe command.
    let far = run(&cloud, &mission("[40, 190]")).await[0]["mission"]
        .as_u64()
        .unwrap();
    let flier = eventually("a drone holds the far delivery", || async {
        let agents = run(&cloud, "agents").await;
        let holder = agents.into_iter().find(|a| {
            let mine = |t: &Value| {
                t.as_str()
                    .is_some_and(|t| t.starts_with(&format!("{far}/")))
            };
            a["tasks"].as_array().is_some_and(|t| t.iter().any(mine))
        })?;
        holder["id"].as_str().map(str::to_string)
    })
    .await;
    eventually("it is flying", || async {
        body.last_about(&flier)?["command"].get("fly").map(|_| ())
    })
    .await;
    run(
        &edge,
        &format!(r#"send {flier} {{"EmergencyStop": {{"reason": "drill"}}}}"#),
    )
    .await;
    eventually("its body told to hover", || async {
        (body.last_about(&flier)?["command"] == "hover").then_some(())
    })
    .await;
    let line = format!("events --kind state_change --agent {flier} --limit 1000");
    let changes = run(&edge, &line).await;
    assert!(
        changes
            .iter()
            .any(|e| e.to_string().contains("emergency stop (drill)"))
    );
    run(&edge, &format!(r#"send {flier} "Resume""#)).await;
    completed(&cloud, far).await;

    body.child.kill().await.unwrap();
    eventually("both drones halted without their body", || async {
        let (d1, d2) = (agent(&cloud, "d1").await?, agent(&cloud, "d2").await?);
        (d1["halted"] == true && d2["halted"] == true).then_some(())
    })
    .await;
    let changes = run(&edge, "events --kind state_change --agent d1 --limit 1000").await;
    assert!(
        changes
            .iter()
            .any(|e| e.to_string().contains("the body is silent")),
        "{changes:?}"
    );
    let _body = script("drones_body.py", &body_args(&bodies)).await;
    eventually("both drones running again with their body back", || async {
        let (d1, d2) = (agent(&cloud, "d1").await?, agent(&cloud, "d2").await?);
        (d1["halted"] == false && d2["halted"] == false).then_some(())
    })
    .await;
}

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
    let unserved = support::swarmd()
        .args(["mesh", "credentials", "--tenant", "nobody", "--config"])
        .arg(&config)
        .envs(ENV)
        .output()
        .await
        .unwrap();
    assert!(!unserved.status.success());
    assert!(String::from_utf8_lossy(&unserved.stderr).contains("does not serve tenant"));

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

#[tokio::test]
async fn the_python_package_passes_its_own_tests() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("actors/python/tests");
    let cwd = tempfile::tempdir().unwrap();
    let out = Command::new(python::python())
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(&tests)
        .current_dir(cwd.path())
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    let ran: u32 = report
        .split("Ran ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        ran >= 12,
        "the protocol's and the LLM brain's tests ran: {report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_brain_flies_a_drone_and_its_bad_answers_are_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[missions]\ndemo = false\n[agents]\nboot = 0\n";
    // Declared in the cloud's config: supervised on the edge from the start.
    let placed = "[[placement.agents]]\nid = \"d1\"\nkind = \"drone\"\nnode = \"edge\"\n\
                  params = { home = \"100,2\", body = \"remote\", brain = \"remote\", \
                  brain_deadline_ms = \"1500\" }\n";
    let cloud_toml = format!("{base}{placed}");
    let cloud = configured(dir.path(), "cloud", &cloud_toml, &["--role", "cloud"]).await;
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let edge_toml = format!("{base}[mesh]\nagents_listen = [{endpoint:?}]\n");
    let join = ["--join", cloud.listen.as_str()];
    let edge = configured(dir.path(), "edge", &edge_toml, &join).await;
    let creds = credentials(&dir.path().join("edge.toml"), "default").await;
    let (user, password) = (
        creds["user"].as_str().unwrap(),
        creds["password"].as_str().unwrap(),
    );

    let llm_port = free_port().to_string();
    let _llm = script("openai_stub.py", &[&llm_port]).await;
    let llm = format!("http://127.0.0.1:{llm_port}/v1");
    let _body = script(
        "drones_body.py",
        &[&endpoint, "default", user, password, "d1:100,2"],
    )
    .await;
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("actors/python/examples/llm_brain.py");
    let brain_args = [
        "--agent",
        "d1",
        "--endpoint",
        &endpoint,
        "--user",
        user,
        "--password",
        password,
        "--llm",
        &llm,
        "--model",
        "stub-model",
        "--timeout",
        "1",
    ];
    let _brain = started(example, &brain_args).await;
    eventually("d1 reported, running", || async {
        (agent(&cloud, "d1").await?["halted"] == false).then_some(())
    })
    .await;
    let line = r#"mission {"task": {"kind": "deliver", "payload": {"to": [100, 40]}}}"#;
    let id = run(&cloud, line).await[0]["mission"].as_u64().unwrap();
    completed(&cloud, id).await;

    let events = run(&edge, "events --kind domain --agent d1 --limit 1000").await;
    let brain = domain_acts(&events, "Brain");
    let outcome = |d: &Value| {
        d["act"]["Brain"]["outcome"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let invalid = brain.iter().find(|d| outcome(d).starts_with("invalid"));
    let invalid = invalid.unwrap_or_else(|| panic!("the malformed answer journaled: {brain:?}"));
    assert!(
        invalid["detail"].as_str().unwrap().contains("north-ish"),
        "{invalid}"
    );
    assert_eq!(invalid["act"]["Brain"]["model"], "stub-model");
    assert!(
        brain
            .iter()
            .any(|d| outcome(d).starts_with("missed the deadline")),
        "the slow answer missed its deadline: {brain:?}"
    );
    let accepted: Vec<_> = brain.iter().filter(|d| outcome(d) == "accepted").collect();
    assert!(!accepted.is_empty(), "{brain:?}");
    for d in &accepted {
        let b = &d["act"]["Brain"];
        assert_eq!(b["model"], "stub-model", "{d}");
        assert_eq!(b["prompt_hash"].as_str().map(str::len), Some(16), "{d}");
        assert_eq!(b["from"], "llm_brain.py:stub-model", "{d}");
    }
    assert!(
        accepted
            .iter()
            .any(|d| d["detail"].as_str().unwrap().contains("go_to")),
        "the model's own flight was taken: {accepted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_body_finds_its_node_again_after_the_node_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let toml = format!(
        "[missions]\ndemo = false\n[agents]\nboot = 0\n[mesh]\nagents_listen = [{endpoint:?}]\n"
    );
    let mut edge = configured(dir.path(), "edge", &toml, &[]).await;
    let creds = credentials(&dir.path().join("edge.toml"), "default").await;
    let (user, password) = (
        creds["user"].as_str().unwrap(),
        creds["password"].as_str().unwrap(),
    );
    let spawn = r#"spawn drone {"id": "d1", "params": {"home": "40,2", "body": "remote"}}"#;
    run(&edge, spawn).await;
    let _body = script(
        "drones_body.py",
        &[&endpoint, "default", user, password, "d1:40,2"],
    )
    .await;
    let connected = |edge: &Node| {
        let listen = edge.listen.clone();
        async move {
            let (_, out, _) = console(
                &listen,
                &[
                    "--json",
                    "-c",
                    "events --kind domain --agent d1 --limit 1000",
                ],
            )
            .await;
            domain_acts(&json_lines(&out), "Connected").len()
        }
    };
    eventually("the body heard", || async {
        (connected(&edge).await >= 1).then_some(())
    })
    .await;
    let before = connected(&edge).await;

    edge.child.kill().await.unwrap();
    let config = dir.path().join("edge.toml").display().to_string();
    let args = ["--name", "edge", "--config", config.as_str()];
    let mut edge = Node::start_listening(&dir.path().join("edge"), &edge.listen, &args, &ENV);
    edge.ready().await;
    run(&edge, spawn).await;
    eventually("the same body heard by the restarted node", || async {
        (connected(&edge).await > before).then_some(())
    })
    .await;
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
