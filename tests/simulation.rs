//! A simulation test of our own, written against swarmd-sim's public API
//! only (README, "Writing a simulation test"): a cloud and two edges, a
//! mission, a partition of one edge and a crash of the other, then the
//! invariant checkers and a question of our own to what the disks kept.

use std::process::Command;
use std::time::Duration;

use swarmd_messages::swarm::{Cell, Goal, Rect};
use swarmd_messages::{EventKind, MissionChange};
use swarmd_sim::driver::Fault;

const TEST: &str = "an_edge_cut_off_and_one_crashed_lose_nothing_and_finish_the_mission";

#[test]
fn an_edge_cut_off_and_one_crashed_lose_nothing_and_finish_the_mission() {
    swarmd_sim::check(1..=3, |mut sim| async move {
        sim.cloud("cloud").await.unwrap();
        sim.edge("edge-1", 2).await.unwrap();
        sim.edge("edge-2", 2).await.unwrap();
        let sector = Rect {
            min: Cell::new(0, 0),
            max: Cell::new(5, 5),
        };
        let mission = sim
            .mission(Goal::CoverSector { sector }, "default")
            .await
            .unwrap();
        let (cloud, edge_1, edge_2) = (
            "cloud".to_string(),
            "edge-1".to_string(),
            "edge-2".to_string(),
        );
        let secs = Duration::from_secs;
        sim.at(secs(5), Fault::Partition(cloud.clone(), edge_1.clone()));
        sim.at(secs(15), Fault::Heal(cloud, edge_1));
        sim.at(secs(8), Fault::Crash(edge_2.clone()));
        sim.at(secs(12), Fault::Restart(edge_2));
        sim.run_for(secs(25)).await.unwrap();
        sim.drain(secs(40)).await.unwrap();

        let verdict = sim.verdict().await;
        verdict.assert_passed();
        assert!(
            verdict.tally.appends_verified > 100,
            "{}",
            verdict.tally.line()
        );
        assert!(verdict.tally.stays > 0, "{}", verdict.tally.line());
        // Our own question: all that edge-1 recorded while cut off reached the hub.
        let during_cut = |events: Vec<swarmd_messages::Event>| {
            let epoch_us = swarmd_sim::SimClock::EPOCH_UNIX_SECS * 1_000_000;
            let cut = (epoch_us + 6_000_000)..(epoch_us + 14_000_000);
            events
                .into_iter()
                .filter(|e| cut.contains(&e.time_us))
                .count()
        };
        let hub = verdict.ledger("cloud").unwrap();
        let own = verdict.ledger("edge-1").unwrap();
        let recorded = during_cut(own.node_log("edge-1", 0, 100_000).unwrap());
        let forwarded = during_cut(hub.node_log("edge-1", 0, 100_000).unwrap());
        assert!(recorded > 0, "edge-1 recorded nothing while cut off");
        assert_eq!(
            forwarded, recorded,
            "edge-1's events from the cut at the hub"
        );
        let ended = hub.node_log("cloud", 0, 100_000).unwrap().into_iter().any(|e| {
            matches!(e.kind, EventKind::Mission { mission: m, change: MissionChange::Ended(_), .. } if m == mission)
        });
        assert!(ended, "mission {mission} never ended");
    });
}

/// One seed, one trace: the harness's seed process, run twice by hand.
#[test]
fn a_seed_run_twice_gives_the_same_trace() {
    let run = || {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(swarmd_sim::SEED_VAR, "7")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "seed 7 failed:\n{stdout}");
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix("trace="))
            .unwrap_or_else(|| panic!("no trace hash in:\n{stdout}"))
            .to_string()
    };
    assert_eq!(run(), run());
}

/// Run only by the test below: seed 2 fails on purpose.
#[test]
#[ignore = "fails on purpose; run by a_failing_seed_is_named_with_the_command_that_reruns_it"]
fn a_failing_seed() {
    swarmd_sim::check(1..=3, |sim| async move {
        assert_ne!(sim.seed(), 2, "seed 2 fails on purpose");
    });
}

#[test]
fn a_failing_seed_is_named_with_the_command_that_reruns_it() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_failing_seed",
            "--exact",
            "--include-ignored",
            "--nocapture",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the failing seed failed the test:\n{text}"
    );
    assert!(text.contains("1 of 3 seeds failed"), "{text}");
    assert!(text.contains("seed 2 fails on purpose"), "{text}");
    let rerun = "SWARMD_SIM_SEED=2 SWARMD_SIM_TRACE=trace-2.txt cargo test --test simulation -- a_failing_seed --exact --include-ignored --nocapture";
    assert!(text.contains(rerun), "{text}");
}
