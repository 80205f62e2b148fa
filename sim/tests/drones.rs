//! The second domain in the deterministic simulator, with faults: four
//! drones (swarmd-drones, built on the public domain API alone) survey an
//! area and make two deliveries whose paths cross, while one of the edges
//! they fly from crashes and comes back. Every mission completes, no two
//! airframes ever touch, and every checker passes. Two drones flying head
//! on pass each other; built broken (`bug-no-separation`: no separation
//! rule, no steering around), they collide, and the sky says so:
//!
//! ```text
//! cargo test -p swarmd-sim --features bug-no-separation --test drones
//! ```

// Built broken, only the broken build's test runs: the others' imports rest.
#![cfg_attr(feature = "bug-no-separation", allow(unused_imports, dead_code))]

use std::time::Duration;

use swarmd_drones::{Area, CONTACT_M, Drones, Point, SEPARATION_M, Sky};
use swarmd_messages::swarm::Goal;
use swarmd_messages::task::TaskSpec;
use swarmd_messages::{DomainAct, EventKind, MissionChange, MissionOutcome, SpawnSpec};
use swarmd_sim::driver::Fault;

/// A 200 m square.
fn airspace() -> Area {
    Area {
        min: Point(0.0, 0.0),
        max: Point(200.0, 200.0),
    }
}

fn drone(id: &str, home: Point) -> SpawnSpec {
    let mut spec = SpawnSpec::new(id, "drone", "default");
    spec.params
        .insert("home".into(), format!("{},{}", home.0, home.1));
    spec
}

#[cfg(not(feature = "bug-no-separation"))]
#[test]
fn drones_survey_and_deliver_through_an_edge_crash_without_touching() {
    swarmd_sim::check(1..=2, |mut sim| async move {
        let sky = Sky::default();
        sim.domain(Drones::new(airspace(), sky.clone()));
        sim.cloud("cloud").await.unwrap();
        sim.edge("edge-1", 0).await.unwrap();
        sim.edge("edge-2", 0).await.unwrap();
        let homes = [(20.0, 2.0), (60.0, 2.0), (140.0, 2.0), (180.0, 2.0)];
        for (i, (x, y)) in homes.iter().enumerate() {
            let spec = drone(&format!("d{i}"), Point(*x, *y));
            sim.supervise_spec(spec).await.unwrap();
        }
        let secs = Duration::from_secs;
        sim.run_for(secs(5)).await.unwrap();
        let survey = r#"{"area": {"min": [30, 60], "max": [170, 140]}, "spacing": 20}"#;
        let crossing = [r#"{"to": [150, 100]}"#, r#"{"to": [50, 100]}"#];
        let mut missions = vec![
            sim.mission(task("survey", survey), "default")
                .await
                .unwrap(),
        ];
        for to in crossing {
            missions.push(sim.mission(task("deliver", to), "default").await.unwrap());
        }
        sim.at(secs(30), Fault::Crash("edge-1".into()));
        sim.at(secs(36), Fault::Restart("edge-1".into()));
        sim.run_for(secs(20)).await.unwrap();
        // A gust no flight could make: d1's model sees it, and re-plans.
        sky.gust("d1", Point(0.0, 12.0));
        sim.run_for(secs(160)).await.unwrap();
        sim.drain(secs(20)).await.unwrap();

        assert_eq!(sky.contacts(), [], "no two airframes within {CONTACT_M} m");
        let closest = sky.closest().expect("drones flew");
        println!("closest approach {closest:.2} m (separation {SEPARATION_M} m)");
        let verdict = sim.verdict().await;
        let ledger = verdict.ledger("cloud").expect("the cloud's disk");
        let log = ledger.node_log("cloud", 0, 10_000_000).unwrap();
        for id in &missions {
            let completed = log.iter().any(|e| {
                matches!(&e.kind, EventKind::Mission { mission, change: MissionChange::Ended(MissionOutcome::Completed), .. } if mission == id)
            });
            let story: Vec<String> = log
                .iter()
                .filter(|e| matches!(&e.kind, EventKind::Mission { mission, .. } | EventKind::Task { mission, .. } if mission == id))
                .map(|e| format!("{:?}", e.kind))
                .collect();
            assert!(completed, "mission {id} completed: {story:#?}");
        }
        let violations = ["edge-1", "edge-2"].iter().flat_map(|node| {
            let ledger = verdict.ledger(node).expect("the edge's disk");
            ledger.node_log(node, 0, 10_000_000).unwrap()
        });
        let gust_seen = violations.filter(|e| e.agent.as_deref() == Some("d1")).any(|e| {
            matches!(&e.kind, EventKind::Domain { act: DomainAct::Violation { why }, .. } if why.starts_with("moved"))
        });
        assert!(gust_seen, "d1's world model caught the gust");
        verdict.assert_passed();
    });
}

fn task(kind: &str, payload: &str) -> Goal {
    Goal::Task(TaskSpec::new(kind, payload))
}

/// Two drones whose deliveries put them head on along one line: `d0` from
/// x = 40 to x = 160, `d1` the other way.
async fn head_on(sim: &mut swarmd_sim::driver::Sim, sky: &Sky) -> Vec<swarmd_drones::Contact> {
    sim.domain(Drones::new(airspace(), sky.clone()));
    sim.cloud("cloud").await.unwrap();
    sim.edge("edge-1", 0).await.unwrap();
    for (id, home) in [("d0", Point(40.0, 50.0)), ("d1", Point(160.0, 50.0))] {
        sim.supervise_spec(drone(id, home)).await.unwrap();
    }
    sim.run_for(Duration::from_secs(5)).await.unwrap();
    // Posted in this order, claimed first by d0 then d1 (least loaded, then by name).
    for to in [160, 40] {
        let spec = TaskSpec::new("deliver", format!(r#"{{"to": [{to}, 50]}}"#));
        sim.mission(Goal::Task(spec), "default").await.unwrap();
    }
    let mut passed = false;
    for _ in 0..40 {
        sim.run_for(Duration::from_secs(1)).await.unwrap();
        let (d0, d1) = (sky.position("d0"), sky.position("d1"));
        passed |= d0
            .zip(d1)
            .is_some_and(|(d0, d1)| d0.0 > d1.0 + SEPARATION_M);
    }
    assert!(passed, "the two drones flew past each other");
    sky.contacts()
}

#[cfg(not(feature = "bug-no-separation"))]
#[test]
fn two_drones_head_on_pass_each_other() {
    swarmd_sim::check(1..=2, |mut sim| async move {
        let sky = Sky::default();
        assert_eq!(head_on(&mut sim, &sky).await, []);
        sim.verdict().await.assert_passed();
    });
}

#[cfg(feature = "bug-no-separation")]
#[test]
fn the_sky_catches_drones_that_keep_no_separation() {
    swarmd_sim::check(1..=1, |mut sim| async move {
        let sky = Sky::default();
        let contacts = head_on(&mut sim, &sky).await;
        assert!(!contacts.is_empty(), "the broken drones collided");
        println!("caught: {contacts:?}");
    });
}
