//! The seed sweep CI runs: every scenario over a few seeds, one process per
//! seed, two at a time. `SWARM_SIM_SEEDS=10000` makes it the long sweep.

use std::process::Command;

/// Seeds per scenario when SWARM_SIM_SEEDS is not set: every scenario under
/// debug assertions in about a minute on 2 cores. `.ci/run` then sweeps 100
/// seeds of each on a release build, which is ten times faster per seed.
const CI_SEEDS: &str = "2";

#[test]
fn every_scenario_holds_its_invariants_over_a_seed_sweep() {
    let seeds = std::env::var("SWARM_SIM_SEEDS").unwrap_or_else(|_| CI_SEEDS.into());
    let out = Command::new(env!("CARGO_BIN_EXE_swarm-sim"))
        .args(["sweep", "--seeds", &seeds, "--jobs", "2"])
        .output()
        .expect("swarm-sim runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the sweep found failing seeds:\n{stdout}"
    );
    let summary = stdout.lines().last().expect("a summary");
    let asked: u64 = seeds.parse().expect("SWARM_SIM_SEEDS is a number");
    let runs = asked * swarmd_sim::scenario::Scenario::ALL.len() as u64;
    assert_eq!(
        summary,
        format!("sweep: {runs} runs: {runs} passed, 0 failed"),
        "every run asked for ran and passed"
    );
}

#[test]
fn a_sweep_of_no_seeds_or_of_garbage_is_an_error() {
    for bad in ["0", "lots", ""] {
        let out = Command::new(env!("CARGO_BIN_EXE_swarm-sim"))
            .args(["sweep", "--seeds", "1"])
            .env("SWARM_SIM_SEEDS", bad)
            .output()
            .expect("swarm-sim runs");
        assert_eq!(out.status.code(), Some(2), "SWARM_SIM_SEEDS={bad:?}");
        assert!(!out.stderr.is_empty());
    }
}
