//! The horizontal plane between agents, in virtual time: peers' states and
//! hazards over the (simulated) mesh, and right of way in a corridor.

mod common;

use common::{Floor, assign, decisions, eventually, reflex};
use swarmd_messages::Event;
use swarmd_messages::swarm::{Cell, FloorPlan, Layout};
use swarmd_warehouse::agent::AgentWiring;
use swarmd_warehouse::world::GridConfig;

/// Seeds of the head-on test: each a different history of the same meeting.
const HEAD_ON_SEEDS: u64 = 50;
const CROSS_NODE_SEEDS: u64 = 20;
/// Six cells each way at 10 moves a second, plus backing out of the way:
/// well under this, and far under the random re-planning it replaces.
const MEETING_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

fn hallway() -> GridConfig {
    GridConfig {
        layout: Layout::Hallway,
        ..GridConfig::default()
    }
}

/// The default hallway: a wall at x = 11..=13, pierced at y = 6. Agent `a`
/// starts west of the corridor, `b` east; each is sent to the other's side.
const WEST: Cell = Cell::new(9, 6);
const EAST: Cell = Cell::new(15, 6);

fn start(c: Cell) -> String {
    format!("{},{}", c.x, c.y)
}

#[tokio::test(start_paused = true)]
async fn two_agents_head_on_in_a_one_cell_corridor_both_get_through_in_every_seed() {
    let mut slowest = std::time::Duration::ZERO;
    for seed in 0..HEAD_ON_SEEDS {
        let floor = Floor::open_grid(seed, hallway(), 8).await;
        let kind = floor.kind();
        let (a, _) = floor
            .spawn_with(&kind, "a", &[("start", &start(WEST))])
            .await;
        let (b, _) = floor
            .spawn_with(&kind, "b", &[("start", &start(EAST))])
            .await;
        let took = cross(seed, &a, &b).await;
        slowest = slowest.max(took);
        settled_by_right_of_way(seed, &floor.events_of("a"), &floor.events_of("b"));
    }
    println!("{HEAD_ON_SEEDS} seeds: the slowest meeting took {slowest:?} of virtual time");
}

#[tokio::test(start_paused = true)]
async fn agents_on_two_nodes_settle_a_corridor_over_the_mesh_with_no_cloud() {
    for seed in 0..CROSS_NODE_SEEDS {
        // n1 hosts the world; neither runs a planner: there is no cloud.
        let (one, two) = Floor::pair(seed, hallway(), 8).await;
        let (a, _) = one.spawn("a", &[("start", &start(WEST))]).await;
        let (b, _) = two.spawn("b", &[("start", &start(EAST))]).await;
        cross(seed, &a, &b).await;
        // Each node's own ledger: each agent learnt of the other only over the mesh.
        settled_by_right_of_way(seed, &one.events_of("a"), &two.events_of("b"));
    }
}

/// Sends `a` east and `b` west through the corridor; both get through in
/// time. Returns how long it took.
async fn cross(seed: u64, a: &AgentWiring, b: &AgentWiring) -> std::time::Duration {
    welcomed(&[a, b]).await;
    assign(a, 1, vec![EAST]);
    assign(b, 2, vec![WEST]);
    let began = tokio::time::Instant::now();
    eventually(
        &format!("seed {seed}: both through the corridor"),
        || async {
            let at = (reflex(a).await.position, reflex(b).await.position);
            (at == (Some(EAST), Some(WEST))).then_some(())
        },
    )
    .await;
    let took = began.elapsed();
    assert!(took < MEETING_WITHIN, "seed {seed}: through in {took:?}");
    took
}

/// One went first and the other made way, both recorded it, and neither
/// had to re-plan.
fn settled_by_right_of_way(seed: u64, of_a: &[Event], of_b: &[Event]) {
    let said = |events: &[Event], what: &str| decisions(events).iter().any(|d| d.starts_with(what));
    let a_first = said(of_a, "right of way over b") && said(of_b, "yield to a");
    let b_first = said(of_b, "right of way over a") && said(of_a, "yield to b");
    assert!(
        a_first ^ b_first,
        "seed {seed}: one goes first, the other makes way, both recorded: a {:?}, b {:?}",
        decisions(of_a),
        decisions(of_b)
    );
    let replanned = |events: &[Event]| {
        let replans = decisions(events)
            .into_iter()
            .filter(|d| d.starts_with("re-plan"));
        replans.map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(replanned(of_a), Vec::<String>::new(), "seed {seed}: a");
    assert_eq!(replanned(of_b), Vec::<String>::new(), "seed {seed}: b");
}

#[tokio::test(start_paused = true)]
async fn a_hazard_one_agent_sees_changes_another_agents_path_before_it_sees_it() {
    let open_floor = FloorPlan {
        width: 24,
        height: 8,
        obstacles: vec![],
        docks: vec![Cell::new(0, 0)],
    };
    let grid = GridConfig {
        width: 24,
        height: 8,
        floor: Some(open_floor),
        ..GridConfig::default()
    };
    let floor = Floor::open_grid(1, grid, 8).await;
    let kind = floor.kind();
    let hazard = Cell::new(10, 3);
    let (watcher, _) = floor
        .spawn_with(&kind, "watcher", &[("start", "10,1")])
        .await;
    // Slow, so it is still far from the hazard when the news arrives.
    let slow = [("start", "0,3"), ("move_every_ticks", "30")];
    let (mover, _) = floor.spawn_with(&kind, "mover", &slow).await;
    welcomed(&[&watcher, &mover]).await;
    let board = kind.peer_link(&floor.ctx, common::TENANT);
    let mover_state = || {
        let near = board.peers_near("test", Cell::new(0, 0), 100);
        near.into_iter().find(|p| p.agent == "mover")
    };
    assign(&mover, 1, vec![Cell::new(20, 3)]);
    eventually("the mover means to go through the cell", || async {
        mover_state().filter(|s| s.intent.contains(&hazard))
    })
    .await;
    assert!(floor.place_hazard(hazard).await);
    let changed = eventually("the mover's way leaves the hazard out", || async {
        mover_state().filter(|s| !s.intent.is_empty() && !s.intent.contains(&hazard))
    })
    .await;
    let sense_radius = GridConfig::default().sense_radius;
    assert!(
        changed.at.distance(hazard) > sense_radius,
        "the mover re-planned at {} out of its own sight ({sense_radius} cells) of {hazard}",
        changed.at
    );
    assert!(board.hazards().contains(&hazard), "the watcher shared it");
}

async fn welcomed(agents: &[&AgentWiring]) {
    eventually("every agent welcomed", || async {
        for w in agents {
            reflex(w).await.position?;
        }
        Some(())
    })
    .await;
}
