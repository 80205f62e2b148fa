//! The demo swarm on one simulated node: the mission planner keeps four
//! agents busy on the default floor; missions complete, and no two agents
//! ever share a cell.

mod common;

use std::time::Duration;

use common::{Floor, TENANT, call, eventually, reflex, supervision};
use swarmd_actors::missions::{Mission, MissionState, PlannerArgs, PlannerMsg, planner_child};
use swarmd_supervisor::{ActorSlot, start_child};
use swarmd_warehouse::world::{GridConfig, floor_plan};

async fn missions(slot: &ActorSlot<PlannerMsg>) -> Vec<Mission> {
    let planner = slot.get().expect("planner runs");
    call(&planner, PlannerMsg::Missions).await
}

#[tokio::test(start_paused = true)]
async fn the_demo_swarm_completes_missions() {
    // Each seed is another floor start, another mission sequence.
    for seed in 31..37 {
        demo_swarm(seed).await;
    }
}

async fn demo_swarm(seed: u64) {
    let floor = Floor::open(seed, 16).await;
    let planner = ActorSlot::new();
    let args = PlannerArgs {
        ctx: floor.ctx.clone(),
        router: floor.router.clone(),
        tenant: TENANT.into(),
        plan: Some(floor_plan(&GridConfig::default())),
        agent_timeout: Duration::from_secs(5),
        demo: true,
        continuous: false,
        workload: None,
        recipe: None,
        board: Default::default(),
        tasks_per_agent: 2,
        lease: None,
        task_kinds: Default::default(),
    };
    start_child(
        &floor.root,
        planner_child(args, &floor.directory, planner.clone()),
    )
    .await
    .unwrap();
    let mut agents = Vec::new();
    for n in 1..=4 {
        agents.push(floor.spawn(&format!("demo-{n}"), &[]).await.0);
    }

    let completed = eventually("three missions completed", || async {
        let world = floor.world().await;
        let mut cells: Vec<_> = world.agents.iter().map(|(_, c)| *c).collect();
        cells.sort();
        cells.dedup();
        assert_eq!(cells.len(), world.agents.len(), "two agents in one cell");
        let all = missions(&planner).await;
        let done = all
            .iter()
            .filter(|m| m.state == MissionState::Completed)
            .count();
        (done >= 3).then_some(all)
    })
    .await;
    for m in &completed {
        if let MissionState::Failed(why) = &m.state {
            assert!(!why.is_empty(), "a failed mission says why: {m:?}");
        }
    }
    for w in &agents {
        assert!(reflex(w).await.ticks > 0);
        assert!(supervision(w).await.generation > 0);
    }
    floor.root.stop_and_wait(None, None).await.unwrap();
}
