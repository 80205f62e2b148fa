//! The cloud supervises agents on edges, in the daemon, on real processes:
//! `spawn … --supervised` makes an agent a child of the cloud's remote
//! supervisor; when its edge is SIGKILLed, a relocatable agent runs again on
//! the other edge after the grace (same id), a node-bound one is reported
//! lost, every move is a ledger event, and no task ends twice.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::Node;
use support::console::{console_with, json_lines};
use tokio::time::Instant;

const COOKIE: [(&str, &str); 1] = [("SWARMD_COOKIE", "REMOTESUPERVISIONCOOKIEXQZJVKWPMB")];
const GRACE_MS: u64 = 2_000;
/// Down after 1.2 s, the grace, one placement: the issue's bound with room for a loaded CI.
const MOVE_LIMIT: Duration = Duration::from_secs(15);

fn config(dir: &Path) -> String {
    let text = format!(
        "[cluster]\nheartbeat_interval_ms = 100\nsuspect_after_ms = 400\ndown_after_ms = 1200\n\
         dial_backoff_max_ms = 500\n[agents]\nboot = 0\n\
         [placement]\ngrace_ms = {GRACE_MS}\nrelocatable = [\"grid\"]\n\
         [[placement.agents]]\nid = \"scout\"\nkind = \"grid\"\n"
    );
    support::write_file(dir, "fast.toml", &text)
        .display()
        .to_string()
}

async fn console(node: &Node, line: &str) -> Vec<Value> {
    let (code, out, err) = console_with(&node.listen, &["--json", "-c", line], &COOKIE).await;
    assert_eq!(code, 0, "{line}: {err}{out}");
    json_lines(&out)
}

/// The cloud's remote children as `tree` shows them: id → (status, node).
async fn remote_children(cloud: &Node) -> BTreeMap<String, (String, String)> {
    let tree = console(cloud, "tree").await.remove(0);
    let mut found = BTreeMap::new();
    collect(&tree, &mut found);
    found
}

fn collect(node: &Value, found: &mut BTreeMap<String, (String, String)>) {
    if node["kind"] == "remote" {
        let id = node["id"].as_str().unwrap().to_string();
        let state = (
            node["status"].as_str().unwrap().to_string(),
            node["node"].as_str().unwrap_or("").to_string(),
        );
        found.insert(id, state);
    }
    for child in node["children"].as_array().into_iter().flatten() {
        collect(child, found);
    }
}

async fn wait_children(
    cloud: &Node,
    what: &str,
    limit: Duration,
    ok: impl Fn(&BTreeMap<String, (String, String)>) -> bool,
) -> BTreeMap<String, (String, String)> {
    let deadline = Instant::now() + limit;
    loop {
        let children = remote_children(cloud).await;
        if ok(&children) {
            return children;
        }
        assert!(Instant::now() < deadline, "{what}: {children:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_edges_relocatable_agent_moves_and_its_node_bound_one_is_reported_lost() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let start = |name: &str, role: &str, seed: Option<&str>| {
        let mut args = vec!["--config", &config, "--name", name, "--role", role];
        if let Some(seed) = seed {
            args.extend(["--join", seed]);
        }
        Node::start(&dir.path().join(name), &args, &COOKIE)
    };
    let mut cloud = start("cloud", "cloud", None);
    cloud.ready().await;
    let seed = cloud.listen.clone();
    let mut edges = vec![
        start("edge1", "edge", Some(&seed)),
        start("edge2", "edge", Some(&seed)),
    ];
    for edge in &mut edges {
        edge.ready().await;
    }
    for edge in ["edge1", "edge2"] {
        let up = |v: &Value| {
            v["message"] == "membership changed" && v["member"] == edge && v["to"] == "up"
        };
        cloud
            .wait_for(&format!("{edge} up"), support::STARTUP, up)
            .await;
    }

    let placed = console(
        &cloud,
        r#"spawn grid {"id": "roamer"} --place --supervised"#,
    )
    .await
    .remove(0);
    assert_eq!(placed["supervised"], true, "{placed}");
    assert_eq!(placed["relocatable"], true, "{placed}");
    assert_eq!(placed["state"], "running", "{placed}");
    let home = placed["node"].as_str().unwrap().to_string();
    let spawn_robot = format!(r#"spawn probe {{"id": "robot"}} --node {home} --supervised"#);
    let robot = console(&cloud, &spawn_robot).await.remove(0);
    assert_eq!(
        (robot["relocatable"].clone(), robot["node"].clone()),
        (Value::Bool(false), Value::String(home.clone())),
        "{robot}"
    );
    let itself = r#"spawn grid {"id": "x"} --node cloud --supervised"#;
    let (code, out, err) = console_with(&cloud.listen, &["-c", itself], &COOKIE).await;
    assert!(
        code != 0 && err.contains("without --supervised"),
        "{code} {out} {err}"
    );
    let survivor = if home == "edge1" { "edge2" } else { "edge1" };
    // `scout` is supervised from the cloud's config ([[placement.agents]]).
    let both = wait_children(&cloud, "all three running", support::STARTUP, |c| {
        ["roamer", "robot", "scout"]
            .iter()
            .all(|id| c.get(*id).is_some_and(|(s, _)| s == "running"))
    })
    .await;
    assert_eq!(both["roamer"].1, home);

    let victim = if home == "edge1" { 0 } else { 1 };
    edges[victim].signal(libc::SIGKILL);
    edges[victim].exit().await;
    let killed = Instant::now();
    let moved = wait_children(&cloud, "roamer moved, robot lost", MOVE_LIMIT, |c| {
        c.get("roamer") == Some(&("running".into(), survivor.into()))
            && c.get("robot").is_some_and(|(s, _)| s == "lost")
    })
    .await;
    let took = killed.elapsed();
    println!("edge killed -> its agent running on {survivor}: {took:?} (grace {GRACE_MS} ms)");
    assert!(
        took >= Duration::from_millis(GRACE_MS),
        "moved before the grace: {took:?} {moved:?}"
    );
    // The agent runs on the survivor under its own id.
    let agents = console(&edges[1 - victim], "agents").await;
    assert!(
        agents
            .iter()
            .any(|a| a["id"] == "roamer" || a["agent"] == "roamer"),
        "{agents:?}"
    );

    let placements = console(&cloud, "events --kind placement --limit 100").await;
    let changes: Vec<(String, Value)> = placements
        .iter()
        .map(|e| {
            (
                e["agent"].as_str().unwrap_or_default().to_string(),
                e["detail"]["Placement"]["change"].clone(),
            )
        })
        .collect();
    let has = |agent: &str, change: Value| changes.iter().any(|(a, c)| a == agent && *c == change);
    assert!(
        has(
            "roamer",
            serde_json::json!({"Moved": {"from": home, "to": survivor}})
        ),
        "{changes:?}"
    );
    assert!(
        has("robot", serde_json::json!({"Lost": {"node": home}})),
        "{changes:?}"
    );
    assert!(
        has("roamer", serde_json::json!({"NodeDown": {"node": home}})),
        "{changes:?}"
    );

    // No task of any mission ended twice.
    let tasks = console(&cloud, "events --kind task --limit 10000").await;
    let mut ended = BTreeMap::new();
    for e in &tasks {
        let task = &e["detail"]["Task"];
        if task["change"].get("Ended").is_some() {
            *ended
                .entry((task["mission"].to_string(), task["task"].to_string()))
                .or_insert(0) += 1;
        }
    }
    assert!(ended.values().all(|n| *n == 1), "{ended:?}");

    let survivor_node = &mut edges[1 - victim];
    survivor_node.signal(libc::SIGTERM);
    survivor_node.exit().await;
    cloud.signal(libc::SIGTERM);
    assert_eq!(
        cloud.exit().await.code(),
        Some(0),
        "{}",
        cloud.log.join("\n")
    );
}
