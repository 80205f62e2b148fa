//! `swarmd console` against real `swarmd` processes.

mod support;

use std::process::Stdio;

use support::console::{ENV, console, console_with, json_lines, layer, playground};
use support::{Node, STARTUP};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_lists_a_cloud_and_an_edge_as_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut cloud = Node::start(
        &dir.path().join("cloud"),
        &["--name", "cloud", "--role", "cloud"],
        &ENV,
    );
    cloud.ready().await;
    let faults = support::write_file(
        dir.path(),
        "edge.toml",
        "[control]\nallow_fault_injection = true\n",
    );
    let faults = faults.display().to_string();
    let edge_args = [
        "--name",
        "edge-1",
        "--join",
        &cloud.listen,
        "--config",
        &faults,
    ];
    let mut edge = Node::start(&dir.path().join("edge"), &edge_args, &ENV);
    edge.ready().await;
    cloud
        .wait_for("edge up", STARTUP, |v| {
            v["message"] == "membership changed" && v["member"] == "edge-1" && v["to"] == "up"
        })
        .await;
    let (code, out, err) = console(&cloud.listen, &["--json", "-c", "nodes"]).await;
    assert_eq!(code, 0, "{err}");
    let nodes = json_lines(&out);
    for (name, role) in [("cloud", "cloud"), ("edge-1", "edge")] {
        let node = nodes
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("{out}"));
        assert_eq!(
            (node["role"].as_str(), node["state"].as_str()),
            (Some(role), Some("up"))
        );
    }
    // A command about another node goes to that node's control actor.
    let (code, out, err) = console(&cloud.listen, &["-c", "tree edge-1 --json"]).await;
    assert_eq!(code, 0, "{err}");
    let tree = &json_lines(&out)[0];
    assert_eq!(tree["id"], "edge-1");
    assert!(
        layer(tree, &["agents"])["children"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    // A path on another node goes to that node, which decides (the cloud
    // itself allows no fault injection; the edge does).
    let (code, out, err) = console(
        &cloud.listen,
        &["--json", "-c", "kill edge-1/agents/edge-1-1/reflex"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json_lines(&out)[0]["killed"],
        "edge-1/agents/edge-1-1/reflex"
    );
    let (code, _, err) = console(&cloud.listen, &["-c", "kill cloud/cloud/missions"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("allow_fault_injection"), "{err}");
    // The edge's numbers, asked of the cloud.
    let (code, out, err) = console(&cloud.listen, &["--json", "-c", "stats edge-1"]).await;
    assert_eq!(code, 0, "{err}");
    let stats = &json_lines(&out)[0];
    assert_eq!(stats["node"], "edge-1");
    assert!(stats["ledger"]["committed"].as_u64() > Some(0), "{stats}");
    assert!(
        stats["forward"]["backlog"].is_u64() && stats["forward"]["lag_ms"].is_u64(),
        "{stats}"
    );
    assert!(stats["gateway"]["frames_in"].as_u64() > Some(0), "{stats}");
    assert!(stats["mesh"]["published"].is_u64(), "{stats}");
    // The cloud reaches agents where they live: once its planner has heard
    // of them, `estop AGENT` from the cloud stops an agent on the edge.
    let deadline = tokio::time::Instant::now() + STARTUP;
    loop {
        let (_, out, _) = console(&cloud.listen, &["--json", "-c", "agents"]).await;
        if json_lines(&out).iter().any(|a| a["id"] == "edge-1-2") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the planner never heard of edge-1-2: {out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (code, out, err) = console(&cloud.listen, &["--json", "-c", "estop edge-1-2"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_lines(&out)[0]["agents"][0], "edge-1-2");
    let deadline = tokio::time::Instant::now() + STARTUP;
    loop {
        let query = [
            "--json",
            "-c",
            "events --agent edge-1-2 --kind state_change --limit 500",
        ];
        let (_, out, _) = console(&cloud.listen, &query).await;
        if out.contains("emergency stop (operator") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "edge-1-2 never stopped: {out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The console is a hidden client: never a member.
    let members = cloud.events();
    assert!(!members.iter().any(|v| {
        v["member"]
            .as_str()
            .is_some_and(|m| m.starts_with("swarmd-console"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_agents_and_events_from_a_script() {
    let dir = tempfile::tempdir().unwrap();
    let node = playground(dir.path()).await;
    let (code, out, err) = console(&node.listen, &["-c", "tree --json"]).await;
    assert_eq!(code, 0, "{err}");
    let tree = &json_lines(&out)[0];
    let agent = layer(tree, &["agents", "swarmd-1"]);
    assert_eq!(agent["strategy"], "rest_for_one");
    let layers: Vec<&str> = agent["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(layers, ["reflex", "situation", "supervision"]);

    let (code, out, err) = console(&node.listen, &["--json", "-c", "agents"]).await;
    assert_eq!(code, 0, "{err}");
    let agents = json_lines(&out);
    assert!(agents.len() >= 2, "{out}");
    assert!(
        agents
            .iter()
            .all(|a| a["tenant"] == "default" && a["layers"].as_array().unwrap().len() == 3)
    );

    let (code, out, err) = console(
        &node.listen,
        &["-c", "events --kind supervision --limit 5 --json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let events = json_lines(&out);
    assert_eq!(events.len(), 5, "{out}");
    assert!(events.iter().all(|e| e["kind"] == "supervision"));

    // Through a pipe, each command is answered before the next is written.
    let mut cmd = support::swarmd();
    cmd.args(["console", &node.listen, "--json"])
        .envs(ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut answers = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..2 {
        stdin.write_all(b"stats\n").await.unwrap();
        let answer = tokio::time::timeout(STARTUP, answers.next_line()).await;
        let line = answer
            .expect("an answer before the next command")
            .unwrap()
            .unwrap();
        assert!(line.contains("\"uptime_s\""), "{line}");
    }
    drop(stdin);
    assert!(child.wait().await.unwrap().success());

    // The same commands from stdin, as a script.
    let mut cmd = support::swarmd();
    cmd.args(["console", &node.listen, "--json"])
        .envs(ENV)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"nodes\n\nevents --kind audit --limit 1\n")
        .await
        .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(support::EXIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(lines.len(), 2, "one node, one audit event");
    assert_eq!(lines[1]["kind"], "audit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_restarts_the_layer_and_those_above_it_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let node = playground(dir.path()).await;
    let kill = "kill swarmd/agents/swarmd-1/reflex --reason test";
    let (code, out, err) = console(&node.listen, &["-c", kill]).await;
    assert_eq!(code, 0, "{out}{err}");
    // rest_for_one: the reflex, and the situation and supervision started after it.
    let restarted = || async {
        let (_, out, _) = console(&node.listen, &["-c", "tree --json"]).await;
        let tree = json_lines(&out).remove(0);
        let agent = layer(&tree, &["agents", "swarmd-1"]).clone();
        agent["children"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["restarts"] == 1 && l["status"] == "running")
    };
    let deadline = tokio::time::Instant::now() + STARTUP;
    while !restarted().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the layers did not restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, out, _) = console(&node.listen, &["-c", "tree --json"]).await;
    let tree = json_lines(&out).remove(0);
    assert_eq!(
        layer(&tree, &["agents", "swarmd-2", "reflex"])["restarts"],
        0
    );

    let (code, out, _) = console(
        &node.listen,
        &["--json", "-c", "events --kind audit --limit 100"],
    )
    .await;
    assert_eq!(code, 0);
    let audited = json_lines(&out)
        .into_iter()
        .any(|e| e["detail"]["Audit"]["command"] == kill);
    assert!(audited, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_message_names_the_field_and_the_session_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let node = playground(dir.path()).await;
    let script = r#"send swarmd-1 {"EmergencyStop": {"reasn": "x"}}; frobnicate; send swarmd-1 {"EmergencyStop": {"reason": "from the console"}}; nodes"#;
    let (code, out, err) = console(&node.listen, &["--json", "-c", script]).await;
    assert_eq!(code, 1, "a failed command fails the run: {out}{err}");
    assert!(
        err.contains("at EmergencyStop") && err.contains("reason"),
        "{err}"
    );
    assert!(err.contains("unknown command \"frobnicate\""), "{err}");
    let results = json_lines(&out);
    assert_eq!(
        results[0]["sent"], "swarmd-1",
        "the next command still ran: {out}"
    );
    assert!(results.iter().any(|r| r["name"] == "swarmd"), "{out}");
    let (_, out, _) = console(
        &node.listen,
        &["--json", "-c", "events --agent swarmd-1 --limit 200"],
    )
    .await;
    assert!(
        out.contains("from the console"),
        "the agent was stopped: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_cookie_nothing_listening_and_tenant_bounds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = playground(dir.path()).await;
    let wrong = [("SWARMD_COOKIE", "WRONGCOOKIEXQZJVKWPMBRTYHGFABCDE")];
    let (code, _, err) = console_with(&node.listen, &["-c", "nodes"], &wrong).await;
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("wrong cookie"), "{err}");
    let closed = format!("127.0.0.1:{}", support::free_port());
    let (code, _, err) = console(&closed, &["-c", "nodes"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("cannot connect"), "{err}");

    let (code, _, err) = console(&node.listen, &["--tenant", "other", "-c", "events"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("does not serve tenant \"other\""), "{err}");
    let bound = [
        "--tenant",
        "default",
        "--json",
        "-c",
        "events --tenant system --limit 5",
    ];
    let (code, _, err) = console(&node.listen, &bound).await;
    assert_eq!(code, 1);
    assert!(err.contains("cannot read tenant \"system\""), "{err}");
    let (code, out, err) = console(
        &node.listen,
        &["--tenant", "default", "--json", "-c", "events --limit 500"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        json_lines(&out).iter().all(|e| e["tenant"] == "default"),
        "{out}"
    );
    let (code, _, err) = console(
        &node.listen,
        &[
            "--tenant",
            "default",
            "-c",
            "kill swarmd/agents/swarmd-1/reflex",
        ],
    )
    .await;
    assert_eq!(code, 1);
    assert!(err.contains("refused"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_injection_is_off_on_edges_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut edge = Node::start(
        &dir.path().join("edge"),
        &["--name", "edge-9", "--role", "edge"],
        &ENV,
    );
    edge.ready().await;
    let (code, _, err) = console(&edge.listen, &["-c", "kill edge-9/agents"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("allow_fault_injection"), "{err}");
}
