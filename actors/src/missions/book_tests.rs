use super::*;
use swarmd_messages::swarm::Rect;

fn mission(states: &[TaskState]) -> Mission {
    let tasks = states
        .iter()
        .enumerate()
        .map(|(i, state)| Task {
            id: i as u32,
            waypoints: vec![Cell::new(1, 1)],
            work: None,
            needs: Vec::new(),
            cost: 1,
            state: state.clone(),
            attempts: 1,
        })
        .collect();
    let sector = Rect {
        min: Cell::new(0, 0),
        max: Cell::new(2, 2),
    };
    Mission {
        id: 7,
        trace_id: [7; 16],
        goal: Goal::CoverSector { sector },
        squad: "default".into(),
        tasks,
        state: MissionState::Active,
    }
}

fn assigned(agent: &str) -> TaskState {
    TaskState::Assigned {
        agent: agent.into(),
        missing: 0,
    }
}

#[test]
fn changes_name_every_task_transition_and_the_end() {
    let before = mission(&[TaskState::Open, assigned("a"), assigned("b"), assigned("c")]);
    let mut after = mission(&[
        assigned("d"),
        TaskState::Open,
        TaskState::Done,
        TaskState::Failed("blocked".into()),
    ]);
    after.state = MissionState::Failed("task 3: blocked".into());
    let agent = |a: &str| a.to_string();
    assert_eq!(
        changes(&before, &after),
        [
            Change::Task {
                task: 0,
                change: TaskChange::Assigned { agent: agent("d") }
            },
            Change::Task {
                task: 1,
                change: TaskChange::Released { agent: agent("a") }
            },
            Change::Task {
                task: 2,
                change: TaskChange::Ended(MissionOutcome::Completed)
            },
            Change::Task {
                task: 3,
                change: TaskChange::Ended(MissionOutcome::Failed {
                    reason: "blocked".into()
                })
            },
            Change::Ended(MissionOutcome::Failed {
                reason: "task 3: blocked".into()
            }),
        ]
    );
}

#[test]
fn a_huge_sector_from_the_wire_costs_a_bounded_split() {
    let sector = Rect {
        min: Cell::new(i32::MIN, i32::MIN),
        max: Cell::new(i32::MAX, i32::MAX),
    };
    let goal = Goal::CoverSector { sector };
    let kinds = TaskKinds::default();
    let tasks = split(&goal, None, 4, &kinds).unwrap();
    let points: usize = tasks.iter().map(|t| t.waypoints.len()).sum();
    let side = (MAX_SECTOR_SIDE as usize).div_ceil(COVER_STRIDE as usize);
    assert_eq!(points, side * side);
    let plan = FloorPlan {
        width: 24,
        height: 12,
        obstacles: vec![],
        docks: vec![],
    };
    let on_floor = split(&goal, Some(&plan), 4, &kinds).unwrap();
    assert!(
        on_floor
            .iter()
            .flat_map(|t| &t.waypoints)
            .all(|c| plan.bounds().contains(*c))
    );
    assert_eq!(
        Cell::new(i32::MIN, i32::MIN).distance(Cell::new(i32::MAX, i32::MAX)),
        u32::MAX
    );
}

#[test]
fn a_missed_status_is_no_change() {
    let before = mission(&[assigned("a")]);
    let after = mission(&[TaskState::Assigned {
        agent: "a".into(),
        missing: 1,
    }]);
    assert!(changes(&before, &after).is_empty());
}
