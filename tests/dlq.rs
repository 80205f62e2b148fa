//! The dead-letter queue of recipe steps, on real processes: a fetch no
//! agent can carry times out on every attempt and lands in the queue with
//! its history; once a carrier joins, `dlq replay` runs it to completion,
//! exactly once, and the recipe completes.

mod support;

use serde_json::Value;
use support::console::{configured, console, json_lines};
use support::{Node, eventually, write_file};

async fn start(dir: &std::path::Path, name: &str, agents: &str, extra: &[&str]) -> Node {
    let toml = format!("[agents]\n{agents}[missions]\ndemo = false\n");
    configured(dir, name, &toml, extra).await
}

async fn run(cloud: &Node, line: &str) -> (i32, Vec<Value>, String) {
    let (code, out, err) = console(&cloud.listen, &["--json", "-c", line]).await;
    let lines = if code == 0 {
        json_lines(&out)
    } else {
        Vec::new()
    };
    (code, lines, format!("{out}{err}"))
}

async fn agents_known(cloud: &Node, count: usize) {
    eventually("agents known to the planner", || async {
        let (_, rows, _) = run(cloud, "agents").await;
        (rows.len() >= count).then_some(())
    })
    .await;
}

async fn recipe_state(cloud: &Node, id: u64) -> Value {
    let (_, rows, _) = run(cloud, "missions").await;
    rows.into_iter()
        .find(|m| m["id"] == id)
        .map(|m| m["state"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_past_its_retries_waits_in_the_dlq_and_a_replay_completes_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = start(dir.path(), "cloud", "boot = 0\n", &["--role", "cloud"]).await;
    let join = ["--join", cloud.listen.as_str()];
    let walkers = "boot = 2\ncapabilities = [\"move\"]\n";
    let _walkers = start(dir.path(), "walkers", walkers, &join).await;
    agents_known(&cloud, 2).await;

    let (_, world, _) = run(&cloud, "world").await;
    let docks = world[0]["docks"].as_array().expect("docks").clone();
    // Two docks side by side: the carrier that joins later starts on the
    // second, so its fetch fits the step's timeout.
    let (item, dock) = (&docks[0], &docks[1]);
    let recipe = format!(
        "[recipe]\nname = \"restock\"\n\
         [[step]]\nname = \"fetch-part\"\ngoal = \"fetch\"\nitem = {item}\ndock = {dock}\nretries = 1\ntimeout_s = 5\n\
         [[step]]\nname = \"report\"\ngoal = \"wait\"\nseconds = 1\nneeds = [\"fetch-part\"]\n"
    );
    let file = write_file(dir.path(), "restock.toml", &recipe);
    let (code, out, text) = run(&cloud, &format!("mission --recipe {}", file.display())).await;
    assert_eq!(code, 0, "{text}");
    let id = out[0]["mission"].as_u64().unwrap();

    // No agent carries: both attempts time out, the recipe fails, the step waits.
    let failed = eventually("the recipe failed", || async {
        let state = recipe_state(&cloud, id).await;
        state.get("Failed").cloned()
    })
    .await;
    assert!(
        failed.as_str().unwrap().contains("step fetch-part"),
        "{failed}"
    );
    let letter_id = format!("{id}/fetch-part");
    let (_, letters, _) = run(&cloud, "dlq list").await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let (code, shown, text) = run(&cloud, &format!("dlq show {letter_id}")).await;
    assert_eq!(code, 0, "{text}");
    let letter = &shown[0];
    assert_eq!(
        (letter["id"].as_str(), letter["attempts"].as_u64()),
        (Some(letter_id.as_str()), Some(2))
    );
    let history = letter["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{letter}");
    assert!(
        history
            .iter()
            .all(|h| h["reason"] == "timed out after 5 s" && h["mission"].is_u64()),
        "{letter}"
    );

    // The cause fixed: a carrier joins. Then the replay runs it again.
    let carriers = "boot = 0\ncapabilities = [\"move\", \"carry\"]\n";
    let _carriers = start(dir.path(), "carriers", carriers, &join).await;
    let at = format!("{},{}", dock[0], dock[1]);
    let spawn = format!(
        r#"spawn grid {{"id": "carrier", "capabilities": ["move", "carry"], "params": {{"start": "{at}"}}}} --node carriers"#
    );
    eventually("the carrier spawned", || async {
        let (code, _, _) = run(&cloud, &spawn).await;
        (code == 0).then_some(())
    })
    .await;
    agents_known(&cloud, 3).await;
    let (code, out, text) = run(&cloud, &format!("dlq replay {letter_id}")).await;
    assert_eq!(code, 0, "{text}");
    assert_eq!(out[0]["replayed"], serde_json::json!([letter_id]));
    eventually("the recipe completed", || async {
        (recipe_state(&cloud, id).await == "Completed").then_some(())
    })
    .await;
    let (_, letters, _) = run(&cloud, "dlq list").await;
    assert!(letters.is_empty(), "{letters:?}");
    let (code, _, text) = run(&cloud, &format!("dlq replay {letter_id}")).await;
    assert_ne!(code, 0);
    assert!(text.contains("is done"), "{text}");

    let (_, events, _) = run(&cloud, "events --kind mission --limit 10000").await;
    let of_step = |change: &str| {
        events
            .iter()
            .filter(|e| e["detail"]["Mission"]["mission"] == id)
            .filter(|e| e["detail"]["Mission"]["change"]["Step"]["step"] == "fetch-part")
            .filter(|e| {
                let c = &e["detail"]["Mission"]["change"]["Step"]["change"];
                c == change || c.get(change).is_some()
            })
            .count()
    };
    assert_eq!(of_step("Done"), 1, "completed once");
    assert_eq!(of_step("Replayed"), 1);
    assert_eq!(of_step("Started"), 3, "two attempts, then the replay's one");
}
