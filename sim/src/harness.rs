//! Simulation tests of your own, with the guarantee `swarm-sim` gives: one
//! seed, one trace. [`check`] runs each seed in a process of its own (the
//! test binary again, filtered to the calling test), on a paused runtime
//! with the determinism [`shims`](crate::shims) installed; a failing seed
//! prints its violations and the command that re-runs it alone with the
//! full trace.
//!
//! ```no_run
//! use std::time::Duration;
//! use swarmd_sim::driver::Fault;
//!
//! #[test]
//! fn edges_keep_their_events_through_a_partition() {
//!     swarmd_sim::check(1..=4, |mut sim| async move {
//!         sim.cloud("cloud").await.unwrap();
//!         sim.edge("edge-1", 2).await.unwrap();
//!         sim.at(Duration::from_secs(5), Fault::Partition("cloud".into(), "edge-1".into()));
//!         sim.at(Duration::from_secs(20), Fault::Heal("cloud".into(), "edge-1".into()));
//!         sim.run_for(Duration::from_secs(30)).await.unwrap();
//!         sim.drain(Duration::from_secs(40)).await.unwrap();
//!         sim.verdict().await.assert_passed();
//!     });
//! }
//! ```
//!
//! The test's build script must export the shims (see [`crate::shims`]):
//! `println!("cargo:rustc-link-arg-tests=-Wl,--export-dynamic-symbol=getrandom");`

use std::future::Future;
use std::process::{Command, Output};

use crate::driver::Sim;
use crate::net::NetFaults;
use crate::process::{RUN_LIMIT, wait_with_limit};

/// Set in a seed's own process: the seed it runs.
pub const SEED_VAR: &str = "SWARMD_SIM_SEED";
/// Set to a file name: the seed's process writes its full trace there.
pub const TRACE_VAR: &str = "SWARMD_SIM_TRACE";
/// What a seed's process prints once its body returned.
const DONE: &str = "swarmd-sim seed done:";
/// Seeds run at once.
const JOBS: usize = 2;

/// Runs `body` once per seed, each in its own process of this test binary;
/// panics naming every failing seed. Call it from a `#[test]` function.
pub fn check<S, F, Fut>(seeds: S, body: F)
where
    S: IntoIterator<Item = u64>,
    F: FnOnce(Sim) -> Fut,
    Fut: Future<Output = ()>,
{
    let test = test_name();
    if let Ok(seed) = std::env::var(SEED_VAR) {
        let seed = seed
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_VAR}={seed:?} is not a seed"));
        return run_seed(seed, body);
    }
    let seeds: Vec<u64> = seeds.into_iter().collect();
    assert!(
        !seeds.is_empty(),
        "a simulation test needs at least one seed"
    );
    let mut failed = Vec::new();
    for batch in seeds.chunks(JOBS) {
        let runs: Vec<_> = batch
            .iter()
            .map(|seed| (*seed, spawn(&test, *seed)))
            .collect();
        for (seed, run) in runs {
            let (out, killed) = wait_with_limit(run, RUN_LIMIT);
            let why = match killed {
                true => Some(format!("still running after {RUN_LIMIT:?}: killed")),
                false => failure(&out),
            };
            if let Some(why) = why {
                failed.push(report(&test, seed, &why, &out));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} seeds failed:\n{}",
        failed.len(),
        seeds.len(),
        failed.join("\n")
    );
}

/// libtest runs each test on a thread named after it.
fn test_name() -> String {
    let thread = std::thread::current();
    match thread.name() {
        Some(name) if name != "main" => name.to_string(),
        _ => panic!("swarmd_sim::check must be called from a #[test] function's own thread"),
    }
}

fn run_seed<F, Fut>(seed: u64, body: F)
where
    F: FnOnce(Sim) -> Fut,
    Fut: Future<Output = ()>,
{
    let trace_to = std::env::var(TRACE_VAR).ok();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        crate::shims::install(seed);
        let sim = Sim::new(seed, NetFaults::default(), trace_to.is_some()).reporting(trace_to);
        body(sim).await;
    });
    println!("{DONE} {seed}");
}

fn spawn(test: &str, seed: u64) -> std::process::Child {
    let me = std::env::current_exe().expect("the test binary's path");
    Command::new(me)
        .args([test, "--exact", "--include-ignored", "--nocapture"])
        .args(["--test-threads=1"])
        .env(SEED_VAR, seed.to_string())
        // The panic's message, not a backtrace through the runtime.
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test binary starts again for a seed")
}

/// Why a seed's run failed, if it did: a filter that matched no test is a
/// failure too, never a pass.
fn failure(out: &Output) -> Option<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Some(format!("exit {}", out.status));
    }
    (!stdout.contains(DONE)).then(|| "the seed's process did not run the test".to_string())
}

fn report(test: &str, seed: u64, why: &str, out: &Output) -> String {
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
        .map(|stem| {
            stem.rsplit_once('-')
                .map_or(stem.clone(), |(name, _)| name.to_string())
        })
        .unwrap_or_default();
    format!(
        "seed {seed}: {why}\n{}\n{}\n  re-run it alone with the full trace:\n    \
         {SEED_VAR}={seed} {TRACE_VAR}=trace-{seed}.txt cargo test --test {binary} -- {test} --exact --include-ignored --nocapture",
        tail(&out.stdout),
        tail(&out.stderr)
    )
}
