//! The cluster across real processes on loopback: join, failure detection,
//! rejoin with backlog drain, and bad input on the cluster port.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::{Node, STARTUP};
use swarmd_messages::{Event, EventKind, MemberState};
use swarmd_storage::SledStorage;
use swarmd_storage::ledger::{
    LedgerReader, Query, Selector, persisted_cursor, persisted_first_seq, persisted_next_seq,
};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

const COOKIE: [(&str, &str); 1] = [("SWARMD_COOKIE", "CLUSTERTESTCOOKIEXQZJVKWPMBRTYHG")];
/// The failure detector of these tests (see `fast_config`).
const DOWN_AFTER: Duration = Duration::from_millis(1200);
/// How long the issue allows from the last join until all members are up.
const JOIN_LIMIT: Duration = Duration::from_secs(2);

/// Heartbeats every 100 ms, suspect after 400 ms, down after 1.2 s.
fn fast_config(dir: &Path) -> String {
    let text = "[cluster]\nheartbeat_interval_ms = 100\nsuspect_after_ms = 400\n\
                down_after_ms = 1200\ndial_backoff_max_ms = 500\n";
    let path = support::write_file(dir, "fast.toml", text);
    path.display().to_string()
}

fn start(dir: &Path, name: &str, role: &str, config: &str, seed: Option<&str>) -> Node {
    let mut args = vec!["--config", config, "--name", name, "--role", role];
    if let Some(seed) = seed {
        args.extend(["--join", seed]);
    }
    Node::start(&dir.join(name), &args, &COOKIE)
}

fn membership(member: &str, to: &'static str) -> impl Fn(&Value) -> bool {
    let member = member.to_string();
    move |v: &Value| {
        v["message"] == "membership changed" && v["member"] == member.as_str() && v["to"] == to
    }
}

async fn wait_up(node: &mut Node, members: &[&str], deadline: Instant) {
    for member in members {
        let left = deadline.saturating_duration_since(Instant::now());
        node.wait_for(&format!("{member} up"), left, membership(member, "up"))
            .await;
    }
}

async fn stop(node: &mut Node) {
    node.signal(libc::SIGTERM);
    assert_eq!(node.exit().await.code(), Some(0), "{}", node.log.join("\n"));
}

fn ledger(data_dir: &Path) -> Arc<SledStorage> {
    Arc::new(SledStorage::open(&data_dir.join("ledger"), 8 << 20).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_cloud_and_three_edges_form_a_full_mesh() {
    let dir = tempfile::tempdir().unwrap();
    let config = fast_config(dir.path());
    let mut cloud = start(dir.path(), "cloud", "cloud", &config, None);
    cloud.ready().await;
    let seed = cloud.listen.clone();
    let names = ["edge1", "edge2", "edge3"];
    let mut edges: Vec<Node> = names
        .iter()
        .map(|n| start(dir.path(), n, "edge", &config, Some(&seed)))
        .collect();
    for edge in &mut edges {
        edge.ready().await;
    }
    let started = Instant::now();
    let deadline = Instant::now() + JOIN_LIMIT;
    wait_up(&mut cloud, &names, deadline).await;
    for (i, edge) in edges.iter_mut().enumerate() {
        let mut others = vec!["cloud"];
        others.extend(
            names
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, n)| *n),
        );
        wait_up(edge, &others, deadline).await;
    }
    // The mesh forms with the cluster, no mesh settings: every node's
    // session links to every member's, edges to each other directly.
    for (i, edge) in edges.iter_mut().enumerate() {
        let others = ["cloud", "edge1", "edge2", "edge3"];
        for member in others.iter().filter(|m| **m != names[i]) {
            edge.wait_for(
                &format!("mesh linked to {member}"),
                MESH_LIMIT,
                mesh_linked(member),
            )
            .await;
        }
    }
    println!(
        "all mesh links up {:?} after the last edge was ready",
        started.elapsed()
    );
    let (code, out, err) =
        support::console::console_with(&edges[0].listen, &["--json", "-c", "nodes"], &COOKIE).await;
    assert_eq!(code, 0, "{err}");
    let rows = support::console::json_lines(&out);
    assert_eq!(rows.len(), 4, "{out}");
    for row in &rows {
        assert_eq!(row["mesh"]["connected"], true, "{row}");
        assert!(
            row["mesh"]["locators"][0]
                .as_str()
                .unwrap()
                .starts_with("tcp/127.0.0.1:"),
            "{row}"
        );
    }
    for node in edges.iter_mut().chain([&mut cloud]) {
        stop(node).await;
    }
}

/// How long the mesh may take to link every member once all are up.
const MESH_LIMIT: Duration = Duration::from_secs(10);

fn mesh_linked(member: &str) -> impl Fn(&Value) -> bool {
    let member = member.to_string();
    move |v: &Value| v["message"] == "mesh linked" && v["member"] == member.as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_edge_goes_down_rejoins_and_drains_its_backlog_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = fast_config(dir.path());
    let mut cloud = start(dir.path(), "cloud", "cloud", &config, None);
    cloud.ready().await;
    let seed = cloud.listen.clone();
    let mut edge1 = start(dir.path(), "edge1", "edge", &config, Some(&seed));
    let mut edge2 = start(dir.path(), "edge2", "edge", &config, Some(&seed));
    let deadline = Instant::now() + STARTUP;
    wait_up(&mut edge1, &["cloud", "edge2"], deadline).await;
    wait_up(&mut edge2, &["cloud", "edge1"], deadline).await;
    wait_up(&mut cloud, &["edge1", "edge2"], deadline).await;

    edge2.signal(libc::SIGKILL);
    let killed = Instant::now();
    edge2.exit().await;
    let limit = DOWN_AFTER + Duration::from_secs(1);
    for node in [&mut cloud, &mut edge1] {
        let left = limit.saturating_sub(killed.elapsed());
        node.wait_for("edge2 down", left, membership("edge2", "down"))
            .await;
    }

    // What edge2 had recorded when it died: all of it must reach the cloud.
    let edge2_dir = dir.path().join("edge2");
    let recorded_at_kill = {
        let storage = ledger(&edge2_dir);
        persisted_next_seq(&*storage, "edge2").unwrap()
    };
    assert!(recorded_at_kill > 0);

    let listen = edge2.listen.clone();
    let args = [
        "--config", &config, "--name", "edge2", "--role", "edge", "--join", &seed,
    ];
    let mut edge2 = Node::start_listening(&edge2_dir, &listen, &args, &COOKIE);
    let deadline = Instant::now() + STARTUP;
    wait_up(&mut cloud, &["edge2"], deadline).await;
    let drained = |v: &Value| {
        v["message"] == "backlog drained" && v["cursor"].as_u64().unwrap_or(0) >= recorded_at_kill
    };
    edge2.wait_for("backlog drained", STARTUP, drained).await;

    for node in [&mut edge2, &mut edge1, &mut cloud] {
        stop(node).await;
    }
    let edge_storage = ledger(&edge2_dir);
    let cursor = persisted_cursor(&*edge_storage, "edge2").unwrap();
    let first = persisted_first_seq(&*edge_storage, "edge2").unwrap();
    let at_edge = LedgerReader::new(edge_storage);
    let at_cloud = LedgerReader::new(ledger(&dir.path().join("cloud")));
    let shipped = at_edge.node_log("edge2", 0, 100_000).unwrap();
    let received = at_cloud.node_log("edge2", 0, 100_000).unwrap();
    let seqs: Vec<u64> = received.iter().map(|e| e.id.seq).collect();
    let contiguous: Vec<u64> = (first..first + received.len() as u64).collect();
    assert_eq!(
        seqs, contiguous,
        "the cloud holds edge2's events with no gap"
    );
    assert!(first + received.len() as u64 >= recorded_at_kill.max(cursor));
    assert_eq!(
        received[..],
        shipped[..received.len()],
        "identical, once each"
    );

    // The cloud's own ledger recorded edge2's fall and return.
    let membership = at_cloud
        .query(&Query {
            tenant: "system".into(),
            select: Selector::Kind("membership".into()),
            limit: 1000,
        })
        .unwrap();
    let edge2_states: Vec<MemberState> = membership
        .iter()
        .filter(|e| e.id.node == "cloud")
        .filter_map(|e| match &e.kind {
            EventKind::Membership { node, state } if node == "edge2" => Some(*state),
            _ => None,
        })
        .collect();
    // (then `suspect` again when edge2 was stopped before the cloud)
    assert_eq!(
        edge2_states[..4],
        [
            MemberState::Up,
            MemberState::Suspect,
            MemberState::Down,
            MemberState::Up
        ],
        "{edge2_states:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_cluster_port_is_rejected_and_the_node_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = fast_config(dir.path());
    let mut cloud = start(dir.path(), "cloud", "cloud", &config, None);
    cloud.ready().await;
    let seed = cloud.listen.clone();

    // A length prefix far beyond the frame limit, then one that fits with junk inside.
    let mut junk = tokio::net::TcpStream::connect(&seed).await.unwrap();
    let _ = junk.write_all(&u64::MAX.to_be_bytes()).await;
    let _ = junk.write_all(&[0xAB; 4096]).await;
    let mut small = tokio::net::TcpStream::connect(&seed).await.unwrap();
    let mut frame = 64u64.to_be_bytes().to_vec();
    frame.extend((0..64u8).map(|b| b.wrapping_mul(37)));
    let _ = small.write_all(&frame).await;
    let _ = small.flush().await;

    // Each connection is dropped by swarmd's handshake, before ractor_cluster
    // reads a byte of it, and said so.
    let refused = |v: &Value| {
        let error = v["error"].as_str().unwrap_or("");
        v["message"] == "cluster connection refused"
            && error.contains("does not speak swarmd's handshake")
    };
    cloud
        .wait_count("refused session", STARTUP, 2, refused)
        .await;
    // Still serving: a real edge joins afterwards and both see each other up.
    let mut edge = start(dir.path(), "edge1", "edge", &config, Some(&seed));
    let deadline = Instant::now() + STARTUP;
    wait_up(&mut edge, &["cloud"], deadline).await;
    wait_up(&mut cloud, &["edge1"], deadline).await;
    drop((junk, small));
    for node in [&mut edge, &mut cloud] {
        stop(node).await;
    }
}

/// Every event of `node` the cloud holds, and what `node`'s own ledger
/// (stopped) has acked: all acked events must be at the cloud, unchanged.
fn acked_and_at_cloud(edge_dir: &Path, cloud_dir: &Path, node: &str) -> (Vec<Event>, Vec<Event>) {
    let edge_storage = ledger(edge_dir);
    let cursor = persisted_cursor(&*edge_storage, node).unwrap();
    let acked: Vec<Event> = LedgerReader::new(edge_storage)
        .node_log(node, 0, 100_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.id.seq < cursor)
        .collect();
    let at_cloud = LedgerReader::new(ledger(cloud_dir))
        .node_log(node, 0, 100_000)
        .unwrap();
    (acked, at_cloud)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_wiped_and_restarted_under_its_old_name_loses_nothing_at_the_cloud() {
    let dir = tempfile::tempdir().unwrap();
    let config = fast_config(dir.path());
    let cloud_dir = dir.path().join("cloud");
    let edge_dir = dir.path().join("edge1");
    let mut cloud = start(dir.path(), "cloud", "cloud", &config, None);
    cloud.ready().await;
    let seed = cloud.listen.clone();
    let drained = |v: &Value| v["message"] == "backlog drained";

    let mut incarnations = Vec::new();
    for _ in 0..2 {
        let mut edge = start(dir.path(), "edge1", "edge", &config, Some(&seed));
        edge.wait_for("backlog drained", STARTUP, drained).await;
        stop(&mut edge).await;
        // Stop the cloud too, to read both ledgers; then start it again.
        stop(&mut cloud).await;
        let (acked, _) = acked_and_at_cloud(&edge_dir, &cloud_dir, "edge1");
        assert!(!acked.is_empty(), "the edge forwarded something");
        incarnations.push(acked);
        // A new disk under the old name.
        std::fs::remove_dir_all(&edge_dir).unwrap();
        cloud = Node::start_listening(
            &cloud_dir,
            &seed,
            &["--config", &config, "--name", "cloud", "--role", "cloud"],
            &COOKIE,
        );
        cloud.ready().await;
    }
    stop(&mut cloud).await;

    let at_cloud = LedgerReader::new(ledger(&cloud_dir))
        .node_log("edge1", 0, 100_000)
        .unwrap();
    let (old, new) = (&incarnations[0], &incarnations[1]);
    assert!(
        old.last().unwrap().id.seq < new[0].id.seq || new.last().unwrap().id.seq < old[0].id.seq,
        "the two incarnations number their events apart"
    );
    for event in old.iter().chain(new) {
        let held: Vec<&Event> = at_cloud.iter().filter(|e| e.id == event.id).collect();
        assert_eq!(held, [event], "{:?} at the cloud once, unchanged", event.id);
    }
}
