//! The simulator's runner. One seed runs in one process (ractor's registries
//! and id counter are process-global), so a sweep re-executes this binary
//! once per seed, a few at a time.
//!
//!     swarm-sim --seed 7 --scenario partition [--nodes 3] [--sim-secs 60] [--trace FILE]
//!     swarm-sim sweep [--seeds 40] [--from 1] [--scenarios all] [--jobs 2]
//!     swarm-sim brains [--seed 7] [--record FILE | --replay FILE]
//!     swarm-sim coordination [--seeds 20] [--agents 50] [--minutes 10] [--map FILE [--docks X,Y;…]]
//!     swarm-sim lorr PROBLEM.json [--steps 600] [--seed 1] [--nodes 3]

mod brains;
mod coordination;
mod lorr;
mod sweep;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use swarmd_sim::scenario::{self, RunConfig, Scenario};

#[derive(Parser)]
#[command(
    name = "swarm-sim",
    about = "Run swarmd clusters in simulation: one seed, one trace"
)]
struct Cli {
    #[command(subcommand)]
    sweep: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run many seeds of many scenarios, one process each, and sum up
    Sweep(sweep::SweepArgs),
    /// The coordination benchmark: the warehouse map (or the hallway) under
    /// a continuous workload, negotiation (or stigmergy) on and off, the same seeds
    Coordination(coordination::CoordinationArgs),
    /// Drones with an external brain: record its decisions, or replay them
    /// and say where the run leaves the recording
    Brains(brains::BrainsArgs),
    /// A League of Robot Runners instance (problem JSON, map, agents,
    /// tasks) on the warehouse swarm, negotiation on and off: tasks and
    /// errands finished per timestep
    Lorr(lorr::LorrArgs),
}

#[derive(Args, Clone)]
pub struct RunArgs {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value = "partition")]
    scenario: Scenario,
    /// The cloud and `nodes - 1` edges
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(2..=16))]
    nodes: u64,
    /// Simulated seconds of faults (a 60 s drain follows)
    #[arg(long, default_value_t = 60)]
    sim_secs: u64,
    /// Write every trace line to FILE
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Agents booted on each edge
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=500))]
    agents: u64,
    /// Right of way and yield requests between agents
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    negotiation: String,
    /// Stigmergic tags: marks on cells, congested ones routed around
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    stigmergy: String,
    /// A MovingAI `.map` file for the `warehouse` scenario's floor
    #[arg(long, value_name = "FILE")]
    map: Option<PathBuf>,
    /// The map's docks, `X,Y;X,Y;…` (default: along its border, or along
    /// the inside of its outer wall)
    #[arg(long, value_name = "X,Y;…", requires = "map")]
    docks: Option<String>,
    /// A LoRR problem file for the `warehouse` scenario: its map, its team
    /// at its start cells (`--agents` ignored), its tasks
    #[arg(long, value_name = "FILE", conflicts_with = "map")]
    lorr: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.sweep {
        Some(Command::Sweep(args)) => sweep::run(&args),
        Some(Command::Coordination(args)) => coordination::run(&args),
        Some(Command::Brains(args)) => brains::run(&args),
        Some(Command::Lorr(args)) => lorr::run(&args),
        None => run_one(&cli.run),
    }
}

/// `--map`, with `--docks` if given.
fn load_map(args: &RunArgs) -> Result<Option<(String, swarmd_messages::swarm::FloorPlan)>, String> {
    let Some(path) = &args.map else {
        return Ok(None);
    };
    let docks = match &args.docks {
        Some(text) => {
            swarmd_config::map_file::parse_docks(text).map_err(|e| format!("--docks: {e}"))?
        }
        None => Vec::new(),
    };
    let floor = swarmd_config::map_file::load(path, &docks)?;
    Ok(Some((path.display().to_string(), floor)))
}

/// `--lorr`, for the `warehouse` scenario only.
fn load_lorr(args: &RunArgs) -> Result<Option<Arc<swarmd_sim::lorr::Instance>>, String> {
    let Some(path) = &args.lorr else {
        return Ok(None);
    };
    if args.scenario != Scenario::Warehouse {
        return Err("--lorr runs in the warehouse scenario: add --scenario warehouse".into());
    }
    Ok(Some(Arc::new(swarmd_sim::lorr::load(path)?)))
}

/// The number after ` KEY=` in a run's output (its tally line), if any.
fn tally_value(text: &str, key: &str) -> Option<u64> {
    let at = text.find(&format!(" {key}="))? + key.len() + 2;
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn run_one(args: &RunArgs) -> ExitCode {
    // Logs of the simulated nodes, for a failing seed: SWARM_SIM_LOG=info.
    if let Ok(filter) = std::env::var("SWARM_SIM_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .without_time()
            .init();
    }
    let (map, lorr) = match load_map(args).and_then(|map| Ok((map, load_lorr(args)?))) {
        Ok(loaded) => loaded,
        Err(why) => {
            eprintln!("swarm-sim: {why}");
            return ExitCode::from(2);
        }
    };
    let config = RunConfig {
        map,
        lorr,
        keep_trace: args.trace.is_some(),
        agents_per_edge: args.agents as usize,
        negotiation: args.negotiation == "on",
        stigmergy: args.stigmergy == "on",
        ..RunConfig::new(args.seed, args.scenario, args.nodes as usize, args.sim_secs)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let outcome = runtime.block_on(async {
        swarmd_sim::shims::install(args.seed);
        scenario::run(&config).await
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(why) => {
            println!(
                "seed={} scenario={} verdict=ERROR {why}",
                args.seed,
                args.scenario.name()
            );
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.trace
        && let Err(e) = std::fs::write(path, outcome.trace.lines().join("\n") + "\n")
    {
        eprintln!("cannot write the trace to {}: {e}", path.display());
    }
    let verdict = if outcome.violations.is_empty() {
        "PASS"
    } else {
        "FAIL"
    };
    println!(
        "seed={} scenario={} nodes={} simulated_ms={} trace={} verdict={verdict}",
        args.seed,
        args.scenario.name(),
        args.nodes,
        outcome.simulated.as_millis(),
        outcome.trace.hash(),
    );
    println!("  {}", outcome.tally.line());
    if outcome.violations.is_empty() {
        return ExitCode::SUCCESS;
    }
    for v in &outcome.violations {
        println!("  violation: {v}");
    }
    let mut map = args.map.as_ref().map(|m| format!(" --map {}", m.display()));
    if let Some(problem) = &args.lorr {
        map = Some(format!(" --lorr {}", problem.display()));
    }
    if let (Some(map), Some(docks)) = (&mut map, &args.docks) {
        map.push_str(&format!(" --docks '{docks}'"));
    }
    println!(
        "  re-run with the full trace: swarm-sim --seed {} --scenario {} --nodes {} --sim-secs {} --agents {} --negotiation {} --stigmergy {}{} --trace trace-{}.txt",
        args.seed,
        args.scenario.name(),
        args.nodes,
        args.sim_secs,
        args.agents,
        args.negotiation,
        args.stigmergy,
        map.unwrap_or_default(),
        args.seed
    );
    ExitCode::FAILURE
}
