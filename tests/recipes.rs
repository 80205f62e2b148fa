//! Recipes on real processes: a cloud and two edges run a 5-step diamond
//! to completion, each step after the steps it needs, the two branches
//! side by side; a recipe with a bad need is refused naming the file; a
//! sandboxed step runs the mission its guest plans, a spinning guest fails
//! it; a capability no node offers is refused naming the file and step.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::console::{configured, console, json_lines};
use support::{Node, eventually, write_file};

const DIAMOND: &str = r#"
[recipe]
name = "diamond"
description = "a wait, two covers side by side, a cover after both, a wait"

[[step]]
name = "survey"
goal = "wait"
seconds = 1

[[step]]
name = "west"
goal = "cover"
needs = ["survey"]
min = [0, 0]
max = [5, 3]
retries = 2
timeout_s = 120

[[step]]
name = "east"
goal = "cover"
needs = ["survey"]
min = [18, 0]
max = [23, 3]
retries = 2
timeout_s = 120

[[step]]
name = "join"
goal = "cover"
needs = ["west", "east"]
min = [9, 0]
max = [14, 2]
retries = 2
timeout_s = 120

[[step]]
name = "wrap-up"
goal = "wait"
needs = ["join"]
seconds = 1
"#;

async fn start(dir: &std::path::Path, name: &str, extra: &[&str]) -> Node {
    let toml = "[agents]\nboot = 2\n[missions]\ndemo = false\n";
    configured(dir, name, toml, extra).await
}

/// (first started, done) of each step of recipe `id`, from the cloud's ledger.
fn step_times(events: &[Value], id: u64) -> BTreeMap<String, (u64, u64)> {
    let mut times: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for e in events {
        let m = &e["detail"]["Mission"];
        if m["mission"] != id {
            continue;
        }
        let Some(step) = m["change"]["Step"]["step"].as_str() else {
            continue;
        };
        let change = &m["change"]["Step"]["change"];
        let at = e["time_us"].as_u64().unwrap();
        let entry = times.entry(step.to_string()).or_insert((u64::MAX, 0));
        if change.get("Started").is_some() {
            entry.0 = entry.0.min(at);
        } else if change == "Done" {
            entry.1 = at;
        }
    }
    times
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diamond_recipe_runs_in_dependency_order_with_its_branches_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = start(dir.path(), "cloud", &["--role", "cloud"]).await;
    let join = ["--join", cloud.listen.as_str()];
    let _a = start(dir.path(), "edge-a", &join).await;
    let _b = start(dir.path(), "edge-b", &join).await;
    eventually("four agents known to the planner", || async {
        let (_, out, _) = console(&cloud.listen, &["--json", "-c", "agents"]).await;
        (out.lines().count() >= 4).then_some(())
    })
    .await;

    let file = write_file(dir.path(), "diamond.toml", DIAMOND);
    let line = format!("mission --recipe {}", file.display());
    let (code, out, err) = console(&cloud.listen, &["--json", "-c", &line]).await;
    assert_eq!(code, 0, "{out}{err}");
    let id = json_lines(&out)[0]["mission"]
        .as_u64()
        .expect("the recipe's id");

    let row = eventually("the recipe ended", || async {
        let (_, out, _) = console(&cloud.listen, &["--json", "-c", "missions"]).await;
        json_lines(&out)
            .into_iter()
            .find(|m| m["id"] == id && m["state"] != "Active")
    })
    .await;
    assert_eq!(row["state"], "Completed", "{row}");
    assert_eq!(
        (row["done"].as_u64(), row["tasks"].as_u64()),
        (Some(5), Some(5)),
        "{row}"
    );

    let (_, out, _) = console(
        &cloud.listen,
        &["--json", "-c", "events --kind mission --limit 10000"],
    )
    .await;
    let times = step_times(&json_lines(&out), id);
    assert_eq!(times.len(), 5, "{times:?}");
    let t0 = times["survey"].0;
    for (step, (started, done)) in &times {
        let ms = |us: u64| us.saturating_sub(t0) / 1000;
        println!(
            "recipe: {step:8} started {:>6} ms, done {:>6} ms",
            ms(*started),
            ms(*done)
        );
    }
    for (step, (started, done)) in &times {
        assert!(
            *started < u64::MAX && started <= done,
            "{step}: {started}..{done}"
        );
    }
    let ends_before_start = |a: &str, b: &str| {
        assert!(
            times[a].1 <= times[b].0,
            "{b} started before {a} was done: {times:?}"
        );
    };
    ends_before_start("survey", "west");
    ends_before_start("survey", "east");
    ends_before_start("west", "join");
    ends_before_start("east", "join");
    ends_before_start("join", "wrap-up");
    let (west, east) = (times["west"], times["east"]);
    assert!(
        west.0 < east.1 && east.0 < west.1,
        "the branches did not overlap: west {west:?}, east {east:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipe_with_an_unknown_need_is_refused_naming_the_file_step_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = start(dir.path(), "cloud", &["--role", "cloud"]).await;
    let bad = DIAMOND.replace(r#"needs = ["join"]"#, r#"needs = ["joni"]"#);
    let file = write_file(dir.path(), "typo.toml", &bad);
    let line = format!("mission --recipe {}", file.display());
    let (code, out, err) = console(&cloud.listen, &["-c", &line]).await;
    assert_ne!(code, 0, "{out}");
    let text = format!("{out}{err}");
    for part in ["typo.toml", "\"wrap-up\"", "needs", "\"joni\""] {
        assert!(text.contains(part), "{part} not in {text}");
    }
    let (_, out, _) = console(&cloud.listen, &["--json", "-c", "missions"]).await;
    assert!(!out.contains("diamond"), "{out}");
}

const SPIN: &str = "(module (func (export \"step_goal\") (param i32 i32 i32 i32 i32) (result i32) (loop (br 0)) (i32.const 0)))";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandboxed_step_runs_the_mission_its_guest_plans_and_a_spinning_guest_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "solo", &[]).await;
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/recipes");
    let file = shipped.join("sandboxed.toml");
    let line = format!("mission --recipe {}", file.display());
    let (code, out, err) = console(&node.listen, &["--json", "-c", &line]).await;
    assert_eq!(code, 0, "{out}{err}");
    let id = json_lines(&out)[0]["mission"].as_u64().unwrap();
    let row = eventually("the sandboxed recipe ended", || async {
        let (_, out, _) = console(&node.listen, &["--json", "-c", "missions"]).await;
        let rows = json_lines(&out);
        rows.into_iter()
            .find(|m| m["id"] == id && m["state"] != "Active")
    })
    .await;
    assert_eq!(row["state"], "Completed", "{row}");
    // The guest's first attempt plans the north-west quarter of the 24x12 floor.
    let (_, out, _) = console(&node.listen, &["--json", "-c", "missions"]).await;
    let goals: Vec<String> = json_lines(&out)
        .iter()
        .filter_map(|m| m["goal"].as_str().map(str::to_string))
        .collect();
    assert!(
        goals.iter().any(|g| g == "cover sector (0,0)-(11,5)"),
        "{goals:?}"
    );

    // A guest that never answers fails each attempt; the step is a dead letter.
    write_file(dir.path(), "spin.wat", SPIN);
    let spin = "[recipe]\nname = \"spin\"\n[[step]]\nname = \"think\"\ngoal = \"sandboxed\"\nmodule = \"spin.wat\"\nretries = 1\n";
    let file = write_file(dir.path(), "spin.toml", spin);
    let line = format!("mission --recipe {}", file.display());
    let (code, out, err) = console(&node.listen, &["--json", "-c", &line]).await;
    assert_eq!(code, 0, "{out}{err}");
    let spun = json_lines(&out)[0]["mission"].as_u64().unwrap();
    let letter = eventually("the spinning step in the dlq", || async {
        let (_, out, _) = console(&node.listen, &["--json", "-c", "dlq list"]).await;
        let letters = json_lines(&out);
        letters
            .into_iter()
            .find(|d| d["id"] == format!("{spun}/think"))
    })
    .await;
    let history = letter["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "two attempts: {letter}");
    for h in history {
        let reason = h["reason"].as_str().unwrap();
        assert!(reason.starts_with("the step's guest: "), "{reason}");
        assert!(
            reason.contains("fuel") || reason.contains("deadline"),
            "{reason}"
        );
    }
    // A capability no node of the cluster offers is refused, naming the
    // file, the step and the key; one the node offers runs.
    let fly = "[recipe]\nname = \"fly\"\n[[step]]\nname = \"over\"\ngoal = \"cover\"\nmin = [0, 0]\nmax = [2, 2]\ncapability = \"fly\"\n";
    let file = write_file(dir.path(), "fly.toml", fly);
    let line = format!("mission --recipe {}", file.display());
    let (code, out, err) = console(&node.listen, &["-c", &line]).await;
    assert_ne!(code, 0, "{out}");
    let text = format!("{out}{err}");
    for part in [
        "fly.toml",
        "step \"over\"",
        "capability",
        "no node of the cluster offers \"fly\"",
        "carry",
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
    let carry = fly.replace("\"fly\"", "\"carry\"");
    let file = write_file(dir.path(), "carry.toml", &carry);
    let line = format!("mission --recipe {}", file.display());
    let (code, out, err) = console(&node.listen, &["--json", "-c", &line]).await;
    assert_eq!(code, 0, "{out}{err}");
    let carried = json_lines(&out)[0]["mission"].as_u64().unwrap();
    eventually("the carriers' recipe completed", || async {
        let (_, out, _) = console(&node.listen, &["--json", "-c", "missions"]).await;
        let rows = json_lines(&out);
        rows.into_iter()
            .find(|m| m["id"] == carried && m["state"] == "Completed")
    })
    .await;

    // A module that is no step guest is refused at submission, naming the step.
    write_file(
        dir.path(),
        "agent.wat",
        swarmd_actors::sandbox::guests::PLANNER,
    );
    let agent = spin.replace("spin.wat", "agent.wat");
    let file = write_file(dir.path(), "agent.toml", &agent);
    let line = format!("mission --recipe {}", file.display());
    let (code, out, err) = console(&node.listen, &["-c", &line]).await;
    assert_ne!(code, 0, "{out}");
    let text = format!("{out}{err}");
    assert!(
        text.contains("\"think\"") && text.contains("step_goal"),
        "{text}"
    );
}
