//! `swarm-sim lorr PROBLEM`: a League of Robot Runners instance on the
//! warehouse swarm, negotiation on and off, one process per run. One
//! timestep is one move of every agent; a row per run gives tasks and
//! errands finished before the drain, per timestep, and the checkers'
//! verdict (no collisions, no deadlock among them).

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use clap::Args;
use swarmd_sim::process::{RUN_LIMIT, wait_with_limit};

#[derive(Args)]
pub struct LorrArgs {
    /// The problem file (JSON naming mapFile, agentFile, taskFile)
    problem: PathBuf,
    /// Timesteps to run (a drain follows, not counted)
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(10..=100_000))]
    steps: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The cloud and `nodes - 1` edges sharing the team
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(2..=16))]
    nodes: u64,
}

/// One run's figures, from its output.
struct Figures {
    tasks: u64,
    errands: u64,
    deadlocks: u64,
    passed: bool,
}

pub fn run(args: &LorrArgs) -> ExitCode {
    let instance = match swarmd_sim::lorr::load(&args.problem) {
        Ok(instance) => instance,
        Err(why) => {
            eprintln!("swarm-sim lorr: {why}");
            return ExitCode::from(2);
        }
    };
    let sim_secs = (args.steps * swarmd_sim::lorr::step_ms()).div_ceil(1_000);
    let agents = instance.starts.len();
    println!(
        "instance {} map {} agents {agents} tasks {} revealed {} steps {} ({sim_secs} simulated s)",
        instance.name,
        instance.map,
        instance.workload.tasks.len(),
        instance.workload.revealed,
        args.steps
    );
    println!("negotiation tasks errands tasks/step errands/step deadlocks verdict");
    let runs = ["on", "off"].map(|on| (on, spawn(args, sim_secs, on)));
    let mut rows = Vec::new();
    for (on, child) in runs {
        let (output, killed) = wait_with_limit(child, RUN_LIMIT);
        let text = String::from_utf8_lossy(&output.stdout);
        let Some(mut figures) = figures(&text) else {
            println!("negotiation {on}: no tally (killed: {killed}):\n{text}");
            return ExitCode::FAILURE;
        };
        figures.passed = output.status.success();
        let per_step = |n: u64| n as f64 / args.steps as f64;
        println!(
            "{on} {} {} {:.3} {:.3} {} {}",
            figures.tasks,
            figures.errands,
            per_step(figures.tasks),
            per_step(figures.errands),
            figures.deadlocks,
            if figures.passed { "PASS" } else { "FAIL" }
        );
        if !figures.passed {
            println!("{text}");
        }
        rows.push(figures);
    }
    let per_step = |f: &Figures| f.tasks as f64 / args.steps as f64;
    println!(
        "summary: instance={} agents={agents} steps={} on_tasks_per_step={:.3} off_tasks_per_step={:.3}",
        instance.name,
        args.steps,
        per_step(&rows[0]),
        per_step(&rows[1])
    );
    if rows.iter().all(|r| r.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn spawn(args: &LorrArgs, sim_secs: u64, negotiation: &str) -> std::process::Child {
    let me = std::env::current_exe().expect("the running binary's path");
    Command::new(me)
        .arg("--lorr")
        .arg(&args.problem)
        .args(["--seed", &args.seed.to_string(), "--scenario", "warehouse"])
        .args(["--nodes", &args.nodes.to_string()])
        .args(["--sim-secs", &sim_secs.to_string()])
        .args(["--negotiation", negotiation])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the simulator re-executes itself")
}

/// The figures of one run's tally line.
fn figures(text: &str) -> Option<Figures> {
    let value = |key: &str| crate::tally_value(text, key);
    Some(Figures {
        tasks: value("tasks_in_run")?,
        errands: value("errands_in_run")?,
        deadlocks: value("deadlocks")?,
        passed: false,
    })
}
