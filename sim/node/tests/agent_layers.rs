//! The three layers of a grid agent against the real grid world, in virtual
//! time: the dead-man's switch, re-planning on a consistency violation,
//! safety over the mission, going around peers, and a planner crash that the reflex survives.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Floor, assign, decisions, eventually, reflex, signals, supervision};
use swarmd_actors::sandbox::{GuestIntent, PlanInput};
use swarmd_messages::swarm::Cell;
use swarmd_supervisor::{ChildSpec, start_child, which_children};
use swarmd_warehouse::agent::planning::{Planner, RoutePlanner};
use swarmd_warehouse::agent::{Action, AgentWiring, Reflex, ReflexMsg};

const HALTED_BY_DEADMAN: &str = "Deadman";

#[tokio::test(start_paused = true)]
async fn the_deadmans_switch_holds_a_stale_action_and_lets_a_fresh_one_go() {
    let floor = Floor::open(1, 8).await;
    // Moves only every 100 ticks; the switch trips after 20 without news.
    let params = [
        ("start", "2,0"),
        ("deadman_ticks", "20"),
        ("move_every_ticks", "100"),
    ];
    let w = reflex_only(&floor, "solo", &params).await;
    eventually("the reflex entered the world", || async {
        reflex(&w).await.position.filter(|p| *p == Cell::new(2, 0))
    })
    .await;

    // Right after a move slot, so the switch trips long before the next one.
    eventually("just past a move slot", || async {
        (5..40)
            .contains(&(reflex(&w).await.ticks % 100))
            .then_some(())
    })
    .await;
    let r = w.reflex.get().unwrap();
    let step_east = ReflexMsg::Act(Action {
        generation: 1,
        step_to: Some(Cell::new(3, 0)),
    });
    r.cast(step_east).unwrap();
    eventually("the switch tripped", || async {
        (reflex(&w).await.halted.as_deref() == Some(HALTED_BY_DEADMAN)).then_some(())
    })
    .await;
    // Three move slots pass: the stale action must not move the agent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = reflex(&w).await;
    assert_eq!(
        held.position,
        Some(Cell::new(2, 0)),
        "a stale action moved the agent"
    );
    assert_eq!(held.halted.as_deref(), Some(HALTED_BY_DEADMAN));

    // A fresh stream of actions releases it and the step is taken.
    let feeder = feed(&w, Cell::new(3, 0));
    eventually("a fresh action moved the agent", || async {
        let v = reflex(&w).await;
        (v.position == Some(Cell::new(3, 0)) && v.halted.is_none()).then_some(())
    })
    .await;
    feeder.abort();
    let changes = state_changes(&floor, "solo");
    assert!(
        changes
            .iter()
            .any(|d| d.contains("safe state (no fresh action)")),
        "the safe state is recorded: {changes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hazard_on_the_way_is_a_violation_that_triggers_a_replan() {
    let floor = Floor::open(2, 8).await;
    let (w, _) = floor.spawn("scout", &[("start", "2,0")]).await;
    eventually("welcomed", || async { reflex(&w).await.position }).await;
    let goal = Cell::new(14, 0);
    assign(&w, 1, vec![goal]);
    let here = eventually("under way", || async {
        reflex(&w).await.position.filter(|p| p.x >= 4)
    })
    .await;
    assert_eq!(supervision(&w).await.replans, 0);
    assert!(
        floor.place_hazard(Cell::new(here.x + 4, 0)).await,
        "hazard placed ahead"
    );

    eventually("a re-plan", || async {
        (supervision(&w).await.replans >= 1).then_some(())
    })
    .await;
    let events = floor.events_of("scout");
    let violations = signals(&events, "consistency_violation");
    assert!(
        violations.iter().any(|d| d.contains("observed a hazard")),
        "the violation says what was expected and observed: {violations:?}"
    );
    assert!(
        decisions(&events)
            .iter()
            .any(|d| d.starts_with("re-plan after a consistency violation")),
        "the re-plan is recorded with its rationale"
    );
    // The new plan goes around the hazard and the task still gets done.
    eventually("the task is done", || async {
        supervision(&w).await.current.is_none().then_some(())
    })
    .await;
    assert_eq!(reflex(&w).await.position, Some(goal));
    assert_eq!(
        floor.world().await.refused_moves,
        0,
        "the agent never walked into the hazard"
    );
}

#[tokio::test(start_paused = true)]
async fn the_geofence_wins_over_the_mission() {
    let floor = Floor::open(3, 8).await;
    let params = [("start", "2,0"), ("geofence", "0,0,5,1")];
    let (w, _) = floor.spawn("fenced", &params).await;
    eventually("welcomed", || async { reflex(&w).await.position }).await;
    assign(&w, 1, vec![Cell::new(10, 0)]);
    eventually("a geofence stop", || async {
        (reflex(&w).await.safety_stops >= 1).then_some(())
    })
    .await;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let at = reflex(&w).await.position.unwrap();
        assert!(at.x <= 5 && at.y <= 1, "left the geofence: {at}");
    }
    let decided = decisions_of(&floor, "fenced");
    assert!(
        decided.iter().any(|d| d.starts_with("geofence stop")),
        "{decided:?}"
    );
    assert_eq!(
        floor.world().await.refused_moves,
        0,
        "the reflex stopped before the world had to"
    );
}

#[tokio::test(start_paused = true)]
async fn the_collision_stop_refuses_a_step_onto_a_peer() {
    let floor = Floor::open(4, 8).await;
    let (parked, _) = floor.spawn("parked", &[("start", "6,0")]).await;
    let w = reflex_only(&floor, "pushy", &[("start", "5,0")]).await;
    eventually("both welcomed", || async {
        let p = reflex(&parked).await.position;
        (p == Some(Cell::new(6, 0)) && reflex(&w).await.position.is_some()).then_some(())
    })
    .await;
    // From above, an action that says: step onto the peer.
    let feeder = feed(&w, Cell::new(6, 0));
    eventually("a collision stop", || async {
        (reflex(&w).await.safety_stops >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    feeder.abort();
    assert_eq!(reflex(&w).await.position, Some(Cell::new(5, 0)));
    assert_eq!(
        floor.world().await.refused_moves,
        0,
        "the reflex stopped before the world had to"
    );
    let decided = decisions_of(&floor, "pushy");
    assert!(
        decided.iter().any(|d| d.starts_with("collision stop")),
        "{decided:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_mission_through_a_parked_peer_goes_around_it() {
    let floor = Floor::open(6, 8).await;
    let (parked, _) = floor.spawn("parked", &[("start", "6,0")]).await;
    let (mover, _) = floor.spawn("mover", &[("start", "2,0")]).await;
    eventually("both welcomed", || async {
        let both =
            reflex(&parked).await.position.is_some() && reflex(&mover).await.position.is_some();
        both.then_some(())
    })
    .await;
    // The shortest way runs through the parked agent's cell.
    let goal = Cell::new(10, 0);
    assign(&mover, 1, vec![goal]);
    eventually("the mover is at its goal", || async {
        let world = floor.world().await;
        let cells: Vec<Cell> = world.agents.iter().map(|(_, c)| *c).collect();
        assert_eq!(cells.len(), 2);
        assert_ne!(cells[0], cells[1], "two agents in one cell");
        assert_eq!(
            world.refused_moves, 0,
            "no move needed the world to refuse it"
        );
        (reflex(&mover).await.position == Some(goal)).then_some(())
    })
    .await;
    assert_eq!(reflex(&parked).await.position, Some(Cell::new(6, 0)));
}

#[tokio::test(start_paused = true)]
async fn a_step_not_next_to_the_agent_is_never_asked_of_the_world() {
    let floor = Floor::open(4, 8).await;
    let w = reflex_only(&floor, "stale", &[("start", "5,0")]).await;
    eventually("welcomed", || async { reflex(&w).await.position }).await;
    // Planned from a cell the agent has since left: two cells away.
    let feeder = feed(&w, Cell::new(7, 0));
    let ticks = reflex(&w).await.ticks;
    eventually("two seconds of reflex ticks", || async {
        (reflex(&w).await.ticks >= ticks + 200).then_some(())
    })
    .await;
    feeder.abort();
    assert_eq!(reflex(&w).await.position, Some(Cell::new(5, 0)));
    assert_eq!(
        floor.world().await.refused_moves,
        0,
        "no stale step reached the world"
    );
    // A step next to it goes.
    let feeder = feed(&w, Cell::new(6, 0));
    eventually("the next step taken", || async {
        (reflex(&w).await.position == Some(Cell::new(6, 0))).then_some(())
    })
    .await;
    feeder.abort();
}

/// Only the reflex of agent `id`: nothing above it sends actions unless the test does.
async fn reflex_only(floor: &Floor, id: &str, params: &[(&str, &str)]) -> AgentWiring {
    let (prepared, w) = floor
        .kind()
        .prepare_agent(&spec(id, params), &floor.ctx)
        .unwrap();
    assert!(floor.directory.register(id, prepared.endpoint));
    let child =
        ChildSpec::for_actor_in(format!("{id}-reflex"), Reflex, w.clone(), w.reflex.clone());
    start_child(&floor.agents, child).await.unwrap();
    w
}

/// Sends a fresh "step to `to`" every 50 ms, as Situation would.
fn feed(w: &AgentWiring, to: Cell) -> tokio::task::JoinHandle<()> {
    let r = w.reflex.get().unwrap();
    tokio::spawn(async move {
        let mut generation = 1;
        loop {
            let act = ReflexMsg::Act(Action {
                generation,
                step_to: Some(to),
            });
            if r.cast(act).is_err() {
                return;
            }
            generation += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// Panics on the next `n` plans, then plans like the built-in planner.
struct PanickingPlanner(AtomicU32);

impl Planner for PanickingPlanner {
    fn plan(&self, input: &PlanInput) -> GuestIntent {
        let left = self.0.load(Ordering::SeqCst);
        if left > 0 {
            self.0.store(left - 1, Ordering::SeqCst);
            panic!("planner bug (injected)");
        }
        RoutePlanner.plan(input)
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_planner_restarts_only_supervision_and_the_reflex_keeps_ticking() {
    let floor = Floor::open(5, 8).await;
    let planner = Arc::new(PanickingPlanner(AtomicU32::new(0)));
    let kind = floor.kind().planner(planner.clone());
    let (w, agent) = floor
        .spawn_with(&kind, "brittle", &[("start", "2,0")])
        .await;
    eventually("welcomed", || async { reflex(&w).await.position }).await;
    let ids = |w: &swarmd_warehouse::agent::AgentWiring| {
        (
            w.reflex.get().unwrap().get_id(),
            w.situation.get().unwrap().get_id(),
            w.supervision.get().unwrap().get_id(),
        )
    };
    let before = ids(&w);
    let ticks_before = reflex(&w).await.ticks;

    planner.0.store(1, Ordering::SeqCst);
    assign(&w, 1, vec![Cell::new(8, 0)]);
    eventually("supervision restarted", || async {
        w.supervision
            .get()
            .filter(|s| s.get_id() != before.2)
            .map(|_| ())
    })
    .await;
    let after = ids(&w);
    assert_eq!(after.0, before.0, "the reflex was not restarted");
    assert_eq!(after.1, before.1, "situation was not restarted");
    let restarts: Vec<(String, u32)> = which_children(&agent)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.id, c.restarts))
        .collect();
    assert_eq!(
        restarts,
        vec![
            ("reflex".into(), 0),
            ("situation".into(), 0),
            ("supervision".into(), 1)
        ]
    );
    eventually("the reflex kept ticking", || async {
        (reflex(&w).await.ticks > ticks_before + 100).then_some(())
    })
    .await;
}

fn spec(id: &str, params: &[(&str, &str)]) -> swarmd_messages::SpawnSpec {
    let mut spec = swarmd_messages::SpawnSpec::new(id, "grid", common::TENANT);
    for (k, v) in params {
        spec.params.insert(k.to_string(), v.to_string());
    }
    spec
}

fn decisions_of(floor: &Floor, agent: &str) -> Vec<String> {
    let events = floor.events_of(agent);
    decisions(&events).into_iter().map(str::to_string).collect()
}

fn state_changes(floor: &Floor, agent: &str) -> Vec<String> {
    floor
        .events_of(agent)
        .into_iter()
        .filter_map(|e| match e.kind {
            swarmd_messages::EventKind::StateChange { diff, .. } => Some(diff),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_restarted_situation_still_knows_the_floor_and_the_task_gets_done() {
    let floor = Floor::open(7, 8).await;
    let (w, _) = floor.spawn("phoenix", &[("start", "2,0")]).await;
    eventually("welcomed", || async { reflex(&w).await.position }).await;
    let reflex_before = w.reflex.get().unwrap().get_id();
    let situation_before = w.situation.get().unwrap().get_id();
    let supervision_before = w.supervision.get().unwrap().get_id();
    // Killed, as a panic would: Situation and Supervision restart, the reflex
    // does not, so no new welcome from the world comes.
    w.situation.get().unwrap().kill();
    eventually("situation restarted", || async {
        w.situation
            .get()
            .filter(|s| s.get_id() != situation_before)
            .map(|_| ())
    })
    .await;
    assert_eq!(w.reflex.get().unwrap().get_id(), reflex_before);
    eventually("supervision restarted too", || async {
        let s = w.supervision.get()?;
        (s.get_id() != supervision_before && s.get_status() == ractor::ActorStatus::Running)
            .then_some(())
    })
    .await;
    assign(&w, 1, vec![Cell::new(9, 0)]);
    eventually("the task is done", || async {
        let done = reflex(&w).await.position == Some(Cell::new(9, 0));
        (done && supervision(&w).await.current.is_none()).then_some(())
    })
    .await;
}
