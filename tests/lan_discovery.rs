//! LAN discovery between real `swarmd` processes in network namespaces made
//! by the test: nodes with `--discover` and no seeds form one cluster; a
//! node with the wrong cookie is announced but never joins; a node on
//! another bridge is never found. `SWARMD_LAN_NODES=N` (default 3) sets how
//! many nodes join; the time they took is printed.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::netns::{Host, Lan};
use support::{EVENTUALLY, Node, eventually, in_netns};

const COOKIE: &str = "LANDISCOVERYTESTCOOKIEQZXJVKWPMB";
const WRONG_COOKIE: &str = "NOTTHECLUSTERSCOOKIEQZXJVKWPMBRT";
const PORT: u16 = 4697;
/// Fast announcements, so a test takes seconds.
const CONFIG: &str = "[agents]\nboot = 0\n[missions]\ndemo = false\n\
    [cluster.discovery]\ninterval_ms = 200\nexpire_after_ms = 2000\n";

fn start(dir: &Path, host: &Host, name: &str, role: &str, cookie: &str) -> Node {
    start_on(dir, host, name, role, cookie, false)
}

/// With `any_address`, the node listens on 0.0.0.0 and advertises its
/// host's address (no interface named: discovery uses every LAN interface).
fn start_on(
    dir: &Path,
    host: &Host,
    name: &str,
    role: &str,
    cookie: &str,
    any_address: bool,
) -> Node {
    let (listen, text) = if any_address {
        let advertise = format!("[cluster]\nadvertise = \"{}:{PORT}\"\n", host.ip);
        (format!("0.0.0.0:{PORT}"), format!("{advertise}{CONFIG}"))
    } else {
        (format!("{}:{PORT}", host.ip), CONFIG.to_string())
    };
    let config = support::write_file(dir, &format!("{name}.toml"), &text);
    let args = ["--name", name, "--role", role, "--discover", "--config"];
    let mut args: Vec<&str> = args.to_vec();
    let config = config.display().to_string();
    args.push(&config);
    let env = [("SWARMD_COOKIE", cookie)];
    Node::start_in_netns(&host.netns, &dir.join(name), &listen, &args, &env)
}

/// `nodes --json` (a row per node) as `host`'s node sees it; a console
/// that fails fails the test (a negative check must never pass on nothing).
async fn nodes(host: &Host, cookie: &str) -> Vec<Value> {
    match try_nodes(host, cookie).await {
        Ok(rows) => rows,
        Err(why) => panic!("console on {}: {why}", host.netns),
    }
}

/// As [`nodes`], for polling a node that may not answer yet.
async fn try_nodes(host: &Host, cookie: &str) -> Result<Vec<Value>, String> {
    let rows = support::netns::console(host, PORT, cookie, "nodes").await?;
    assert!(!rows.is_empty(), "a node lists at least itself");
    Ok(rows)
}

fn names_in(rows: &[Value], state: &str) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| r["state"] == state)
        .filter_map(|r| r["name"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_on_one_bridge_find_each_other_and_only_with_the_cookie() {
    let Some(mut lan) = Lan::new() else { return };
    let count: u8 = std::env::var("SWARMD_LAN_NODES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    assert!((2..=50).contains(&count), "SWARMD_LAN_NODES 2..=50");
    let dir = tempfile::tempdir().unwrap();
    let hosts: Vec<Host> = (1..=count).map(|h| lan.host(1, h)).collect();
    let intruder_host = lan.host(1, 200);
    let far_host = lan.host(2, 1);
    let names: Vec<String> = (1..=count).map(|i| format!("node-{i:02}")).collect();

    let started = tokio::time::Instant::now();
    let mut cluster: Vec<Node> = hosts
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, (host, name))| {
            let role = if i == 0 { "cloud" } else { "edge" };
            start_on(dir.path(), host, name, role, COOKIE, i == 2)
        })
        .collect();
    let mut intruder = start(dir.path(), &intruder_host, "intruder", "edge", WRONG_COOKIE);
    let mut far = start(dir.path(), &far_host, "far", "edge", COOKIE);
    for node in cluster.iter_mut().chain([&mut intruder, &mut far]) {
        node.ready().await;
    }

    // Every node of the bridge sees every other one up, with no seeds.
    let all: BTreeSet<String> = names.iter().cloned().collect();
    for host in &hosts {
        eventually("one cluster", || async {
            let rows = try_nodes(host, COOKIE).await.ok()?;
            (names_in(&rows, "up") == all).then_some(())
        })
        .await;
    }
    let formed = started.elapsed();
    println!("discovery: {count} nodes formed one cluster {formed:?} after they were started");

    // The intruder is heard (it announces) but never a member.
    let first = &hosts[0];
    let rows = eventually("the intruder announced", || async {
        let rows = try_nodes(first, COOKIE).await.ok()?;
        names_in(&rows, "announced")
            .contains("intruder")
            .then_some(rows)
    })
    .await;
    let edge = rows.iter().find(|r| r["name"] == names[1]).unwrap();
    assert_eq!(
        edge["capabilities"],
        serde_json::json!(["move", "carry"]),
        "{edge}"
    );
    assert_eq!(
        edge["kinds"],
        serde_json::json!(["drone", "grid", "probe"]),
        "{edge}"
    );
    assert_eq!(edge["tenants"], serde_json::json!(["default"]), "{edge}");
    assert_eq!(edge["capacity"]["max_agents"], 10000, "{edge}");
    assert_eq!(edge["capacity"]["accepting"], true, "{edge}");
    assert!(edge["capacity"]["rss_mb"].as_u64().unwrap() > 0, "{edge}");

    // Give the intruder's dialers a few rounds, then look again everywhere.
    intruder
        .wait_count("refused dials", EVENTUALLY, 3, |v| {
            v["message"] == "cannot connect"
        })
        .await;
    for host in &hosts {
        let rows = nodes(host, COOKIE).await;
        assert!(!names_in(&rows, "up").contains("intruder"), "{rows:?}");
        assert!(!names_in(&rows, "suspect").contains("intruder"), "{rows:?}");
        let far_seen = rows.iter().any(|r| r["name"] == "far");
        assert!(!far_seen, "a node on another bridge was found: {rows:?}");
    }
    let alone = |rows: &[Value], me: &str| names_in(rows, "up") == BTreeSet::from([me.to_string()]);
    let intruder_view = nodes(&intruder_host, WRONG_COOKIE).await;
    assert!(alone(&intruder_view, "intruder"), "{intruder_view:?}");
    let far_view = nodes(&far_host, COOKIE).await;
    assert!(alone(&far_view, "far"), "{far_view:?}");
    assert!(
        far_view.iter().all(|r| r["state"] != "announced"),
        "the far node heard the other bridge: {far_view:?}"
    );

    // Garbage on the group is refused and counted; the node keeps serving.
    let garbage = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('10.77.1.200'))\n\
        [s.sendto(b'\\x03\\x00garbage' * n, ('239.255.70.97', 4699)) for n in (1, 50, 7000)]\n";
    let sent = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &intruder_host.netns,
            "python3",
            "-c",
            garbage,
        ])
        .status()
        .expect("python3 runs");
    assert!(sent.success());
    let refused = eventually("garbage refused", || async {
        let mut cmd = in_netns(&first.netns);
        let addr = format!("{}:{PORT}", first.ip);
        cmd.args(["console", &addr, "--json", "-c", "stats"])
            .env("SWARMD_COOKIE", COOKIE);
        let out = cmd.output().await.ok()?;
        let stats: Value = serde_json::from_slice(&out.stdout).ok()?;
        let refused = stats["lan"]["discovery"]["refused"].as_u64()?;
        (refused >= 3).then_some(refused)
    })
    .await;
    println!("discovery: {refused} datagrams refused");
    let rows = nodes(first, COOKIE).await;
    assert!(names_in(&rows, "up").len() == count as usize, "{rows:?}");
    drop(cluster);
}

/// Stats of `host`'s node (`stats --json`).
async fn stats(host: &Host) -> Value {
    let mut cmd = in_netns(&host.netns);
    let addr = format!("{}:{PORT}", host.ip);
    cmd.args(["console", &addr, "--json", "-c", "stats"])
        .env("SWARMD_COOKIE", COOKIE);
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("console in time")
        .expect("console runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stats is JSON")
}

/// Announcements a flooding host sends: rotating names and ports of its
/// own, a victim's address, a hostname, and "any address" ones.
fn flood_datagrams(own_ip: &str, victim_ip: &str) -> Vec<Vec<u8>> {
    use swarmd_messages::advert::{Announcement, NodeAdvert};
    use swarmd_messages::{Envelope, MemberInfo, Role, SYSTEM_TENANT, TraceContext, encode};
    let addrs = (0..200)
        .map(|i| format!("{own_ip}:{}", 20000 + i))
        .chain((0..50).map(|i| format!("{victim_ip}:{}", 80 + i)))
        .chain((0..10).map(|_| "victim.example:80".to_string()))
        .chain((0..10).map(|i| format!("0.0.0.0:{}", 30000 + i)));
    addrs
        .enumerate()
        .map(|(i, cluster_addr)| {
            let member = MemberInfo {
                // Names sort after the node's own: it is the side that dials.
                name: format!("zflood-{i:03}"),
                role: Role::Edge,
                cluster_addr,
                incarnation: 1,
            };
            let advert = NodeAdvert::default();
            let announcement = Announcement { member, advert };
            encode(&Envelope::new(
                SYSTEM_TENANT,
                TraceContext::default(),
                announcement,
            ))
            .unwrap()
        })
        .collect()
}

/// Sends `datagrams` (written to `dir`) to the discovery group from `host`,
/// round after round for `seconds`.
fn send_flood(dir: &Path, host: &Host, datagrams: &[Vec<u8>], seconds: u32) -> std::process::Child {
    let mut file = Vec::new();
    for d in datagrams {
        file.extend_from_slice(&(d.len() as u32).to_be_bytes());
        file.extend_from_slice(d);
    }
    let path = dir.join("flood.bin");
    std::fs::write(&path, file).unwrap();
    let script = format!(
        "import socket, struct, time\n\
        data = open({path:?}, 'rb').read()\n\
        grams, at = [], 0\n\
        while at < len(data):\n    (n,) = struct.unpack('>I', data[at:at+4]); grams.append(data[at+4:at+4+n]); at += 4 + n\n\
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('{ip}'))\n\
        end = time.time() + {seconds}\n\
        while time.time() < end:\n    [s.sendto(g, ('239.255.70.97', 4699)) for g in grams]; time.sleep(0.2)\n",
        path = path.display().to_string(),
        ip = host.ip,
    );
    std::process::Command::new("ip")
        .args(["netns", "exec", &host.netns, "python3", "-c", &script])
        .spawn()
        .expect("python3 runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discovery_flood_is_bounded_and_genuine_nodes_still_join() {
    use swarmd_cluster::discovery::MAX_NAMES_PER_SOURCE;
    use swarmd_cluster::gateway::MAX_DIALERS_PER_SOURCE;
    let Some(mut lan) = Lan::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (lan.host(1, 1), lan.host(1, 2));
    let (flooder, victim) = (lan.host(1, 200), "10.77.1.250");
    let mut cloud = start(dir.path(), &first, "node-01", "cloud", COOKIE);
    cloud.ready().await;

    let datagrams = flood_datagrams(&flooder.ip, victim);
    let mut flood = send_flood(dir.path(), &flooder, &datagrams, 4);
    let mut peak = 0;
    let flood_names = |rows: &[Value]| {
        rows.iter()
            .filter(|r| r["name"].as_str().is_some_and(|n| n.starts_with("zflood-")))
            .count()
    };
    while flood.try_wait().unwrap().is_none() {
        let dialers = stats(&first).await["gateway"]["discovery_dialers"]
            .as_u64()
            .expect("stats counts discovery dialers");
        peak = peak.max(dialers);
        let announced = flood_names(&nodes(&first, COOKIE).await);
        assert!(
            announced <= MAX_NAMES_PER_SOURCE,
            "{announced} flood names held"
        );
    }
    assert!(flood.wait().unwrap().success(), "the flood was sent");
    println!(
        "discovery flood: {} datagrams a round, peak {peak} dialers",
        datagrams.len()
    );
    assert!(
        peak as usize <= MAX_DIALERS_PER_SOURCE,
        "peak {peak} dialers"
    );
    let refused = stats(&first).await["lan"]["discovery"]["refused"]
        .as_u64()
        .unwrap();
    assert!(
        refused >= 60,
        "victim and hostname announcements refused: {refused}"
    );

    // The flood's names expire and their dialers stop.
    eventually("the flood forgotten", || async {
        let idle = stats(&first).await["gateway"]["discovery_dialers"] == 0;
        (idle && flood_names(&nodes(&first, COOKIE).await) == 0).then_some(())
    })
    .await;

    // A genuine node heard after the flood still joins.
    let mut late = start(dir.path(), &second, "node-02", "edge", COOKIE);
    late.ready().await;
    let both = BTreeSet::from(["node-01".to_string(), "node-02".to_string()]);
    eventually("the late node joins", || async {
        (names_in(&nodes(&first, COOKIE).await, "up") == both).then_some(())
    })
    .await;

    // Nothing but a datagram's source was ever dialed.
    let dialing = |v: &Value| v["message"] == "dialing member";
    cloud.wait_for("a dial", EVENTUALLY, dialing).await;
    cloud
        .wait_for("node-02 heard", EVENTUALLY, |v| v["node"] == "node-02")
        .await;
    let dialed: Vec<String> = cloud
        .events()
        .into_iter()
        .filter(dialing)
        .filter_map(|v| v["addr"].as_str().map(String::from))
        .collect();
    assert!(!dialed.is_empty(), "the flood's own addresses were dialed");
    let sources = [format!("{}:", flooder.ip), format!("{}:", second.ip)];
    for addr in &dialed {
        assert!(sources.iter().any(|s| addr.starts_with(s)), "dialed {addr}");
    }
    drop(late);
}
