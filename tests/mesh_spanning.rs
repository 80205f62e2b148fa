//! One actor system spanning machines: a cloud and two edges on three hosts
//! (network namespaces), started with README's commands and no mesh
//! settings, the world on an edge. The edges' agents hear each other over
//! zenoh and settle meetings by right of way; with the cloud cut off they go
//! on doing so; after the heal what they forwarded reaches the cloud once.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::Node;
use support::netns::{Host, Lan};
use tokio::time::Instant;

const COOKIE: &str = "MESHSPANNINGCOOKIEXQZJVKWPMBRTYHG";
const PORT: u16 = 4697;
/// Meetings come from the demo's traffic: give them time, bounded.
const MEETING_LIMIT: Duration = Duration::from_secs(120);
const MESH_LIMIT: Duration = Duration::from_secs(20);

/// Agents each edge boots: enough to meet in the narrow aisles.
const AGENTS_PER_EDGE: usize = 8;

/// README's tour, plus a fast failure detector and where the world lives:
/// on edge-1, the bundled narrow-aisle map, no demo (the test's missions).
fn start(dir: &Path, host: &Host, name: &str, role: &str, seed: Option<&Host>) -> Node {
    let map = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/maps/warehouse-narrow.map"
    );
    let text = format!(
        "[cluster]\nheartbeat_interval_ms = 100\nsuspect_after_ms = 400\n\
         down_after_ms = 1200\ndial_backoff_max_ms = 500\n\
         [agents]\nboot = {AGENTS_PER_EDGE}\n[world]\nhost = \"edge-1\"\nmap = {map:?}\n\
         hazard_every_ms = 0\n[missions]\ndemo = false\n"
    );
    let config = support::write_file(dir, &format!("{name}.toml"), &text);
    let config = config.display().to_string();
    let listen = format!("{}:{PORT}", host.ip);
    let join = seed.map(|s| format!("{}:{PORT}", s.ip));
    let mut args = vec![
        "--config", &config, "--name", name, "--role", role, "--http", "off",
    ];
    if let Some(join) = &join {
        args.extend(["--join", join]);
    }
    let env = [("SWARMD_COOKIE", COOKIE)];
    Node::start_in_netns(&host.netns, &dir.join(name), &listen, &args, &env)
}

/// A console line run on `host` against its own node, as JSON rows.
async fn console(host: &Host, line: &str) -> Vec<Value> {
    let answer = support::netns::console(host, PORT, COOKIE, line).await;
    answer.unwrap_or_else(|err| panic!("{line}: {err}"))
}

/// Tasks `host`'s agents finished, by their decisions.
async fn tasks_done(host: &Host) -> usize {
    let decisions = console(host, "events --kind decision --limit 10000").await;
    let done = |r: &&str| r.starts_with("task ") && r.ends_with("finished: Done");
    decisions
        .iter()
        .filter_map(|e| e["detail"]["Decision"]["rationale"].as_str())
        .filter(done)
        .count()
}

/// Decisions on `host` that settle a meeting with an agent of `other`.
async fn meetings_with(host: &Host, other: &str) -> BTreeSet<String> {
    let decisions = console(host, "events --kind decision --limit 5000").await;
    let named = |r: &str| {
        r.contains(&format!("right of way over {other}-"))
            || r.contains(&format!("yield to {other}-"))
    };
    decisions
        .iter()
        .filter_map(|e| e["detail"]["Decision"]["rationale"].as_str())
        .filter(|r| named(r))
        .map(String::from)
        .collect()
}

async fn wait_meetings(edges: &[Host; 2], before: usize, what: &str) -> usize {
    let deadline = Instant::now() + MEETING_LIMIT;
    loop {
        let settled = meetings_with(&edges[0], "edge-2").await.len()
            + meetings_with(&edges[1], "edge-1").await.len();
        if settled > before {
            return settled;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no meeting of the two edges' agents settled"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn received_from(stats: &Value, node: &str) -> u64 {
    stats["mesh"]["received_from"][node].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_coordinate_over_the_mesh_with_and_without_the_cloud() {
    let Some(mut lan) = Lan::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cloud_host, edge_1_host, edge_2_host) = (lan.host(1, 1), lan.host(1, 2), lan.host(1, 3));
    let mut cloud = start(dir.path(), &cloud_host, "cloud", "cloud", None);
    cloud.ready().await;
    let joined = Instant::now();
    let mut edge_1 = start(
        dir.path(),
        &edge_1_host,
        "edge-1",
        "edge",
        Some(&cloud_host),
    );
    let mut edge_2 = start(
        dir.path(),
        &edge_2_host,
        "edge-2",
        "edge",
        Some(&cloud_host),
    );
    edge_1.ready().await;
    edge_2.ready().await;
    let linked =
        |m: &'static str| move |v: &Value| v["message"] == "mesh linked" && v["member"] == m;
    edge_1
        .wait_for("edge-1 linked to edge-2", MESH_LIMIT, linked("edge-2"))
        .await;
    edge_2
        .wait_for("edge-2 linked to edge-1", MESH_LIMIT, linked("edge-1"))
        .await;
    println!("--join to mesh linked edge to edge: {:?}", joined.elapsed());
    let rows = console(&edge_1_host, "nodes").await;
    for row in &rows {
        assert_eq!(row["mesh"]["connected"], true, "{row}");
        let locator = row["mesh"]["locators"][0].as_str().unwrap_or_default();
        assert!(locator.starts_with("tcp/10.77.1."), "not on the LAN: {row}");
    }

    // Long rounds over the whole floor, every agent busy well past the cut.
    let cover =
        r#"mission {"cover": {"sector": {"min": {"x": 0, "y": 0}, "max": {"x": 31, "y": 13}}}}"#;
    for _ in 0..AGENTS_PER_EDGE {
        console(&cloud_host, cover).await;
    }
    let edges = [edge_1_host.clone(), edge_2_host.clone()];
    let before_cut = wait_meetings(&edges, 0, "with the cloud").await;
    let stats_1 = console(&edge_1_host, "stats").await.remove(0);
    let stats_2 = console(&edge_2_host, "stats").await.remove(0);
    println!(
        "mesh samples: edge-1 from edge-2 {}, edge-2 from edge-1 {}",
        received_from(&stats_1, "edge-2"),
        received_from(&stats_2, "edge-1")
    );
    assert!(received_from(&stats_1, "edge-2") > 0, "{}", stats_1["mesh"]);
    assert!(received_from(&stats_2, "edge-1") > 0, "{}", stats_2["mesh"]);

    // The cloud is gone from the LAN: the edges keep settling meetings directly.
    lan.cut(&cloud_host);
    let down = |v: &Value| {
        v["message"] == "membership changed" && v["member"] == "cloud" && v["to"] == "down"
    };
    edge_1
        .wait_for("cloud down at edge-1", MESH_LIMIT, down)
        .await;
    let done_at_cut = tasks_done(&edge_1_host).await + tasks_done(&edge_2_host).await;
    let after_cut = wait_meetings(&edges, before_cut, "without the cloud").await;
    let deadline = Instant::now() + MEETING_LIMIT;
    while tasks_done(&edge_1_host).await + tasks_done(&edge_2_host).await <= done_at_cut {
        assert!(
            Instant::now() < deadline,
            "no task finished without the cloud"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "meetings settled across edges: {before_cut} with the cloud, {} more without",
        after_cut - before_cut
    );

    // Healed: everything the edges recorded reaches the cloud, once.
    lan.heal(&cloud_host);
    let deadline = Instant::now() + MEETING_LIMIT;
    loop {
        let s1 = console(&edge_1_host, "stats").await.remove(0);
        let s2 = console(&edge_2_host, "stats").await.remove(0);
        if s1["forward"]["backlog"] == 0 && s2["forward"]["backlog"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "backlogs never drained: {} {}",
            s1["forward"],
            s2["forward"]
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for edge in ["edge-1", "edge-2"] {
        let events = console(&cloud_host, &format!("events --node {edge} --limit 10000")).await;
        let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
        let unique: BTreeSet<&u64> = seqs.iter().collect();
        assert!(!seqs.is_empty(), "nothing of {edge} reached the cloud");
        assert_eq!(
            unique.len(),
            seqs.len(),
            "{edge}'s events arrived twice at the cloud"
        );
    }
    for node in [&mut edge_1, &mut edge_2, &mut cloud] {
        node.signal(libc::SIGTERM);
        assert_eq!(node.exit().await.code(), Some(0), "{}", node.log.join("\n"));
    }
}
