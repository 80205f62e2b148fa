//! The coordination benchmark: every seed of the `warehouse` scenario (the
//! bundled MovingAI map, a continuous fetch workload) or of `hallway` twice,
//! with one coordination mechanism (`--compare negotiation|stigmergy`) on
//! and off, one process per run, two at a time. Prints one row per run and
//! a `summary:` line of plain numbers.

use std::collections::{BTreeMap, VecDeque};
use std::process::{Child, Command, ExitCode, Stdio};

use clap::Args;
use swarmd_sim::process::{RUN_LIMIT, wait_with_limit};

#[derive(Args)]
pub struct CoordinationArgs {
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    seeds: u64,
    /// Agents in all, shared by the edges
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(2..=1000))]
    agents: u64,
    /// Simulated minutes of work per run (a minute's drain follows)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    minutes: u64,
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    jobs: u64,
    /// A MovingAI `.map` file instead of the bundled warehouse map
    #[arg(long, value_name = "FILE")]
    map: Option<std::path::PathBuf>,
    /// The map's docks, `X,Y;X,Y;…` (default: along its border, or along
    /// the inside of its outer wall)
    #[arg(long, value_name = "X,Y;…", requires = "map")]
    docks: Option<String>,
    /// What is switched on and off between the two runs of a seed
    #[arg(long, default_value = "negotiation", value_parser = ["negotiation", "stigmergy"])]
    compare: String,
    #[arg(long, default_value = "warehouse", value_parser = ["warehouse", "hallway"])]
    scenario: String,
}

/// The cloud and two edges.
const NODES: u64 = 3;

/// One run's figures, from its tally line.
#[derive(Default, Clone, Copy)]
struct Figures {
    tasks_per_min: f64,
    refused: f64,
    yields: f64,
    deadlocks: f64,
    passed: bool,
}

pub fn run(args: &CoordinationArgs) -> ExitCode {
    let me = std::env::current_exe().expect("the running binary's path");
    let per_edge = args.agents.div_ceil(NODES - 1);
    let mut queue: VecDeque<(u64, bool)> = (1..=args.seeds)
        .flat_map(|seed| [(seed, true), (seed, false)])
        .collect();
    let mut running: VecDeque<(u64, bool, Child)> = VecDeque::new();
    let mut results: BTreeMap<(bool, u64), Figures> = BTreeMap::new();
    println!(
        "seed {} tasks/min refused yields deadlocks verdict",
        args.compare
    );
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < args.jobs as usize
            && let Some((seed, on)) = queue.pop_front()
        {
            running.push_back((seed, on, spawn(&me, args, seed, on, per_edge)));
        }
        let (seed, on, child) = running.pop_front().expect("a run");
        let (output, killed) = wait_with_limit(child, RUN_LIMIT);
        let text = String::from_utf8_lossy(&output.stdout);
        let Some(mut figures) = figures(&text) else {
            println!("seed {seed}: no tally (killed: {killed}):\n{text}");
            return ExitCode::FAILURE;
        };
        figures.passed = output.status.success();
        let verdict = if figures.passed { "PASS" } else { "FAIL" };
        println!(
            "{seed} {} {:.1} {} {} {} {verdict}",
            if on { "on" } else { "off" },
            figures.tasks_per_min,
            figures.refused,
            figures.yields,
            figures.deadlocks
        );
        results.insert((on, seed), figures);
    }
    summarize(args, per_edge * (NODES - 1), &results)
}

fn summarize(
    args: &CoordinationArgs,
    agents: u64,
    results: &BTreeMap<(bool, u64), Figures>,
) -> ExitCode {
    let mean = |on: bool, f: fn(&Figures) -> f64| {
        let of: Vec<f64> = results
            .iter()
            .filter(|((o, _), _)| *o == on)
            .map(|(_, r)| f(r))
            .collect();
        of.iter().sum::<f64>() / of.len().max(1) as f64
    };
    let total = |on: bool, f: fn(&Figures) -> f64| {
        results
            .iter()
            .filter(|((o, _), _)| *o == on)
            .map(|(_, r)| f(r))
            .sum::<f64>()
    };
    let (on_tpm, off_tpm) = (
        mean(true, |r| r.tasks_per_min),
        mean(false, |r| r.tasks_per_min),
    );
    println!(
        "summary: compare={} scenario={} seeds={} agents={agents} minutes={} on_tasks_per_min={on_tpm:.1} off_tasks_per_min={off_tpm:.1} \
         throughput_ratio={:.2} on_deadlocks={} off_deadlocks={} on_refused={} off_refused={} on_yields={} off_yields={}",
        args.compare,
        args.scenario,
        args.seeds,
        args.minutes,
        on_tpm / off_tpm.max(f64::MIN_POSITIVE),
        total(true, |r| r.deadlocks),
        total(false, |r| r.deadlocks),
        total(true, |r| r.refused),
        total(false, |r| r.refused),
        total(true, |r| r.yields),
        total(false, |r| r.yields),
    );
    let on_failed = results.iter().any(|((on, _), r)| *on && !r.passed);
    if on_failed {
        println!(
            "a run with {} on failed its checks (see its row)",
            args.compare
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn spawn(
    me: &std::path::Path,
    args: &CoordinationArgs,
    seed: u64,
    on: bool,
    per_edge: u64,
) -> Child {
    let minutes = args.minutes;
    let mut command = Command::new(me);
    if let Some(map) = &args.map {
        command.arg("--map").arg(map);
    }
    if let Some(docks) = &args.docks {
        command.arg("--docks").arg(docks);
    }
    command
        .args(["--seed", &seed.to_string(), "--scenario", &args.scenario])
        .args([
            "--nodes",
            &NODES.to_string(),
            "--agents",
            &per_edge.to_string(),
        ])
        .args(["--sim-secs", &(minutes * 60).to_string()])
        .arg(format!("--{}", args.compare))
        .arg(if on { "on" } else { "off" })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the simulator re-executes itself")
}

/// The figures of one run's output: its simulated time and tally line.
fn figures(text: &str) -> Option<Figures> {
    let value = |key: &str| crate::tally_value(text, key).map(|v| v as f64);
    let minutes = value("simulated_ms")? / 60_000.0;
    Some(Figures {
        tasks_per_min: value("tasks_done")? / minutes.max(f64::MIN_POSITIVE),
        refused: value("refused_moves")?,
        yields: value("yields")?,
        deadlocks: value("deadlocks")?,
        passed: false,
    })
}
