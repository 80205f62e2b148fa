//! One seed, one trace: the same seed run in two separate processes gives
//! the same trace hash, line for line; different seeds give different ones.

use std::process::Command;

/// Runs one seed in its own process; returns its summary line.
fn run(seed: u64, scenario: &str, trace: Option<&std::path::Path>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_swarm-sim"));
    cmd.args([
        "--seed",
        &seed.to_string(),
        "--scenario",
        scenario,
        "--sim-secs",
        "30",
    ]);
    if let Some(path) = trace {
        cmd.arg("--trace").arg(path);
    }
    let out = cmd.output().expect("swarm-sim runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "seed {seed} {scenario} failed:\n{stdout}"
    );
    stdout.lines().next().expect("a summary line").to_string()
}

fn hash(summary: &str) -> &str {
    summary
        .split_whitespace()
        .find_map(|f| f.strip_prefix("trace="))
        .expect("a trace hash")
}

#[test]
fn the_same_seed_in_two_processes_gives_the_same_trace() {
    let dir = tempfile::tempdir().unwrap();
    for scenario in ["partition", "crash", "panic"] {
        let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
        let first = run(11, scenario, Some(&a));
        let second = run(11, scenario, Some(&b));
        assert_eq!(hash(&first), hash(&second), "{scenario}");
        let (a, b) = (
            std::fs::read_to_string(a).unwrap(),
            std::fs::read_to_string(b).unwrap(),
        );
        assert!(
            a.lines().count() > 100,
            "a trace worth comparing: {} lines",
            a.lines().count()
        );
        assert!(a == b, "{scenario}: the traces differ line by line");
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let hashes: std::collections::BTreeSet<String> = (1..=4)
        .map(|seed| hash(&run(seed, "crash", None)).to_string())
        .collect();
    assert_eq!(hashes.len(), 4, "{hashes:?}");
}
