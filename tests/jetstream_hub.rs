//! The event hub on NATS JetStream, against a real `nats-server` and real
//! `swarmd` processes: every edge event reaches every cloud's ledger once
//! and unchanged, through a server crash, two consumers and refused
//! credentials. (In one process, against the same server: resends, forged
//! ids and per-node permissions, `tests/jetstream_binding.rs`.)

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::console::{ENV, console, json_lines};
use support::http::{get, post_json};
use support::nats::NatsServer;
use support::{Node, eventually, free_port, write_file};

const LIMIT: Duration = Duration::from_secs(60);

/// A node config on the JetStream hub at `url`, with `extra` TOML in `[hub.jetstream]`.
fn hub_config(dir: &Path, url: &str, extra: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        "[hub]\nbackend = \"jetstream\"\n\n[hub.jetstream]\nurl = \"{url}\"\ntimeout_ms = 2000\n{extra}"
    );
    write_file(dir, "node.toml", &text).display().to_string()
}

async fn cloud(dir: &Path, name: &str, config: &str) -> (Node, String) {
    let http = format!("127.0.0.1:{}", free_port());
    let args = [
        "--name", name, "--role", "cloud", "--http", &http, "--config", config,
    ];
    let mut node = Node::start(&dir.join(name), &args, &ENV);
    node.ready().await;
    (node, http)
}

async fn edge(dir: &Path, name: &str, join: &str, config: &str) -> Node {
    let args = [
        "--name", name, "--join", join, "--http", "off", "--config", config,
    ];
    let mut node = Node::start(&dir.join(name), &args, &ENV);
    node.ready().await;
    node
}

/// `events --node NODE` as `node` answers it, by seq.
async fn events_of(node: &Node, of: &str) -> BTreeMap<u64, Value> {
    let (code, out, err) = console(
        &node.listen,
        &["--json", "-c", &format!("events --node {of} --limit 10000")],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let events = json_lines(&out);
    let by_seq: BTreeMap<u64, Value> = events
        .iter()
        .map(|e| (e["seq"].as_u64().unwrap(), e.clone()))
        .collect();
    assert_eq!(by_seq.len(), events.len(), "an event listed twice: {out}");
    by_seq
}

/// Waits until `cloud` holds every event `edge` holds now, each unchanged.
async fn all_reached(cloud: &Node, edge: &Node, name: &str) -> usize {
    let recorded = events_of(edge, name).await;
    assert!(!recorded.is_empty(), "{name} recorded nothing");
    let what = format!("{name}'s {} events at {}", recorded.len(), cloud.listen);
    eventually(&what, || async {
        let held = events_of(cloud, name).await;
        recorded
            .iter()
            .all(|(seq, e)| held.get(seq) == Some(e))
            .then_some(recorded.len())
    })
    .await
}

async fn stats(node: &Node) -> Value {
    let (code, out, err) = console(&node.listen, &["--json", "-c", "stats"]).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(out.trim()).unwrap()
}

async fn submit_mission(http: &str) {
    let sector = json!({"cover": {"sector": {"min": {"x": 0, "y": 0}, "max": {"x": 3, "y": 3}}}});
    let answer = post_json(http, "/api/missions", &sector).await.json();
    assert!(answer["mission"].is_u64(), "{answer}");
}

async fn agents_on(http: &str, edges: &[&str]) {
    eventually("the edges' agents known to the planner", || async {
        let agents = get(http, "/api/agents").await.json();
        let nodes: BTreeSet<&str> = agents
            .as_array()?
            .iter()
            .filter_map(|a| a["node"].as_str())
            .collect();
        edges.iter().all(|e| nodes.contains(e)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_edge_event_reaches_the_cloud_through_jetstream_once_and_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).await;
    let config = hub_config(&dir.path().join("conf"), &nats.url(), "");
    let (cloud, http) = cloud(dir.path(), "cloud", &config).await;
    let edge_1 = edge(dir.path(), "edge-1", &cloud.listen, &config).await;
    let edge_2 = edge(dir.path(), "edge-2", &cloud.listen, &config).await;
    agents_on(&http, &["edge-1", "edge-2"]).await;
    submit_mission(&http).await;
    for (edge, name) in [(&edge_1, "edge-1"), (&edge_2, "edge-2")] {
        all_reached(&cloud, edge, name).await;
    }
    let hub = &stats(&cloud).await["hub"];
    assert_eq!(hub["backend"], "jetstream", "{hub}");
    assert!(hub["applied"].as_u64() > Some(0), "{hub}");
    assert_eq!(hub["refused"], 0, "{hub}");
    assert!(hub["pending"].is_u64(), "the stream's lag: {hub}");
    let metrics = get(&http, "/metrics").await.text();
    let applied = metrics
        .lines()
        .find_map(|l| l.strip_prefix("swarmd_hub_messages_applied_total "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert!(applied > Some(0.0), "{metrics}");
    let edge_stats = stats(&edge_1).await;
    assert_eq!(edge_stats["hub"]["backend"], "jetstream", "{edge_stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nats_server_costs_a_backlog_not_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsServer::start(&dir.path().join("nats")).await;
    let config = hub_config(&dir.path().join("conf"), &nats.url(), "");
    let (cloud, http) = cloud(dir.path(), "cloud", &config).await;
    let edge_1 = edge(dir.path(), "edge-1", &cloud.listen, &config).await;
    agents_on(&http, &["edge-1"]).await;
    all_reached(&cloud, &edge_1, "edge-1").await;

    nats.kill().await;
    // Work goes on meanwhile; the edge keeps what it records.
    submit_mission(&http).await;
    eventually("a backlog on the edge", || async {
        let s = stats(&edge_1).await;
        (s["forward"]["backlog"].as_u64() > Some(0)).then_some(())
    })
    .await;
    nats.restart().await;
    eventually("the backlog drained", || async {
        let s = stats(&edge_1).await;
        (s["forward"]["backlog"].as_u64() == Some(0)).then_some(())
    })
    .await;
    all_reached(&cloud, &edge_1, "edge-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clouds_each_apply_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(&dir.path().join("nats")).await;
    let config = hub_config(&dir.path().join("conf"), &nats.url(), "");
    let (cloud_a, http) = cloud(dir.path(), "cloud-a", &config).await;
    // A second cloud outside this cluster: it shares only the stream.
    let (cloud_b, _) = cloud(dir.path(), "cloud-b", &config).await;
    let edge_1 = edge(dir.path(), "edge-1", &cloud_a.listen, &config).await;
    agents_on(&http, &["edge-1"]).await;
    submit_mission(&http).await;
    let at_a = all_reached(&cloud_a, &edge_1, "edge-1").await;
    let at_b = all_reached(&cloud_b, &edge_1, "edge-1").await;
    assert!(at_a > 0 && at_b > 0);
    let (a, b) = (stats(&cloud_a).await, stats(&cloud_b).await);
    assert!(a["hub"]["applied"].as_u64() > Some(0), "{a}");
    assert!(b["hub"]["applied"].as_u64() > Some(0), "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_a_clear_error_and_the_edge_keeps_buffering() {
    let dir = tempfile::tempdir().unwrap();
    let nats =
        NatsServer::start_with(&dir.path().join("nats"), Some(("swarmd", "right-password"))).await;
    let good = dir.path().join("good");
    std::fs::create_dir_all(&good).unwrap();
    let private = |file: std::path::PathBuf| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    private(write_file(&good, "password", "right-password\n"));
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    private(write_file(&bad, "password", "wrong-password\n"));
    let auth = |at: &Path| {
        format!(
            "user = \"swarmd\"\npassword_file = \"{}\"\n",
            at.join("password").display()
        )
    };
    let cloud_config = hub_config(&good, &nats.url(), &auth(&good));
    let edge_config = hub_config(&bad, &nats.url(), &auth(&bad));
    let (cloud, http) = cloud(dir.path(), "cloud", &cloud_config).await;
    let mut edge_1 = edge(dir.path(), "edge-1", &cloud.listen, &edge_config).await;
    let refused = edge_1
        .wait_for("the refusal logged", LIMIT, |v| {
            v["message"] == "forwarding failed"
                && v["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("authorization violation"))
        })
        .await;
    assert!(
        refused["reason"].as_str().unwrap().contains("NATS"),
        "{refused}"
    );
    agents_on(&http, &["edge-1"]).await;
    submit_mission(&http).await;
    let backlog = eventually("the edge buffers", || async {
        let s = stats(&edge_1).await;
        s["forward"]["backlog"].as_u64().filter(|b| *b > 0)
    })
    .await;
    assert!(backlog > 0);
    let at_cloud = events_of(&cloud, "edge-1").await;
    assert!(at_cloud.is_empty(), "nothing got through: {at_cloud:?}");
}
