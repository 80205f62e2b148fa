//! `swarm-sim brains`: two drones whose brain is external, flying two
//! deliveries. Recorded with a scripted brain (a deterministic stand-in for
//! a model, with one unreadable answer and one missed deadline, as models
//! give), or replayed from a recording (`swarm-sim brains --record` output,
//! or a real run's decisions): the same seed and recording give the same
//! trace, and where the run leaves the recording it says so.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};
use swarmd_actors::external::protocol::SituationMsg;
use swarmd_drones::{Area, Drones, Point, Sky};
use swarmd_messages::SpawnSpec;
use swarmd_messages::swarm::Goal;
use swarmd_messages::task::TaskSpec;
use swarmd_sim::brains::{self, Answering, Recording};
use swarmd_sim::driver::Sim;
use swarmd_sim::net::NetFaults;

#[derive(Args)]
pub struct BrainsArgs {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated seconds the drones fly
    #[arg(long, default_value_t = 40)]
    sim_secs: u64,
    /// Write the run's brain decisions to FILE (JSON Lines)
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Answer from the decisions in FILE, and say where the run leaves them
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Write every trace line to FILE
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

pub fn run(args: &BrainsArgs) -> ExitCode {
    let recording = match &args.replay {
        Some(path) => match std::fs::read_to_string(path).map_err(|e| e.to_string()) {
            Ok(text) => match Recording::from_jsonl(&text) {
                Ok(r) => Some(r),
                Err(why) => return refuse(&format!("{}: {why}", path.display())),
            },
            Err(why) => return refuse(&format!("{}: {why}", path.display())),
        },
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    let (verdict, decisions) = runtime.block_on(async {
        swarmd_sim::shims::install(args.seed);
        fly(args, recording.clone()).await
    });
    if let Some(path) = &args.trace
        && let Err(e) = std::fs::write(path, verdict.trace.lines().join("\n") + "\n")
    {
        eprintln!("cannot write the trace to {}: {e}", path.display());
    }
    if let Some(path) = &args.record
        && let Err(e) = std::fs::write(path, decisions.to_jsonl())
    {
        return refuse(&format!("cannot write {}: {e}", path.display()));
    }
    let diverged = recording
        .as_ref()
        .map(|r| brains::divergence(r, &decisions))
        .unwrap_or_default();
    let passed = verdict.passed() && diverged.is_empty();
    println!(
        "seed={} scenario=brains decisions={} trace={} verdict={} divergence={}",
        args.seed,
        decisions.0.len(),
        verdict.trace.hash(),
        if verdict.passed() { "PASS" } else { "FAIL" },
        if diverged.is_empty() { "none" } else { "found" },
    );
    for d in &diverged {
        println!("  diverged: {d}");
    }
    for v in &verdict.violations {
        println!("  violation: {v}");
    }
    match passed {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    }
}

fn refuse(why: &str) -> ExitCode {
    eprintln!("swarm-sim brains: {why}");
    ExitCode::from(2)
}

async fn fly(
    args: &BrainsArgs,
    replay: Option<Recording>,
) -> (swarmd_sim::driver::Verdict, Recording) {
    let mut sim = Sim::new(args.seed, NetFaults::default(), args.trace.is_some());
    let airspace = Area {
        min: Point(0.0, 0.0),
        max: Point(200.0, 200.0),
    };
    sim.domain(Drones::new(airspace, Sky::default()));
    sim.cloud("cloud").await.expect("the cloud starts");
    sim.edge("edge-1", 0).await.expect("the edge starts");
    let answering = replay.map_or_else(scripted, Answering::Replay);
    let mesh = Arc::new(sim.cluster.mesh.join("brains"));
    let _brain = brains::start(mesh, "default", answering);
    for (id, home) in [("d1", "40,2"), ("d2", "160,2")] {
        let mut spec = SpawnSpec::new(id, "drone", "default");
        for (k, v) in [
            ("home", home),
            ("brain", "remote"),
            ("brain_deadline_ms", "1000"),
        ] {
            spec.params.insert(k.into(), v.into());
        }
        sim.supervise_spec(spec).await.expect("a drone is placed");
    }
    sim.run_for(Duration::from_secs(5))
        .await
        .expect("the sim runs");
    for to in ["[40, 60]", "[160, 60]"] {
        let spec = TaskSpec::new("deliver", format!(r#"{{"to": {to}}}"#));
        sim.mission(Goal::Task(spec), "default")
            .await
            .expect("a mission");
    }
    sim.run_for(Duration::from_secs(args.sim_secs))
        .await
        .expect("the sim runs");
    sim.drain(Duration::from_secs(10))
        .await
        .expect("the sim drains");
    let verdict = sim.verdict().await;
    let ledger = verdict.ledger("edge-1").expect("the edge's disk");
    let events = ledger.node_log("edge-1", 0, 10_000_000).unwrap_or_default();
    (verdict, Recording::from_events(&events))
}

/// A model's stand-in: to the task's last waypoint, done there; its 3rd
/// answer with a task is prose (unreadable), its 5th never comes.
fn scripted() -> Answering {
    let asked = Mutex::new(0u32);
    Answering::Scripted(Arc::new(move |s: &SituationMsg<Value>| {
        let Some(task) = &s.task else {
            return Some(json!({"go": "hover"}));
        };
        let n = {
            let mut asked = asked.lock().unwrap_or_else(|p| p.into_inner());
            *asked += 1;
            *asked
        };
        match n {
            3 => return Some(json!("head north-ish, I think")),
            5 => return None,
            _ => {}
        }
        let to = task.task["waypoints"].as_array()?.last()?.clone();
        let at = &s.summary["at"];
        let d = |i: usize| at[i].as_f64().unwrap_or(0.0) - to[i].as_f64().unwrap_or(0.0);
        match d(0).hypot(d(1)) <= 1.0 {
            true => Some(json!({"done": null})),
            false => Some(json!({"go": {"go_to": {"to": to}}})),
        }
    }))
}
