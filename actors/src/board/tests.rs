use super::*;

const S: u64 = 1_000_000;

fn config(admission: Admission) -> BoardConfig {
    BoardConfig {
        admission,
        capacity: 100,
        lease_us: 10 * S,
        max_attempts: 3,
        rate: RateConfig { per_s: 0, burst: 0 },
        breaker: BreakerConfig {
            failures: 2,
            cool_down_us: 5 * S,
        },
    }
}

fn posting(mission: u64, task: u32, tenant: &str, kind: &str, cost: u32) -> Posting {
    Posting {
        key: TaskKey { mission, task },
        partition: Partition {
            tenant: tenant.into(),
            squad: "sq".into(),
        },
        kind: kind.into(),
        cost,
        priority: 0,
        needs: Vec::new(),
    }
}

struct Agent {
    name: String,
    tenants: Vec<String>,
    caps: Vec<String>,
}

impl Agent {
    fn new(name: &str, tenants: &[&str]) -> Self {
        Self {
            name: name.into(),
            tenants: tenants.iter().map(|t| t.to_string()).collect(),
            caps: vec!["move".into()],
        }
    }

    fn claimant(&self) -> Claimant<'_> {
        Claimant {
            agent: &self.name,
            tenants: &self.tenants,
            squad: "sq",
            capabilities: &self.caps,
        }
    }
}

fn claim(board: &mut Board, who: &Agent, now_us: u64) -> Option<Lease> {
    board.claim(who.claimant(), now_us).ok()
}

#[test]
fn srpt_admits_short_tasks_before_long_ones_and_fifo_keeps_posting_order() {
    let costs = [9, 1, 5, 1, 3];
    for (admission, expected) in [
        (Admission::Srpt, [1, 3, 4, 2, 0]),
        (Admission::Fifo, [0, 1, 2, 3, 4]),
    ] {
        let mut board = Board::new(config(admission));
        for (i, cost) in costs.iter().enumerate() {
            board
                .post(posting(1, i as u32, "t", "cover", *cost))
                .unwrap();
        }
        let a = Agent::new("a", &["t"]);
        let order: Vec<u32> = (0..5)
            .map(|_| claim(&mut board, &a, 0).unwrap().key.task)
            .collect();
        assert_eq!(order, expected, "{admission:?}");
        let policies: Vec<&str> = board.take_decisions().iter().map(|d| d.policy).collect();
        assert_eq!(policies, [admission.name(); 5]);
    }
}

#[test]
fn a_tenant_flooding_the_board_does_not_starve_another() {
    let mut board = Board::new(config(Admission::Fifo));
    for i in 0..90 {
        board.post(posting(1, i, "flood", "cover", 1)).unwrap();
    }
    let pool = Agent::new("pool", &["flood", "quiet"]);
    for _ in 0..20 {
        claim(&mut board, &pool, 0).unwrap();
    }
    // The quiet tenant arrives late, behind 70 open tasks of the other.
    for i in 0..5 {
        board.post(posting(2, i, "quiet", "cover", 1)).unwrap();
    }
    let next: Vec<u64> = (0..10)
        .map(|_| claim(&mut board, &pool, 0).unwrap().key.mission)
        .collect();
    assert_eq!(
        next.iter().filter(|m| **m == 2).count(),
        5,
        "alternating shares: {next:?}"
    );
    let mut first_two = next[..2].to_vec();
    first_two.sort();
    assert_eq!(
        first_two,
        [1, 2],
        "the late tenant starts level, not with idle credit"
    );
    // One tenant's agent never takes another tenant's task.
    let other = Agent::new("other", &["elsewhere"]);
    assert_eq!(
        board.claim(other.claimant(), 0),
        Err(Refusal::NothingToClaim)
    );
}

#[test]
fn an_open_breaker_stops_dispatching_its_task_type_then_closes_after_a_good_probe() {
    let mut board = Board::new(config(Admission::Fifo));
    for i in 0..4 {
        board.post(posting(1, i, "t", "fetch", 1)).unwrap();
    }
    board.post(posting(2, 0, "t", "cover", 1)).unwrap();
    let a = Agent::new("a", &["t"]);
    for _ in 0..2 {
        let lease = claim(&mut board, &a, 0).unwrap();
        assert_eq!(
            board.fail(lease.key, "a", lease.attempt, "dropped it", 0),
            Some(Returned::Reopened)
        );
    }
    assert_eq!(board.breakers()["fetch"], Breaker::Open { until_us: 5 * S });
    let lease = claim(&mut board, &a, S).unwrap();
    assert_eq!(lease.key.mission, 2, "only the other type is dispatched");
    assert_eq!(board.claim(a.claimant(), S), Err(Refusal::NothingToClaim));
    // After the cool-down one probe goes, and only one.
    let probe = claim(&mut board, &a, 5 * S).unwrap();
    assert_eq!(probe.key.mission, 1);
    assert_eq!(
        board.claim(a.claimant(), 5 * S),
        Err(Refusal::NothingToClaim)
    );
    assert_eq!(
        board.complete(probe.key, "a", probe.attempt),
        Completion::Completed
    );
    assert_eq!(board.breakers()["fetch"], Breaker::Closed { failures: 0 });
    assert!(claim(&mut board, &a, 5 * S).is_some());
    let breaker_decisions: Vec<String> = board
        .take_decisions()
        .into_iter()
        .filter(|d| d.policy == "circuit_breaker")
        .map(|d| d.detail)
        .collect();
    assert_eq!(
        breaker_decisions,
        [
            "task type \"fetch\" opened",
            "task type \"fetch\" half-opened: one probe may go",
            "task type \"fetch\" closed"
        ]
    );
}

#[test]
fn an_expired_lease_returns_the_task_and_spent_attempts_go_to_the_dead_letter_queue() {
    let mut board = Board::new(config(Admission::Fifo));
    board.post(posting(1, 0, "t", "fetch", 1)).unwrap();
    let (a, b) = (Agent::new("a", &["t"]), Agent::new("b", &["t"]));
    let first = claim(&mut board, &a, 0).unwrap();
    assert_eq!(first.until_us, 10 * S);
    board.renew(first.key, "a", 5 * S);
    assert!(board.expire(14 * S).is_empty(), "renewed until 15 s");
    assert_eq!(
        board.expire(15 * S),
        [(first.key, "a".to_string(), Returned::Reopened)]
    );
    let second = claim(&mut board, &b, 15 * S).unwrap();
    assert_eq!(second.attempt, 2);
    assert_eq!(
        board.fail(first.key, "a", 1, "late", 16 * S),
        None,
        "a holds no lease any more"
    );
    assert_eq!(
        board.fail(second.key, "b", 2, "blocked", 16 * S),
        Some(Returned::Reopened)
    );
    let third = claim(&mut board, &a, 16 * S).unwrap();
    assert_eq!(
        board.fail(third.key, "a", 3, "blocked again", 17 * S),
        Some(Returned::DeadLettered)
    );
    let dead: Vec<&Entry> = board.dead_letters().collect();
    assert_eq!(dead.len(), 1);
    let reasons: Vec<&str> = dead[0].history.iter().map(|f| f.reason.as_str()).collect();
    assert_eq!(reasons, ["lease expired", "blocked", "blocked again"]);
    assert_eq!(
        board.claim(a.claimant(), 18 * S),
        Err(Refusal::NothingToClaim)
    );
    board.replay(first.key).unwrap();
    assert!(board.replay(first.key).is_err(), "replayed once");
    // Two failures in a row opened the fetch breaker until 22 s.
    assert_eq!(
        board.claim(b.claimant(), 19 * S),
        Err(Refusal::NothingToClaim)
    );
    let again = claim(&mut board, &b, 22 * S).unwrap();
    assert_eq!(again.attempt, 1, "fresh attempts");
    assert_eq!(board.complete(again.key, "b", 1), Completion::Completed);
}

#[test]
fn a_task_is_completed_once_whoever_reports_it_done() {
    let mut board = Board::new(config(Admission::Fifo));
    board.post(posting(1, 0, "t", "fetch", 1)).unwrap();
    let (a, b) = (Agent::new("a", &["t"]), Agent::new("b", &["t"]));
    let first = claim(&mut board, &a, 0).unwrap();
    board.expire(10 * S);
    let second = claim(&mut board, &b, 10 * S).unwrap();
    // The partitioned holder of the first lease did it after all.
    assert_eq!(board.complete(first.key, "a", 1), Completion::Completed);
    assert_eq!(board.complete(second.key, "b", 2), Completion::Duplicate);
    assert_eq!(
        board.complete(first.key, "a", 1),
        Completion::Repeat,
        "a status repeating the report"
    );
    assert_eq!(board.complete(first.key, "c", 1), Completion::Duplicate);
    board.post(posting(1, 0, "t", "fetch", 1)).unwrap();
    assert_eq!(
        board.claim(a.claimant(), 11 * S),
        Err(Refusal::NothingToClaim),
        "a done key is never posted again"
    );
    assert_eq!((board.stats().completed, board.stats().duplicates), (1, 2));
    board.post(posting(1, 1, "t", "fetch", 1)).unwrap();
    assert_eq!(
        board.complete(
            TaskKey {
                mission: 1,
                task: 1
            },
            "a",
            1
        ),
        Completion::NotHeld,
        "never granted"
    );
}

#[test]
fn a_full_partition_refuses_posts_with_overloaded_until_tasks_end() {
    let mut board = Board::new(BoardConfig {
        capacity: 2,
        ..config(Admission::Fifo)
    });
    board.post(posting(1, 0, "t", "cover", 1)).unwrap();
    board.post(posting(1, 1, "t", "cover", 1)).unwrap();
    board
        .post(posting(1, 1, "t", "cover", 1))
        .expect("a repeat is no new task");
    let refused = board.post(posting(1, 2, "t", "cover", 1)).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "board partition t/sq is full (2 live tasks)"
    );
    assert!(board.post(posting(1, 3, "t", "cover", 1)).is_err());
    board
        .post(posting(2, 0, "u", "cover", 1))
        .expect("another partition has room");
    let recorded = board.take_decisions();
    assert_eq!(
        recorded
            .iter()
            .filter(|d| d.policy == "backpressure")
            .count(),
        1,
        "recorded once: {recorded:?}"
    );
    let a = Agent::new("a", &["t"]);
    let lease = claim(&mut board, &a, 0).unwrap();
    assert!(
        board.post(posting(1, 2, "t", "cover", 1)).is_err(),
        "a leased task is live"
    );
    board.complete(lease.key, "a", 1);
    board.post(posting(1, 2, "t", "cover", 1)).unwrap();
    assert_eq!(board.stats().overloaded, 3);
}

#[test]
fn an_agent_over_its_claim_rate_waits_for_a_token() {
    let rate = RateConfig {
        per_s: 10,
        burst: 2,
    };
    let mut board = Board::new(BoardConfig {
        rate,
        ..config(Admission::Fifo)
    });
    for i in 0..10 {
        board.post(posting(1, i, "t", "cover", 1)).unwrap();
    }
    let (a, b) = (Agent::new("a", &["t"]), Agent::new("b", &["t"]));
    assert!(claim(&mut board, &a, 0).is_some());
    assert!(claim(&mut board, &a, 0).is_some());
    assert_eq!(
        board.claim(a.claimant(), 0),
        Err(Refusal::RateLimited {
            retry_in_us: 100_000
        })
    );
    assert!(claim(&mut board, &b, 0).is_some(), "limits are per agent");
    assert!(claim(&mut board, &a, 100_000).is_some());
    let limited = board
        .take_decisions()
        .into_iter()
        .filter(|d| d.policy == "rate_limit")
        .count();
    assert_eq!(limited, 1);
}

#[test]
fn a_claimant_gets_only_what_it_can_do() {
    let mut board = Board::new(config(Admission::Fifo));
    let mut lift = posting(1, 0, "t", "fetch", 1);
    lift.needs = vec!["carry".into()];
    board.post(lift).unwrap();
    let mut a = Agent::new("a", &["t"]);
    assert_eq!(board.claim(a.claimant(), 0), Err(Refusal::NothingToClaim));
    a.caps.push("carry".into());
    assert!(claim(&mut board, &a, 0).is_some());
    board.withdraw(1);
    assert!(board.entries().next().is_none());
}

#[test]
fn higher_priority_is_claimed_first_under_either_policy() {
    for admission in [Admission::Fifo, Admission::Srpt] {
        let mut board = Board::new(config(admission));
        board.post(posting(1, 0, "t", "survey", 1)).unwrap();
        let mut urgent = posting(2, 0, "t", "survey", 50);
        urgent.priority = 9;
        board.post(urgent).unwrap();
        let a = Agent::new("a", &["t"]);
        let first = claim(&mut board, &a, 0).expect("a claim");
        assert_eq!(
            first.key,
            TaskKey {
                mission: 2,
                task: 0
            },
            "{admission:?}"
        );
    }
}

#[test]
fn a_task_needing_several_capabilities_goes_to_an_agent_with_all() {
    let mut board = Board::new(config(Admission::Fifo));
    let mut survey = posting(1, 0, "t", "survey", 1);
    survey.needs = vec!["survey".into(), "camera".into()];
    board.post(survey).unwrap();
    let mut a = Agent::new("a", &["t"]);
    a.caps.push("survey".into());
    assert_eq!(board.claim(a.claimant(), 0), Err(Refusal::NothingToClaim));
    a.caps.push("camera".into());
    assert!(claim(&mut board, &a, 0).is_some());
}
