//! A stranger without the cookie against a real node over real TCP: it
//! relays the node's own handshake answers between two sessions, and it
//! floods the cluster port with connections that never authenticate.
//! `cargo test --test intruder`.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::console::{console_with, json_lines};
use support::{Node, STARTUP};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const COOKIE: &str = "INTRUDERTESTCOOKIEXQZJVKWPMBRTYH";
const ENV: [(&str, &str); 1] = [("SWARMD_COOKIE", COOKIE)];

/// swarmd's handshake as a stranger speaks it (`cluster/src/transport/hello.rs`).
fn client_hello(name: &str, nonce: [u8; 32]) -> Vec<u8> {
    let mut hello = b"SWMD\x01\x00".to_vec();
    hello.push(name.len() as u8);
    hello.extend_from_slice(name.as_bytes());
    hello.extend_from_slice(&nonce);
    hello
}

fn server_hello(name: &str, nonce: &[u8], mac: &[u8]) -> Vec<u8> {
    let mut hello = b"SWMD\x01".to_vec();
    hello.push(name.len() as u8);
    hello.extend_from_slice(name.as_bytes());
    hello.extend_from_slice(nonce);
    hello.extend_from_slice(mac);
    hello
}

fn start(dir: &std::path::Path, name: &str, role: &str, seed: Option<&str>) -> Node {
    let config = support::write_file(
        dir,
        "fast.toml",
        "[cluster]\nheartbeat_interval_ms = 100\nsuspect_after_ms = 400\n\
         down_after_ms = 1200\ndial_backoff_max_ms = 500\n",
    );
    let config = config.display().to_string();
    let mut args = vec!["--config", &config, "--name", name, "--role", role];
    if let Some(seed) = seed {
        args.extend(["--join", seed]);
    }
    Node::start(&dir.join(name), &args, &ENV)
}

/// `nodes` through a real console; panics (never returns empty) on failure.
async fn members(node: &Node) -> Vec<String> {
    let (code, out, err) = console_with(&node.listen, &["--json", "-c", "nodes"], &ENV).await;
    assert_eq!(code, 0, "console failed: {err}");
    let rows = json_lines(&out);
    assert!(!rows.is_empty(), "no rows in {out}");
    rows.iter()
        .map(|m| m["name"].as_str().expect("a name").to_string())
        .collect()
}

/// The relay that beats ractor_cluster's own challenge answer: the stranger
/// opens a session to the node (leg 1) and, as the node's seed, is dialed by
/// it (leg 2); it answers leg 2 with the nonce and proof the node gave it on
/// leg 1, and would relay anything the node signs on leg 2 back into leg 1.
/// The node signs nothing on leg 2 and refuses leg 1: never a member.
#[tokio::test]
async fn a_relaying_stranger_is_refused_on_both_legs_and_never_a_member() {
    let dir = tempfile::tempdir().unwrap();
    let trap = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let trap_addr = trap.local_addr().unwrap().to_string();
    let mut node = start(dir.path(), "cloud", "cloud", Some(&trap_addr));
    node.ready().await;

    // Leg 1: the stranger's own session to the node.
    let mut leg1 = TcpStream::connect(&node.listen).await.unwrap();
    leg1.write_all(&client_hello("mallory", [9; 32]))
        .await
        .unwrap();
    let mut answer = vec![0u8; 5 + 1 + "cloud".len() + 64];
    leg1.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer[..6], b"SWMD\x01\x05");
    let (nonce, mac) = answer[answer.len() - 64..].split_at(32);

    // Leg 2: the node dials its seed, the stranger, and gets leg 1's proof.
    let (mut leg2, _) = tokio::time::timeout(STARTUP, trap.accept())
        .await
        .expect("the node never dialed its seed")
        .unwrap();
    let mut their_hello = vec![0u8; 6 + 1 + "cloud".len() + 32];
    leg2.read_exact(&mut their_hello).await.unwrap();
    leg2.write_all(&server_hello("mallory", nonce, mac))
        .await
        .unwrap();
    let mut signed = Vec::new();
    let _ = tokio::time::timeout(STARTUP, leg2.read_to_end(&mut signed)).await;
    assert!(signed.is_empty(), "the node answered a relayed proof");
    node.wait_for("the dial refused", STARTUP, |v| {
        v["message"] == "cannot connect"
            && v["error"]
                .as_str()
                .is_some_and(|e| e.contains("does not hold this cluster's cookie"))
    })
    .await;

    // Back on leg 1 the stranger has nothing the node signed; any proof fails.
    leg1.write_all(mac).await.unwrap();
    node.wait_for("leg 1 refused", STARTUP, |v| {
        v["message"] == "cluster connection refused"
            && v["error"]
                .as_str()
                .is_some_and(|e| e.contains("does not hold this cluster's cookie"))
    })
    .await;
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(STARTUP, leg1.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "leg 1 still open after a wrong proof");

    // A pure byte relay (the node's dial piped into its own listener) fails too.
    let (mut leg2, _) = tokio::time::timeout(STARTUP, trap.accept())
        .await
        .expect("the node never redialed")
        .unwrap();
    let mut to_node = TcpStream::connect(&node.listen).await.unwrap();
    let relay = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut leg2, &mut to_node).await;
    });
    node.wait_for("the reflected hello refused", STARTUP, |v| {
        v["message"] == "cluster connection refused"
            && v["error"]
                .as_str()
                .is_some_and(|e| e.contains("this node's own name"))
    })
    .await;
    relay.abort();

    let members = members(&node).await;
    assert_eq!(members, ["cloud"], "a stranger became a member");
    let joined = |v: &Value| v["message"] == "membership changed" && v["member"] == "mallory";
    assert!(!node.events().iter().any(joined));
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// What the node may use for a flood of strangers, whatever its size.
const RSS_BUDGET_KIB: u64 = 64 * 1024;
const FD_BUDGET: usize = swarmd_cluster::transport::MAX_PENDING_HANDSHAKES + 64;

/// 500 connections that each declare a 16 MiB frame and send 4 MiB of it,
/// and 2,000 that send nothing: the node reads a few bytes of each, holds
/// at most its cap of them, logs a bounded number of lines, and a genuine
/// edge joins while the silent ones are still open.
#[tokio::test]
async fn a_flood_of_unauthenticated_connections_stays_within_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut cloud = start(dir.path(), "cloud", "cloud", None);
    cloud.ready().await;
    let pid = cloud.child.id().unwrap();
    let (rss_before, fds_before) = (rss_kib(pid), open_fds(pid));
    let log_before = cloud.log.len();

    let mut writers = Vec::new();
    for _ in 0..500 {
        let addr = cloud.listen.clone();
        writers.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(&addr).await else {
                return;
            };
            let _ = s.write_all(&(16u64 << 20).to_be_bytes()).await;
            let chunk = vec![0xAB; 64 * 1024];
            for _ in 0..64 {
                if s.write_all(&chunk).await.is_err() {
                    return;
                }
            }
        }));
    }
    let mut silent = Vec::new();
    for _ in 0..2000 {
        // The kernel's backlog may refuse some; they are refused all the same.
        if let Ok(s) = TcpStream::connect(&cloud.listen).await {
            silent.push(s);
        }
    }
    for w in writers {
        let _ = tokio::time::timeout(STARTUP, w).await;
    }
    // Evicted handshakes close as the runtime gets to them: the node must
    // settle within budget while the silent connections are still open.
    let settle = tokio::time::Instant::now() + Duration::from_secs(10);
    let (rss_after, fds_after) = loop {
        let (rss, fds) = (rss_kib(pid), open_fds(pid));
        let within = rss < rss_before + RSS_BUDGET_KIB && fds < fds_before + FD_BUDGET;
        if within || tokio::time::Instant::now() > settle {
            break (rss, fds);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        rss_after < rss_before + RSS_BUDGET_KIB,
        "RSS {rss_before} KiB -> {rss_after} KiB"
    );
    assert!(
        fds_after < fds_before + FD_BUDGET,
        "descriptors {fds_before} -> {fds_after}"
    );
    println!(
        "flood: RSS {rss_before} -> {rss_after} KiB, fds {fds_before} -> {fds_after}, {} silent open",
        silent.len()
    );

    // A genuine edge joins while the silent connections are still open.
    let mut edge = start(dir.path(), "edge1", "edge", Some(&cloud.listen));
    edge.wait_for("cloud up", STARTUP, |v| {
        v["message"] == "membership changed" && v["member"] == "cloud" && v["to"] == "up"
    })
    .await;
    // 2,500 refusals at most take a line per power of two, and per eviction power of two.
    let flood_lines = cloud.log.len() - log_before;
    assert!(flood_lines < 80, "{flood_lines} log lines for the flood");
    drop(silent);
    for node in [&mut edge, &mut cloud] {
        node.signal(libc::SIGTERM);
        assert_eq!(node.exit().await.code(), Some(0));
    }
}
