//! Task board throughput: 100 agents claiming tasks from the board (post,
//! claim with a lease, complete), against the planner's direct assignment
//! (each open task pushed to the least-loaded capable agent, nearest among
//! equals), in one run. Claim latency is per `claim` call. Rate limits are
//! off (they would measure the configured rate, not the board).
//!
//!     cargo bench -p swarmd-actors --bench board [-- TASKS]

use std::collections::BTreeMap;
use std::hint::black_box;

use swarmd_actors::board::{
    Admission, Board, BoardConfig, Claimant, Completion, Partition, Posting, RateConfig, TaskKey,
};
use swarmd_messages::swarm::Cell;
use tokio::time::Instant;

const AGENTS: usize = 100;
const RUNS: usize = 5;

struct Agent {
    name: String,
    at: Cell,
}

fn agents() -> Vec<Agent> {
    (0..AGENTS)
        .map(|i| Agent {
            name: format!("agent-{i:03}"),
            at: Cell::new((i % 24) as i32, (i / 24) as i32),
        })
        .collect()
}

fn posting(i: usize) -> Posting {
    Posting {
        key: TaskKey {
            mission: (i / 4) as u64,
            task: (i % 4) as u32,
        },
        partition: Partition {
            tenant: "t".into(),
            squad: "default".into(),
        },
        kind: if i.is_multiple_of(3) {
            "fetch"
        } else {
            "cover"
        }
        .into(),
        cost: (i % 17) as u32 + 1,
        priority: 0,
        needs: Vec::new(),
    }
}

/// Tasks per second through the board, and each claim's latency in µs.
fn board_run(admission: Admission, tasks: usize, agents: &[Agent]) -> (f64, Vec<f64>) {
    let config = BoardConfig {
        admission,
        capacity: tasks,
        rate: RateConfig { per_s: 0, burst: 0 },
        ..BoardConfig::default()
    };
    let mut board = Board::new(config);
    let (tenants, caps) = (["t".to_string()], ["move".to_string(), "carry".to_string()]);
    let mut latencies = Vec::with_capacity(tasks);
    let started = Instant::now();
    for i in 0..tasks {
        board.post(posting(i)).expect("room for every task");
    }
    let mut done = 0;
    while done < tasks {
        for a in agents {
            let who = Claimant {
                agent: &a.name,
                tenants: &tenants,
                squad: "default",
                capabilities: &caps,
            };
            let t = Instant::now();
            let Ok(lease) = board.claim(who, 0) else {
                break;
            };
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
            let completion = board.complete(lease.key, &a.name, lease.attempt);
            assert_eq!(completion, Completion::Completed);
            done += 1;
        }
        black_box(board.take_decisions());
    }
    (tasks as f64 / started.elapsed().as_secs_f64(), latencies)
}

/// The planner's direct assignment: every open task to the least-loaded
/// agent, nearest among equals; then each agent finishes what it got.
fn direct_run(tasks: usize, agents: &[Agent]) -> f64 {
    let started = Instant::now();
    let mut load: BTreeMap<&str, usize> = agents.iter().map(|a| (a.name.as_str(), 0)).collect();
    let mut open: Vec<(usize, Cell)> = (0..tasks)
        .map(|i| (i, Cell::new((i % 24) as i32, (i % 12) as i32)))
        .collect();
    let mut done = 0;
    while done < tasks {
        // One assignment round: each agent takes at most one more task.
        let batch: Vec<(usize, Cell)> = open.drain(..open.len().min(AGENTS)).collect();
        let mut given = Vec::with_capacity(batch.len());
        for (task, start) in batch {
            let best = agents
                .iter()
                .min_by_key(|a| (load[a.name.as_str()], a.at.distance(start), &a.name))
                .expect("agents");
            *load.get_mut(best.name.as_str()).expect("known") += 1;
            given.push((task, best.name.as_str()));
        }
        for (_, agent) in black_box(given) {
            *load.get_mut(agent).expect("known") -= 1;
            done += 1;
        }
    }
    tasks as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let tasks: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let agents = agents();
    let (mut fifo, mut srpt, mut direct, mut p50, mut p99) =
        (vec![], vec![], vec![], vec![], vec![]);
    for run in 1..=RUNS {
        let (fifo_per_s, mut latencies) = board_run(Admission::Fifo, tasks, &agents);
        let (srpt_per_s, _) = board_run(Admission::Srpt, tasks, &agents);
        let direct_per_s = direct_run(tasks, &agents);
        latencies.sort_by(f64::total_cmp);
        let (l50, l99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
        println!(
            "run {run}: board fifo {fifo_per_s:.0} tasks/s, srpt {srpt_per_s:.0} tasks/s, direct assignment {direct_per_s:.0} tasks/s; claim p50 {l50:.1} µs p99 {l99:.1} µs"
        );
        fifo.push(fifo_per_s);
        srpt.push(srpt_per_s);
        direct.push(direct_per_s);
        p50.push(l50);
        p99.push(l99);
    }
    let (fifo, srpt, direct) = (median(fifo), median(srpt), median(direct));
    println!(
        "summary: agents={AGENTS} tasks={tasks} board_fifo_per_s={fifo:.0} board_srpt_per_s={srpt:.0} direct_per_s={direct:.0} board_ratio={:.2} claim_p50_us={:.1} claim_p99_us={:.1}",
        fifo / direct,
        median(p50),
        median(p99)
    );
}
