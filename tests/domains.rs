//! The second domain (drones) on real processes: `swarmd` registers it next
//! to the warehouse. Drones spawned at the edge's console fly a survey and
//! two crossing deliveries submitted at the cloud's console, through the
//! board, to completion; their decisions are typed `domain` events in the
//! edge's ledger; an emergency stop reaches the reflex; a task its domain
//! cannot read, or of a kind no domain knows, is refused with the reason.
//! A recipe of drone tasks runs in order; a task that cannot be done in its
//! time fails at the agent each attempt and ends in the dead-letter queue.

mod support;

use serde_json::Value;
use support::console::{configured, console, json_lines};
use support::{Node, eventually};

async fn start(dir: &std::path::Path, name: &str, toml: &str, extra: &[&str]) -> Node {
    let toml = format!("{toml}[missions]\ndemo = false\n[agents]\nboot = 0\n");
    configured(dir, name, &toml, extra).await
}

async fn run(node: &Node, line: &str) -> Vec<Value> {
    let (code, out, err) = console(&node.listen, &["--json", "-c", line]).await;
    assert_eq!(code, 0, "{line}: {out}{err}");
    json_lines(&out)
}

async fn refused(node: &Node, line: &str) -> String {
    let (code, out, err) = console(&node.listen, &["--json", "-c", line]).await;
    assert_ne!(code, 0, "{line} was taken: {out}");
    format!("{out}{err}")
}

async fn completed(cloud: &Node, id: u64) {
    let state = eventually("the mission ended", || async {
        let missions = run(cloud, "missions").await;
        let state = missions.into_iter().find(|m| m["id"] == id)?["state"].clone();
        (state != "Active").then_some(state)
    })
    .await;
    assert_eq!(state, "Completed", "mission {id}");
}

fn mission(kind: &str, payload: &str) -> String {
    format!(r#"mission {{"task": {{"kind": "{kind}", "payload": {payload}}}}}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drones_fly_missions_from_the_console_and_stop_on_an_emergency() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = start(dir.path(), "cloud", "", &["--role", "cloud"]).await;
    let edge = start(dir.path(), "edge", "", &["--join", cloud.listen.as_str()]).await;
    for (id, home) in [("d1", "40,2"), ("d2", "100,2")] {
        let spec = format!(r#"spawn drone {{"id": "{id}", "params": {{"home": "{home}"}}}}"#);
        run(&edge, &spec).await;
    }
    eventually("both drones known to the planner", || async {
        (run(&cloud, "agents").await.len() >= 2).then_some(())
    })
    .await;

    let bad = refused(&cloud, &mission("deliver", r#"{"to": [900, 5]}"#)).await;
    assert!(bad.contains("outside the airspace"), "{bad}");
    let unknown = refused(&cloud, &mission("paint", "{}")).await;
    assert!(unknown.contains("unknown task kind \"paint\""), "{unknown}");
    assert!(
        unknown.contains("survey"),
        "the known kinds listed: {unknown}"
    );

    let mut ids = Vec::new();
    for to in ["[100, 60]", "[40, 60]"] {
        let line = mission("deliver", &format!(r#"{{"to": {to}}}"#));
        ids.push(run(&cloud, &line).await[0]["mission"].as_u64().unwrap());
    }
    let survey = r#"{"area": {"min": [40, 30], "max": [100, 50]}, "spacing": 20}"#;
    ids.push(
        run(&cloud, &mission("survey", survey)).await[0]["mission"]
            .as_u64()
            .unwrap(),
    );
    for id in &ids {
        completed(&cloud, *id).await;
    }

    let domain_events = run(&edge, "events --kind domain --agent d1 --limit 1000").await;
    let intents = domain_events
        .iter()
        .filter(|e| e["detail"]["Domain"]["act"] == "Intended")
        .count();
    assert!(intents >= 2, "d1's intents journaled: {domain_events:?}");
    let detail = &domain_events[0]["detail"]["Domain"]["detail"];
    let intent: Value = serde_json::from_str(detail.as_str().unwrap()).unwrap();
    assert!(
        intent.get("go_to").is_some() || intent == "hover",
        "{intent}"
    );

    run(&edge, r#"send d1 {"EmergencyStop": {"reason": "drill"}}"#).await;
    eventually("the reflex halted by the emergency stop", || async {
        let changes = run(&edge, "events --kind state_change --agent d1 --limit 1000").await;
        changes
            .iter()
            .any(|e| e.to_string().contains("emergency stop (drill)"))
            .then_some(())
    })
    .await;
    let halted = eventually("d1 reported halted", || async {
        let agents = run(&cloud, "agents").await;
        let d1 = agents.into_iter().find(|a| a["id"] == "d1")?;
        (d1["halted"] == true).then_some(d1)
    })
    .await;
    assert_eq!(halted["halted"], true);
}

const PATROL: &str = r#"
[recipe]
name = "patrol"

[[step]]
name = "look"
task = "survey"
payload = { waypoints = [[40, 20], [60, 20]] }

[[step]]
name = "drop"
task = "deliver"
needs = ["look"]
priority = 5
payload = { to = [40, 10] }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipe_of_drone_tasks_completes_and_a_task_out_of_time_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let board = "[board]\nmax_attempts = 2\n";
    let cloud = start(dir.path(), "cloud", board, &["--role", "cloud"]).await;
    let edge = start(dir.path(), "edge", "", &["--join", cloud.listen.as_str()]).await;
    run(
        &edge,
        r#"spawn drone {"id": "d1", "params": {"home": "40,2"}}"#,
    )
    .await;
    eventually("the drone known to the planner", || async {
        (!run(&cloud, "agents").await.is_empty()).then_some(())
    })
    .await;

    let file = dir.path().join("patrol.toml");
    std::fs::write(&file, PATROL).unwrap();
    let line = format!("mission --recipe {}", file.display());
    let id = run(&cloud, &line).await[0]["mission"].as_u64().unwrap();
    let row = eventually("the recipe ended", || async {
        let missions = run(&cloud, "missions").await;
        missions
            .into_iter()
            .find(|m| m["id"] == id && m["state"] != "Active")
    })
    .await;
    assert_eq!(row["state"], "Completed", "{row}");
    assert_eq!(
        (row["done"].as_u64(), row["tasks"].as_u64()),
        (Some(2), Some(2)),
        "{row}"
    );

    // Far away, with 200 ms to do it: every attempt times out at the agent.
    let late = r#"mission {"task": {"kind": "deliver", "payload": {"to": [190, 190]}, "timeout_ms": 200}}"#;
    let id = run(&cloud, late).await[0]["mission"].as_u64().unwrap();
    let state = eventually("the mission ended", || async {
        let missions = run(&cloud, "missions").await;
        let state = missions.into_iter().find(|m| m["id"] == id)?["state"].clone();
        (state != "Active").then_some(state)
    })
    .await;
    assert!(
        state.to_string().contains("dead-lettered after 2 attempts"),
        "{state}"
    );
    let letters = run(&cloud, "dlq list").await;
    let letter = letters
        .iter()
        .find(|l| l["id"] == format!("task/{id}/0"))
        .unwrap_or_else(|| panic!("task/{id}/0 in {letters:?}"));
    let history = letter["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{letter}");
    assert!(
        history.iter().all(|h| h["reason"]
            .as_str()
            .unwrap()
            .contains("not done within 200ms")),
        "{letter}"
    );
}
