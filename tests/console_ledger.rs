//! `swarmd ledger` on a stopped node, and `events --follow` through a
//! mission, against real `swarmd` processes.

mod support;

use std::process::Stdio;

use serde_json::Value;
use support::STARTUP;
use support::console::{ENV, console, json_lines, playground, playground_with};
use tokio::io::AsyncBufReadExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_events_reads_a_stopped_node_and_is_refused_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = playground(dir.path()).await;
    let data_dir = dir.path().join("node").display().to_string();
    let args = [
        "ledger",
        "events",
        "--data-dir",
        &data_dir,
        "--json",
        "--kind",
        "supervision",
    ];
    let (status, _, err) = support::run(&args, &[]).await;
    assert_eq!(status.code(), Some(2));
    assert!(
        err.contains("the node is running") && err.contains("swarmd console"),
        "{err}"
    );
    let (code, _, _) = console(&node.listen, &["-c", "nodes"]).await;
    assert_eq!(code, 0);
    node.signal(libc::SIGTERM);
    assert_eq!(node.exit().await.code(), Some(0));

    let (status, out, err) = support::run(&args, &[]).await;
    assert!(status.success(), "{err}");
    let events = json_lines(&out);
    assert!(!events.is_empty() && events.iter().all(|e| e["kind"] == "supervision"));
    let audit = [
        "ledger",
        "events",
        "--data-dir",
        &data_dir,
        "--json",
        "--kind",
        "audit",
    ];
    let (_, out, _) = support::run(&audit, &[]).await;
    assert!(
        json_lines(&out)
            .iter()
            .any(|e| e["detail"]["Audit"]["command"] == "nodes"),
        "{out}"
    );
    let export = ["ledger", "export", "--data-dir", &data_dir];
    let (status, out, _) = support::run(&export, &[]).await;
    assert!(status.success());
    assert!(json_lines(&out).len() > events.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mission_is_followed_from_planned_to_ended() {
    let dir = tempfile::tempdir().unwrap();
    // No demo missions: the agents are free for this one.
    let node = playground_with(dir.path(), "[missions]\ndemo = false\n").await;
    let mut cmd = support::swarmd();
    cmd.args([
        "console",
        &node.listen,
        "--json",
        "-c",
        "events --follow --limit 1",
    ])
    .envs(ENV)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut follower = cmd.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(follower.stdout.take().unwrap()).lines();
    // The newest event first, then everything new as it is recorded.
    let first = tokio::time::timeout(STARTUP, lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert!(first.is_some(), "the follower printed the newest event");

    let sector =
        r#"mission {"cover": {"sector": {"min": {"x": 1, "y": 1}, "max": {"x": 2, "y": 2}}}}"#;
    let (code, out, err) = console(&node.listen, &["--json", "-c", sector]).await;
    assert_eq!(code, 0, "{err}");
    let id = json_lines(&out)[0]["mission"]
        .as_u64()
        .expect("a mission id");

    let (mut planned, mut assigned) = (false, false);
    let ended = tokio::time::timeout(STARTUP * 2, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let e: Value = serde_json::from_str(&line).unwrap();
            let detail = &e["detail"];
            match e["kind"].as_str() {
                Some("mission") if detail["Mission"]["mission"] == id => {
                    let change = &detail["Mission"]["change"];
                    planned |= change.get("Planned").is_some();
                    if change.get("Ended").is_some() {
                        return change["Ended"].clone();
                    }
                }
                Some("task") if detail["Task"]["mission"] == id => {
                    assigned |= detail["Task"]["change"].get("Assigned").is_some();
                }
                _ => {}
            }
        }
        panic!("the follower stopped");
    })
    .await
    .expect("the mission ended within the limit");
    assert!(
        planned && assigned,
        "planned {planned}, assigned {assigned}"
    );
    assert_eq!(ended, "Completed", "{ended}");
    follower.kill().await.unwrap();
}
