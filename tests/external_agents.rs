//! Bodies and brains in another language, on real processes: Python
//! airframes (over `eclipse-zenoh`, the package in actors/python) are the
//! bodies of two drones of an edge; one drone's brain is a Python process
//! too. Percepts come in and commands go out over the mesh; the reflex
//! refuses the brain's unsafe flight; an emergency stop reaches the body;
//! both missions complete; the body's process killed, its agents halt in
//! their safe state, and resume when it returns. An LLM brain against a
//! scripted chat-completions server; a body that finds its restarted node
//! again; the package's own unit tests, in the venv the test creates.
//! (Who may be a body at all: tests/external_trust.rs.)

mod support;

use serde_json::Value;
use support::console::{ENV, configured, console, json_lines};
use support::external::{agent, completed, credentials, domain_acts, run, script, started};
use support::{Node, eventually, free_port, python};
use tokio::process::Command;

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
