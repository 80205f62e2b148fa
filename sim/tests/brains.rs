//! An external brain's run replays per seed: `swarm-sim brains --record`
//! flies two drones whose brain (a scripted stand-in for a model) gives one
//! unreadable answer and misses one deadline; replaying its recording gives
//! the same decisions and the same trace, twice, in processes of their own;
//! a recording edited at one answer is reported as diverging at the next
//! decision, the first whose situation the edited answer changed.

use std::path::Path;
use std::process::Command;

use swarmd_sim::brains::Recording;

/// `swarm-sim brains` with `args`: its exit status and report.
fn brains(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_swarm-sim"))
        .args(["brains", "--seed", "7"])
        .args(args)
        .output()
        .expect("swarm-sim runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    (
        out.status.success(),
        text + &String::from_utf8_lossy(&out.stderr),
    )
}

fn field<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .split_whitespace()
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn read(path: &Path) -> Recording {
    Recording::from_jsonl(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_recorded_brain_replays_the_same_run_and_an_edit_is_found_where_it_was_made() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("recorded.jsonl");
    let (ok, report) = brains(&["--record", recording.to_str().unwrap()]);
    assert!(ok, "{report}");
    let recorded = read(&recording);
    let outcomes: Vec<&str> = recorded.0.iter().map(|d| d.outcome.as_str()).collect();
    assert!(outcomes.contains(&"accepted"), "{outcomes:?}");
    assert!(
        outcomes.iter().any(|o| o.starts_with("invalid")),
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().any(|o| o.starts_with("missed")),
        "{outcomes:?}"
    );

    let mut runs = Vec::new();
    for _ in 0..2 {
        let (ok, report) = brains(&["--replay", recording.to_str().unwrap()]);
        assert!(ok, "{report}");
        assert_eq!(field(&report, "divergence"), "none", "{report}");
        runs.push(report);
    }
    assert_eq!(
        field(&runs[0], "trace"),
        field(&runs[1], "trace"),
        "{runs:?}"
    );
    assert_eq!(field(&runs[0], "decisions"), field(&report, "decisions"));

    // The 2nd decision of d1 with a flight in it, sent somewhere else.
    let mut edited = recorded.clone();
    let (at, _) = edited
        .0
        .iter()
        .enumerate()
        .filter(|(_, d)| d.agent == "d1")
        .filter(|(_, d)| {
            d.answer
                .as_ref()
                .is_some_and(|a| a.get("go").is_some_and(|g| g.get("go_to").is_some()))
        })
        .nth(1)
        .expect("d1 flew");
    let decision = edited.0[..=at].iter().filter(|d| d.agent == "d1").count();
    edited.0[at].answer = Some(serde_json::json!({"go": {"go_to": {"to": [10.0, 190.0]}}}));
    let path = dir.path().join("edited.jsonl");
    std::fs::write(&path, edited.to_jsonl()).unwrap();
    let (ok, report) = brains(&["--replay", path.to_str().unwrap()]);
    assert!(!ok, "an edited recording replayed without a word: {report}");
    assert_eq!(field(&report, "divergence"), "found", "{report}");
    let line = report
        .lines()
        .find(|l| l.contains("diverged: d1"))
        .unwrap_or_else(|| panic!("d1's divergence reported: {report}"));
    let at_decision: usize = line
        .split("at decision ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(
        at_decision,
        decision + 1,
        "the first situation after the edited answer: {line}"
    );
}
