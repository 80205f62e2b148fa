//! The task board on real processes: an edge killed while its agent holds a
//! task loses the lease, the task returns and another agent completes it,
//! exactly once; a full board partition refuses posting (`Overloaded`) and
//! the planner posts again when there is room. Every decision is in the
//! cloud's ledger as a `policy_decision`. The agents' stigmergic tags show
//! in the world's view.

mod support;

use serde_json::Value;
use support::console::{configured, console, json_lines};
use support::{Node, eventually};

async fn start(dir: &std::path::Path, name: &str, toml: &str, extra: &[&str]) -> Node {
    configured(
        dir,
        name,
        &format!("{toml}[missions]\ndemo = false\n"),
        extra,
    )
    .await
}

async fn run(cloud: &Node, line: &str) -> Vec<Value> {
    let (code, out, err) = console(&cloud.listen, &["--json", "-c", line]).await;
    assert_eq!(code, 0, "{line}: {out}{err}");
    json_lines(&out)
}

async fn board(cloud: &Node) -> Value {
    run(cloud, "board").await.remove(0)
}

async fn agents_known(cloud: &Node, count: usize) {
    eventually("agents known to the planner", || async {
        (run(cloud, "agents").await.len() >= count).then_some(())
    })
    .await;
}

async fn mission_ended(cloud: &Node, id: u64) -> Value {
    eventually("the mission ended", || async {
        let missions = run(cloud, "missions").await;
        let state = missions.into_iter().find(|m| m["id"] == id)?["state"].clone();
        (state != "Active").then_some(state)
    })
    .await
}

/// The cloud's `policy_decision` events.
async fn decisions(cloud: &Node) -> Vec<Value> {
    let events = run(cloud, "events --kind policy_decision --limit 10000").await;
    events
        .into_iter()
        .map(|e| e["detail"]["PolicyDecision"].clone())
        .collect()
}

async fn task_events(cloud: &Node, mission: u64) -> Vec<Value> {
    let events = run(cloud, "events --kind task --limit 10000").await;
    let task = |e: &Value| e["detail"]["Task"].clone();
    events
        .iter()
        .map(task)
        .filter(|t| t["mission"] == mission)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_edges_lease_expires_and_another_agent_completes_the_task_once() {
    let dir = tempfile::tempdir().unwrap();
    // Leases end long before the planner would call the agent silent.
    let cloud_toml =
        "[agents]\nboot = 0\n[board]\nlease_ms = 3000\n[world]\nagent_timeout_ms = 60000\n";
    let cloud = start(dir.path(), "cloud", cloud_toml, &["--role", "cloud"]).await;
    let join = ["--join", cloud.listen.as_str()];
    let carrier = "[agents]\nboot = 1\ncapabilities = [\"move\", \"carry\"]\n";
    let first = start(dir.path(), "first", carrier, &join).await;
    agents_known(&cloud, 1).await;

    let world = run(&cloud, "world").await;
    let docks = world[0]["docks"].as_array().expect("docks").clone();
    let (item, dock) = (&docks[0], docks.last().unwrap());
    let goal = format!(
        r#"mission {{"fetch": {{"item": {{"x": {}, "y": {}}}, "dock": {{"x": {}, "y": {}}}}}}}"#,
        item[0], item[1], dock[0], dock[1]
    );
    let id = run(&cloud, &goal).await[0]["mission"].as_u64().unwrap();
    let key = format!("{id}/0");
    let holder = eventually("the task leased", || async {
        let b = board(&cloud).await;
        let lease = b["leases"].as_array()?.iter().find(|l| l["task"] == key)?;
        Some(lease["agent"].as_str()?.to_string())
    })
    .await;
    assert_eq!(holder, "first-1");
    first.signal(9);
    let second = start(dir.path(), "second", carrier, &join).await;

    let state = mission_ended(&cloud, id).await;
    assert_eq!(state, "Completed");
    let b = board(&cloud).await;
    assert!(b["stats"]["expired"].as_u64() >= Some(1), "{b}");
    assert_eq!(b["stats"]["completed"], 1, "{b}");
    assert_eq!(b["leases"].as_array().map(Vec::len), Some(0), "{b}");

    let tasks = task_events(&cloud, id).await;
    let assigned: Vec<&Value> = tasks
        .iter()
        .map(|t| &t["change"]["Assigned"]["agent"])
        .filter(|a| a.is_string())
        .collect();
    // The killed agent held it once, and claimed nothing after its lease
    // lapsed; the other agent held it last.
    assert_eq!(
        assigned.first().copied(),
        Some(&Value::from("first-1")),
        "{tasks:?}"
    );
    let by_first = assigned.iter().filter(|a| **a == "first-1").count();
    assert_eq!(by_first, 1, "{tasks:?}");
    assert_eq!(
        assigned.last().copied(),
        Some(&Value::from("second-1")),
        "{tasks:?}"
    );
    let ended = tasks.iter().filter(|t| t["change"].get("Ended").is_some());
    assert_eq!(ended.count(), 1, "completed once: {tasks:?}");
    let decided = decisions(&cloud).await;
    let about = |policy: &str| {
        decided
            .iter()
            .filter(|d| d["policy"] == policy && d["task"] == key)
            .count()
    };
    assert_eq!(
        about("fifo"),
        assigned.len(),
        "a grant per assignment: {decided:?}"
    );
    assert!(about("lease") >= 1, "the expiry recorded: {decided:?}");
    let closed: Vec<&Value> = decided
        .iter()
        .filter(|d| d["policy"] == "completion" && d["task"] == key)
        .map(|d| &d["agent"])
        .collect();
    assert_eq!(closed, ["second-1"], "{decided:?}");
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_board_refuses_posting_and_the_planner_posts_when_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "[agents]\nboot = 2\n[board]\ncapacity = 1\nadmission = \"srpt\"\n";
    let node = start(dir.path(), "solo", toml, &[]).await;
    agents_known(&node, 2).await;
    // Two agents: the sector is split into two tasks; the board takes one.
    let goal =
        r#"mission {"cover": {"sector": {"min": {"x": 1, "y": 1}, "max": {"x": 9, "y": 7}}}}"#;
    let id = run(&node, goal).await[0]["mission"].as_u64().unwrap();
    let refused = eventually("a post refused", || async {
        let b = board(&node).await;
        (b["stats"]["overloaded"].as_u64()? >= 1).then_some(b)
    })
    .await;
    assert_eq!(refused["capacity"], 1, "{refused}");
    assert_eq!(refused["admission"], "srpt", "{refused}");
    let live: u64 = refused["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["open"].as_u64().unwrap() + p["leased"].as_u64().unwrap())
        .sum();
    assert!(live <= 1, "the bound holds: {refused}");

    assert_eq!(mission_ended(&node, id).await, "Completed");
    let tasks = task_events(&node, id).await;
    let ended = tasks.iter().filter(|t| t["change"].get("Ended").is_some());
    assert_eq!(ended.count(), 2, "both tasks done: {tasks:?}");
    let decided = decisions(&node).await;
    let backpressure: Vec<&Value> = decided
        .iter()
        .filter(|d| d["policy"] == "backpressure")
        .collect();
    assert!(!backpressure.is_empty(), "{decided:?}");
    let why = backpressure[0]["decision"].as_str().unwrap();
    assert!(why.contains("is full (1 live tasks)"), "{why}");
    assert_eq!(board(&node).await["stats"]["completed"], 2);

    // The agents marked the cells they passed: the world shows the tags.
    let world = run(&node, "world").await.remove(0);
    let tags = world["tags"].as_array().expect("tags").clone();
    let explored: Vec<&Value> = tags.iter().filter(|t| t["kind"] == "explored").collect();
    assert!(explored.len() >= 2, "{tags:?}");
    assert!(
        tags.iter()
            .all(|t| (1..=1000).contains(&t["intensity"].as_u64().unwrap())
                && t["tenant"] == "default"),
        "{tags:?}"
    );
}
