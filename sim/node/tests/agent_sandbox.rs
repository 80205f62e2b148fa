//! The Wasm sandbox as an agent's child: a guest that misbehaves fails the
//! sandbox actor, the failure is recorded, the agent's supervisor restarts
//! it, and a guest that always fails makes the agent escalate.

mod common;

use std::time::Duration;

use common::{Floor, assign, eventually, reflex, signals};
use ractor::{ActorStatus, RpcReplyPort};
use swarmd_actors::sandbox::guests::{PLANNER, SPIN, TRAP};
use swarmd_actors::sandbox::{GuestIntent, PlanInput, SandboxMsg};
use swarmd_messages::swarm::Cell;
use swarmd_supervisor::which_children;
use swarmd_warehouse::agent::AgentWiring;

const SMALL_FUEL: &str = "200000";

fn input() -> PlanInput {
    PlanInput {
        x: 2,
        y: 0,
        goal: Some((6, 0)),
        blocked: false,
    }
}

async fn ask_sandbox(w: &AgentWiring) -> Option<GuestIntent> {
    let sandbox = w.sandbox.as_ref()?.get()?;
    let asked = sandbox
        .call(
            |r: RpcReplyPort<GuestIntent>| SandboxMsg::Plan(input(), r),
            Some(Duration::from_secs(5)),
        )
        .await
        .ok()?;
    asked.success_or(()).ok()
}

#[tokio::test(start_paused = true)]
async fn a_guest_planner_drives_the_agent() {
    let floor = Floor::open(21, 4).await;
    let params = [("start", "2,0"), ("sandbox_wat", PLANNER)];
    let (w, _) = floor.spawn("guest", &params).await;
    assert_eq!(ask_sandbox(&w).await, Some(GuestIntent::GoToGoal));
    eventually("welcomed", || async { reflex(&w).await.position }).await;
    assign(&w, 1, vec![Cell::new(6, 0)]);
    eventually("at the goal", || async {
        reflex(&w).await.position.filter(|p| *p == Cell::new(6, 0))
    })
    .await;
    let events = floor.events_of("guest");
    assert!(signals(&events, "sandbox_failed").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_spinning_guest_is_stopped_by_fuel_reported_and_restarted() {
    let floor = Floor::open(22, 4).await;
    let params = [
        ("start", "2,0"),
        ("sandbox_wat", SPIN),
        ("sandbox_fuel", SMALL_FUEL),
    ];
    let (w, agent) = floor.spawn("spinner", &params).await;
    let first = w.sandbox.as_ref().unwrap().get().unwrap().get_id();
    assert_eq!(
        ask_sandbox(&w).await,
        None,
        "an endless loop gives no answer"
    );

    let failures = eventually("the failure is in the ledger", || async {
        let events = floor.events_of("spinner");
        let failed: Vec<String> = signals(&events, "sandbox_failed")
            .into_iter()
            .map(str::to_string)
            .collect();
        (!failed.is_empty()).then_some(failed)
    })
    .await;
    assert!(failures[0].contains("out of fuel"), "{failures:?}");
    eventually("a new sandbox incarnation", || async {
        let now = w.sandbox.as_ref()?.get()?;
        (now.get_id() != first).then_some(())
    })
    .await;
    let children = which_children(&agent).await.unwrap();
    let restarts = |id: &str| children.iter().find(|c| c.id == id).unwrap().restarts;
    assert!(restarts("sandbox") >= 1);
    assert_eq!(
        (
            restarts("reflex"),
            restarts("situation"),
            restarts("supervision")
        ),
        (0, 0, 0),
        "a sandbox failure restarts nothing before it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_guest_that_always_traps_makes_the_agent_escalate() {
    let floor = Floor::open(23, 4).await;
    let params = [("start", "2,0"), ("sandbox_wat", TRAP)];
    let (w, agent) = floor.spawn("trapper", &params).await;
    // Every call traps; every trap restarts the sandbox, until the agent's
    // intensity (5 in 10 s) is spent and its supervisor gives up.
    eventually("the agent supervisor gave up", || async {
        let _ = ask_sandbox(&w).await;
        (agent.get_status() == ActorStatus::Stopped).then_some(())
    })
    .await;
    // Five restarts are allowed; the sixth failure is the one that escalates.
    let traps = eventually("each trap is recorded", || async {
        let events = floor.events_of("trapper");
        let traps: Vec<String> = signals(&events, "sandbox_failed")
            .into_iter()
            .map(str::to_string)
            .collect();
        (traps.len() >= 6).then_some(traps)
    })
    .await;
    assert!(traps.iter().all(|d| d.contains("trapped")), "{traps:?}");
    // The escalation reached the node's `agents` supervisor.
    eventually("agents saw the failure", || async {
        let children = which_children(&floor.agents).await.ok()?;
        children
            .into_iter()
            .find(|c| c.id == "trapper" && c.last_failure.is_some())
    })
    .await;
}
