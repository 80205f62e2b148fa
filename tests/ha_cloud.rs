//! The cloud tier without a single point of failure (DESIGN §18), on real
//! processes and a real `nats-server`: two clouds with `[cloud] ha` and two
//! edges under a continuous workload. The leading cloud is SIGKILLed; the
//! standby leads within the lease's TTL plus one renewal, from the state
//! the leader kept in JetStream: every mission accepted before the kill
//! ends (completed, or failed with a reason), no task is completed by two
//! agents, and the edges follow the new leader's token.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use support::console::{ENV, console, json_lines};
use support::nats::{NatsCluster, NatsServer};
use support::{Node, eventually, free_port, write_file};

/// The lease's TTL in these tests; a renewal is every third of it.
const TTL_MS: u64 = 2_000;

fn config(dir: &Path, url: &str, replicas: usize) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        "[hub]\nbackend = \"jetstream\"\n\n[hub.jetstream]\nurl = \"{url}\"\ntimeout_ms = 1000\nreplicas = {replicas}\n\n\
         [cloud]\nha = true\nlease_ttl_ms = {TTL_MS}\n\n\
         [world]\nhost = \"edge-1\"\n\n[missions]\ndemo = false\ncontinuous = true\n\n\
         [agents]\nboot = 3\ncapabilities = [\"move\", \"carry\"]\n"
    );
    write_file(dir, "node.toml", &text).display().to_string()
}

fn start(dir: &Path, name: &str, role: &str, join: Option<&str>, config: &str) -> Node {
    let http = format!("127.0.0.1:{}", free_port());
    let mut args = vec![
        "--name", name, "--role", role, "--http", &http, "--config", config,
    ];
    if let Some(seed) = join {
        args.extend(["--join", seed]);
    }
    Node::start(&dir.join(name), &args, &ENV)
}

async fn run(node: &Node, line: &str) -> Vec<Value> {
    let (code, out, err) = console(&node.listen, &["--json", "-c", line]).await;
    assert_eq!(code, 0, "{line} at {}: {err}{out}", node.listen);
    json_lines(&out)
}

/// The cloud tier as `node` sees it (`stats.cloud_tier`), and its fencing.
async fn stats(node: &Node) -> Value {
    run(node, "stats").await.remove(0)
}

async fn leads(node: &Node) -> Option<u64> {
    let tier = stats(node).await["cloud_tier"].clone();
    (tier["leads"] == true).then(|| tier["token"].as_u64().unwrap())
}

/// Missions by id with their state (`"Active"`, `"Completed"`, `{"Failed": …}`).
async fn missions(node: &Node) -> BTreeMap<u64, Value> {
    let rows = run(node, "missions").await;
    rows.iter()
        .filter_map(|m| Some((m["id"].as_u64()?, m["state"].clone())))
        .collect()
}

/// Task keys (`M/T`) with every agent whose `Done` completed them, from
/// the board's `completion` decisions in `node`'s ledger.
async fn completions(node: &Node, into: &mut BTreeMap<String, BTreeSet<String>>) {
    let events = run(node, "events --kind policy_decision --limit 10000").await;
    for d in events.iter().map(|e| &e["detail"]["PolicyDecision"]) {
        if d["policy"] == "completion" {
            let (task, agent) = (d["task"].as_str(), d["agent"].as_str());
            if let (Some(task), Some(agent)) = (task, agent) {
                let agents = into.entry(task.to_string()).or_default();
                agents.insert(agent.to_string());
            }
        }
    }
}

/// Microseconds since the Unix epoch: the nodes stamp their events on the
/// same machine's clock, and the kill is measured against them.
#[allow(clippy::disallowed_methods)]
fn wall_us() -> u64 {
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// The first event of `kind` on `node` at or after `since_us` that `pick` likes.
async fn first_after(
    node: &Node,
    line: &str,
    since_us: u64,
    pick: impl Fn(&Value) -> bool,
) -> Option<u64> {
    let events = run(node, line).await;
    events
        .iter()
        .filter(|e| e["time_us"].as_u64() >= Some(since_us) && pick(e))
        .filter_map(|e| e["time_us"].as_u64())
        .min()
}

/// Two clouds (cloud-a leading) and two edges on one `nats-server`.
struct Fleet {
    dir: tempfile::TempDir,
    _nats: NatsServer,
    conf: String,
    token_a: u64,
    cloud_a: Node,
    cloud_b: Node,
    edge_1: Node,
    edge_2: Node,
}

impl Fleet {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let nats = NatsServer::start(&dir.path().join("nats")).await;
        let conf = config(&dir.path().join("conf"), &nats.url(), 1);
        let mut cloud_a = start(dir.path(), "cloud-a", "cloud", None, &conf);
        cloud_a.ready().await;
        let token_a = eventually("cloud-a leads", || leads(&cloud_a)).await;
        let seed = cloud_a.listen.clone();
        let mut cloud_b = start(dir.path(), "cloud-b", "cloud", Some(&seed), &conf);
        let mut edge_1 = start(dir.path(), "edge-1", "edge", Some(&seed), &conf);
        let mut edge_2 = start(dir.path(), "edge-2", "edge", Some(&seed), &conf);
        for node in [&mut cloud_b, &mut edge_1, &mut edge_2] {
            node.ready().await;
        }
        Self {
            dir,
            _nats: nats,
            conf,
            token_a,
            cloud_a,
            cloud_b,
            edge_1,
            edge_2,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_cloud_takes_over_within_the_ttl_and_keeps_every_mission() {
    let fleet = Fleet::start().await;
    let (dir, conf, token_a) = (fleet.dir.path(), &fleet.conf, fleet.token_a);
    let (cloud_a, cloud_b) = (fleet.cloud_a, fleet.cloud_b);
    let (edge_1, edge_2) = (fleet.edge_1, fleet.edge_2);
    assert_eq!(leads(&cloud_b).await, None, "one leader at a time");

    // The standby forwards an operator's mission to the leader.
    let cover =
        r#"mission {"cover": {"sector": {"min": {"x": 1, "y": 1}, "max": {"x": 4, "y": 3}}}}"#;
    let forwarded = run(&cloud_b, cover).await[0]["mission"].as_u64();
    let forwarded = forwarded.expect("the leader's mission id, through the standby");
    eventually("missions completing under cloud-a", || async {
        let done = missions(&cloud_a).await;
        let completed = done.values().filter(|s| **s == "Completed").count();
        (completed >= 3 && done.contains_key(&forwarded)).then_some(())
    })
    .await;
    let nodes = run(&edge_1, "nodes").await;
    let row = |name: &str| nodes.iter().find(|n| n["name"] == name).cloned();
    assert_eq!(
        row("cloud-a").unwrap()["leads"]["token"],
        token_a,
        "{nodes:?}"
    );
    assert!(row("cloud-b").unwrap()["leads"].is_null(), "{nodes:?}");

    let accepted = missions(&cloud_a).await;
    let killed_us = wall_us();
    cloud_a.signal(9);
    let token_b = eventually("cloud-b leads", || leads(&cloud_b)).await;
    assert!(
        token_b > token_a,
        "a takeover's token is newer: {token_b} after {token_a}"
    );
    let took = "events --kind leadership --limit 100";
    let took_us = first_after(&cloud_b, took, killed_us, |e| {
        e["detail"]["Leadership"]["change"]["Took"]["previous"] == "cloud-a"
    })
    .await
    .expect("cloud-b recorded the takeover from cloud-a");
    let lead_ms = (took_us - killed_us) / 1000;
    let bound_ms = TTL_MS + TTL_MS / 3 + 1_000;
    assert!(
        lead_ms <= bound_ms,
        "took {lead_ms} ms after the kill; bound {bound_ms} ms"
    );

    // Every mission accepted before the kill ends, on the new leader.
    eventually("every mission accepted before the kill ended", || async {
        let now = missions(&cloud_b).await;
        accepted
            .keys()
            .all(|id| now.get(id).is_some_and(|s| *s != "Active"))
            .then_some(())
    })
    .await;
    let now = missions(&cloud_b).await;
    for (id, state) in &now {
        if let Some(reason) = state.get("Failed") {
            assert!(
                reason.as_str().is_some_and(|r| !r.is_empty()),
                "{id}: {state}"
            );
        }
    }
    // The edges follow cloud-b: its assignments reach them, with its token.
    let accepted_task = |e: &Value| {
        let rationale = e["detail"]["Decision"]["rationale"].as_str();
        rationale.is_some_and(|r| r.starts_with("accepted task"))
    };
    let first_assigned_us = eventually("an assignment of cloud-b reached an edge", || async {
        let line = "events --kind decision --since 1m --limit 10000";
        let mut firsts = Vec::new();
        for edge in [&edge_1, &edge_2] {
            firsts.extend(first_after(edge, line, took_us, accepted_task).await);
        }
        firsts.into_iter().min()
    })
    .await;
    for edge in [&edge_1, &edge_2] {
        let fencing = &stats(edge).await["fencing"];
        assert_eq!(fencing["newest_token"], token_b, "{fencing}");
    }

    // No task was completed by two agents, across both leaders' records:
    // cloud-a comes back as a standby (its ledger as it was) and stays one.
    let mut cloud_a = start(dir, "cloud-a", "cloud", Some(&cloud_b.listen), conf);
    cloud_a.ready().await;
    let mut done = BTreeMap::new();
    completions(&cloud_a, &mut done).await;
    completions(&cloud_b, &mut done).await;
    let twice: Vec<_> = done.iter().filter(|(_, agents)| agents.len() > 1).collect();
    assert!(twice.is_empty(), "completed by two agents: {twice:?}");
    assert!(done.len() >= 3, "tasks completed: {done:?}");
    assert_eq!(leads(&cloud_a).await, None, "the old leader stands by");
    assert_eq!(leads(&cloud_b).await, Some(token_b));
    println!(
        "takeover: kill -> new leader planning {lead_ms} ms; kill -> first new assignment at an edge {} ms",
        (first_assigned_us - killed_us) / 1000
    );
}

/// Missions completed so far, as `node` (the leader) knows them.
async fn completed(node: &Node) -> usize {
    let all = missions(node).await;
    all.values().filter(|s| **s == "Completed").count()
}

/// Missions completed so far as the cloud that leads knows them, or `None`
/// while leadership moves (no cloud leads, or the one asked just stepped
/// down and refuses the planner's commands with `unavailable`).
async fn completed_at_the_leader(clouds: &[&Node]) -> Option<usize> {
    let leader = the_one_leading(clouds).await?;
    let (code, out, err) = console(&leader.listen, &["--json", "-c", "missions"]).await;
    if code != 0 {
        assert!(
            err.contains("unavailable"),
            "missions at {}: {err}{out}",
            leader.listen
        );
        return None;
    }
    let rows = json_lines(&out);
    Some(rows.iter().filter(|m| m["state"] == "Completed").count())
}

/// The one cloud of `clouds` that leads, once exactly one does.
async fn the_leader<'a>(clouds: &[&'a Node]) -> &'a Node {
    eventually("exactly one cloud leads", || the_one_leading(clouds)).await
}

/// The cloud of `clouds` that leads, if exactly one does now.
async fn the_one_leading<'a>(clouds: &[&'a Node]) -> Option<&'a Node> {
    let mut leading = Vec::new();
    for cloud in clouds {
        if leads(cloud).await.is_some() {
            leading.push(*cloud);
        }
    }
    (leading.len() == 1).then(|| leading[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leadership_and_forwarding_go_on_when_one_of_three_nats_servers_dies() {
    let dir = tempfile::tempdir().unwrap();
    let mut nats = NatsCluster::start(&dir.path().join("nats")).await;
    let conf = config(&dir.path().join("conf"), &nats.urls(), 3);
    let mut cloud_a = start(dir.path(), "cloud-a", "cloud", None, &conf);
    cloud_a.ready().await;
    let seed = cloud_a.listen.clone();
    let mut cloud_b = start(dir.path(), "cloud-b", "cloud", Some(&seed), &conf);
    let mut edge_1 = start(dir.path(), "edge-1", "edge", Some(&seed), &conf);
    cloud_b.ready().await;
    edge_1.ready().await;
    let leader = the_leader(&[&cloud_a, &cloud_b]).await;
    eventually("missions completing", || async {
        (completed(leader).await >= 2).then_some(())
    })
    .await;

    nats.servers[0].kill().await;
    let killed_us = wall_us();
    let clouds = [&cloud_a, &cloud_b];
    let before = eventually("a leader after the server died", || async {
        completed_at_the_leader(&clouds).await
    })
    .await;
    eventually("missions completing after the server died", || async {
        let now = completed_at_the_leader(&clouds).await?;
        (now >= before + 3).then_some(())
    })
    .await;
    // The edge's records still reach the clouds through JetStream.
    for cloud in [&cloud_a, &cloud_b] {
        let what = format!("edge-1's events after the kill at {}", cloud.listen);
        eventually(&what, || async {
            let line = "events --node edge-1 --kind decision --since 1m --limit 10000";
            first_after(cloud, line, killed_us, |_| true).await
        })
        .await;
    }
    the_leader(&[&cloud_a, &cloud_b]).await;
}

/// `(time_us, token)` of every assignment `node`'s agents accepted with a
/// token, and the `(task, token, newest)` of every one they refused.
async fn accepted_and_refused(node: &Node) -> (Vec<(u64, u64)>, Vec<Value>) {
    let decisions = run(node, "events --kind decision --since 5m --limit 10000").await;
    let mut accepted: Vec<(u64, u64)> = decisions
        .iter()
        .filter_map(|e| {
            let r = e["detail"]["Decision"]["rationale"].as_str()?;
            let token = r.strip_prefix("accepted task ")?.split("(token ").nth(1)?;
            let token = token.split(')').next()?.parse().ok()?;
            Some((e["time_us"].as_u64()?, token))
        })
        .collect();
    accepted.sort();
    let refused = run(node, "events --kind leadership --limit 10000").await;
    let refused = refused
        .iter()
        .filter_map(|e| {
            e["detail"]["Leadership"]["change"]
                .get("StaleRefused")
                .cloned()
        })
        .collect();
    (accepted, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_leader_is_deposed_and_no_two_leaders_assignments_are_accepted_at_once() {
    let fleet = Fleet::start().await;
    let (cloud_a, cloud_b, token_a) = (fleet.cloud_a, fleet.cloud_b, fleet.token_a);
    let (edge_1, edge_2) = (fleet.edge_1, fleet.edge_2);
    eventually("missions completing under cloud-a", || async {
        (completed(&cloud_a).await >= 2).then_some(())
    })
    .await;

    // cloud-a stops dead (a partition from everything, or a long pause):
    // cloud-b takes the lease while cloud-a still believes it leads.
    cloud_a.signal(libc::SIGSTOP);
    let token_b = eventually("cloud-b leads", || leads(&cloud_b)).await;
    assert!(token_b > token_a);
    eventually("the edges saw cloud-b's token", || async {
        let mut newest = Vec::new();
        for edge in [&edge_1, &edge_2] {
            newest.push(stats(edge).await["fencing"]["newest_token"].as_u64());
        }
        newest.iter().all(|t| *t == Some(token_b)).then_some(())
    })
    .await;
    cloud_a.signal(libc::SIGCONT);
    eventually("cloud-a noticed and stands by", || async {
        let tier = stats(&cloud_a).await["cloud_tier"].clone();
        (tier["leads"] == false).then_some(())
    })
    .await;
    let stepped = run(&cloud_a, "events --kind leadership --limit 100").await;
    assert!(
        stepped
            .iter()
            .any(|e| e["detail"]["Leadership"]["change"]["SteppedDown"]["token"] == token_a),
        "{stepped:?}"
    );
    eventually("missions completing under cloud-b", || async {
        (completed(&cloud_b).await >= 3).then_some(())
    })
    .await;

    // At the edges: once a cloud-b assignment was accepted, none of
    // cloud-a's ever was; every refusal names an older token and is counted.
    let mut refused_total = 0;
    for edge in [&edge_1, &edge_2] {
        let (accepted, refused) = accepted_and_refused(edge).await;
        let first_b = accepted
            .iter()
            .find(|(_, t)| *t == token_b)
            .map(|(at, _)| *at);
        if let Some(first_b) = first_b {
            let late_a: Vec<_> = accepted
                .iter()
                .filter(|(at, t)| *t < token_b && *at > first_b)
                .collect();
            assert!(
                late_a.is_empty(),
                "a deposed leader's assignments accepted: {late_a:?}"
            );
        }
        assert!(
            accepted.iter().all(|(_, t)| *t == token_a || *t == token_b),
            "{accepted:?}"
        );
        for r in &refused {
            assert!(r["token"].as_u64() < r["newest"].as_u64(), "{r}");
        }
        let counted = stats(edge).await["fencing"]["refused"].as_u64().unwrap();
        assert_eq!(counted as usize, refused.len(), "every refusal recorded");
        refused_total += refused.len();
    }
    println!("pause: stale assignments refused at the edges: {refused_total}");
    assert_eq!(leads(&cloud_a).await, None);
    assert_eq!(leads(&cloud_b).await, Some(token_b));
}
