//! The swarm across three real processes on loopback: a cloud hosting the
//! world and the mission planner, and two edges whose agents reach both
//! through the cluster. A mission worked by agents of both edges completes.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::Node;
use tokio::time::Instant;

const COOKIE: [(&str, &str); 1] = [("SWARMD_COOKIE", "SWARMTESTCOOKIEXQZJVKWPMBRTYHGFD")];
/// Missions take seconds each; the demo keeps planning new ones.
const MISSION_LIMIT: Duration = Duration::from_secs(90);

fn config(dir: &Path) -> String {
    let text = "[cluster]\nheartbeat_interval_ms = 100\nsuspect_after_ms = 400\n\
                down_after_ms = 1200\ndial_backoff_max_ms = 500\n\
                [agents]\nboot = 2\n[missions]\ndemo = true\n";
    support::write_file(dir, "swarm.toml", text)
        .display()
        .to_string()
}

fn start(dir: &Path, name: &str, role: &str, seed: Option<&str>) -> Node {
    let config = config(dir);
    let mut args = vec!["--config", &config, "--name", name, "--role", role];
    if let Some(seed) = seed {
        args.extend(["--join", seed]);
    }
    Node::start(&dir.join(name), &args, &COOKIE)
}

fn number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

/// Which agents each mission's tasks were assigned to, from the cloud's log.
fn assignments(cloud: &Node) -> BTreeMap<u64, BTreeSet<String>> {
    let mut out: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for v in cloud.events() {
        if v["message"] == "task assigned"
            && let (Some(mission), Some(agent)) = (number(&v["mission"]), v["agent"].as_str())
        {
            out.entry(mission).or_default().insert(agent.to_string());
        }
    }
    out
}

fn on_both_edges(agents: &BTreeSet<String>) -> bool {
    let on = |edge: &str| agents.iter().any(|a| a.starts_with(&format!("{edge}-")));
    on("edge-1") && on("edge-2")
}

#[tokio::test]
async fn a_mission_completes_with_agents_on_two_edges() {
    let dir = tempfile::tempdir().unwrap();
    let mut cloud = start(dir.path(), "cloud", "cloud", None);
    cloud.ready().await;
    let seed = cloud.listen.clone();
    let mut edges = [
        start(dir.path(), "edge-1", "edge", Some(&seed)),
        start(dir.path(), "edge-2", "edge", Some(&seed)),
    ];
    for edge in &mut edges {
        edge.ready().await;
        edge.wait_count("agents in the world", support::STARTUP, 2, |v| {
            v["message"] == "entered the world"
        })
        .await;
    }

    let deadline = Instant::now() + MISSION_LIMIT;
    let mut completed = 0;
    let shared = loop {
        completed += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        cloud
            .wait_count("missions completed", left, completed, |v| {
                v["message"] == "mission completed"
            })
            .await;
        let done: Vec<u64> = cloud
            .events()
            .iter()
            .filter(|v| v["message"] == "mission completed")
            .filter_map(|v| number(&v["mission"]))
            .collect();
        let assigned = assignments(&cloud);
        if let Some(m) = done
            .iter()
            .find(|m| assigned.get(m).is_some_and(on_both_edges))
        {
            break (*m, assigned[m].clone());
        }
    };
    let (mission, agents) = shared;
    assert!(agents.len() >= 2, "mission {mission}: {agents:?}");
    for node in edges.iter_mut().chain([&mut cloud]) {
        node.signal(libc::SIGTERM);
        assert_eq!(node.exit().await.code(), Some(0), "{}", node.log.join("\n"));
    }
}
