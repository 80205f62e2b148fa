//! A seed sweep: this binary re-executed once per (seed, scenario), `jobs`
//! at a time. Prints each failure with how to re-run it, the throughput,
//! and one summary line.

use std::collections::VecDeque;
use std::process::{Child, Command, ExitCode, Output, Stdio};
use std::sync::mpsc;

use clap::Args;
use swarmd_sim::process::{RUN_LIMIT, wait_with_limit};
use swarmd_sim::scenario::Scenario;

#[derive(Args)]
pub struct SweepArgs {
    /// Seeds per scenario; the SWARM_SIM_SEEDS variable wins when set
    #[arg(long, default_value_t = 40)]
    seeds: u64,
    /// The first seed
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Comma-separated scenario names, or "all"
    #[arg(long, default_value = "all")]
    scenarios: String,
    /// Runs at once
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    jobs: u64,
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    #[arg(long, default_value_t = 60)]
    sim_secs: u64,
}

struct Job {
    label: String,
    child: Child,
}

/// Seeds per scenario: `SWARM_SIM_SEEDS` when set (a positive number, or an
/// error), else `--seeds`.
fn seeds(flag: u64) -> Result<u64, String> {
    let n = match std::env::var("SWARM_SIM_SEEDS") {
        Err(_) => flag,
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("SWARM_SIM_SEEDS={text:?} is not a number of seeds"))?,
    };
    if n == 0 {
        return Err("a sweep needs at least one seed".into());
    }
    Ok(n)
}

fn scenarios(names: &str) -> Result<Vec<Scenario>, String> {
    if names == "all" {
        return Ok(Scenario::ALL.to_vec());
    }
    names.split(',').map(str::parse).collect()
}

pub fn run(args: &SweepArgs) -> ExitCode {
    let seeds = match seeds(args.seeds) {
        Ok(n) => n,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(2);
        }
    };
    let scenarios = match scenarios(&args.scenarios) {
        Ok(s) => s,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(2);
        }
    };
    let me = std::env::current_exe().expect("the running binary's path");
    let mut queue: VecDeque<(u64, Scenario)> = scenarios
        .iter()
        .flat_map(|sc| (args.from..args.from + seeds).map(move |seed| (seed, *sc)))
        .collect();
    let total = queue.len();
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)] // the harness's own wall clock
    let started = std::time::Instant::now();
    let (mut passed, mut failed) = (0usize, 0usize);
    // Each run is waited on by a thread of its own, so a slot is refilled as
    // soon as any run ends, not when the oldest does.
    let (done_tx, done_rx) = mpsc::channel::<(String, Output, bool)>();
    let mut running = 0usize;
    while !queue.is_empty() || running > 0 {
        while running < args.jobs as usize
            && let Some((seed, scenario)) = queue.pop_front()
        {
            let job = spawn(&me, args, seed, scenario);
            let done = done_tx.clone();
            #[allow(clippy::disallowed_methods)] // a waiter of the harness, not an actor
            std::thread::spawn(move || {
                let (output, killed) = wait_with_limit(job.child, RUN_LIMIT);
                let _ = done.send((job.label, output, killed));
            });
            running += 1;
        }
        let (label, output, killed) = done_rx.recv().expect("a waiter reports its run");
        running -= 1;
        if output.status.success() {
            passed += 1;
        } else {
            failed += 1;
            let why = if killed {
                " (still running: killed)"
            } else {
                ""
            };
            let text = String::from_utf8_lossy(&output.stdout);
            println!("FAILED {label}{why}:\n{text}");
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let simulated = total as f64 * (args.sim_secs + 60) as f64;
    println!(
        "{total} runs in {wall:.1} s: {:.0} seeds/min, {:.0} simulated s per wall s ({} nodes, {} jobs)",
        total as f64 * 60.0 / wall,
        simulated / wall,
        args.nodes,
        args.jobs
    );
    println!("sweep: {total} runs: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn spawn(me: &std::path::Path, args: &SweepArgs, seed: u64, scenario: Scenario) -> Job {
    let child = Command::new(me)
        .args(["--seed", &seed.to_string(), "--scenario", scenario.name()])
        .args([
            "--nodes",
            &args.nodes.to_string(),
            "--sim-secs",
            &args.sim_secs.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the simulator re-executes itself");
    Job {
        label: format!("seed {seed} {}", scenario.name()),
        child,
    }
}
