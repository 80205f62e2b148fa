use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::guests::{HOG, PLANNER, SLOW, SPIN, TRAP};
use super::{Guest, GuestIntent, PlanInput, SandboxError, SandboxLimits, Step};

/// Time moves by `step` on every read and never otherwise, so deadlines
/// depend on how often the sandbox looks, not on how fast the machine is.
struct SteppingClock {
    base: Instant,
    elapsed_us: AtomicU64,
    step_us: u64,
}

impl SteppingClock {
    fn new(step: Duration) -> Self {
        Self {
            base: Instant::now(),
            elapsed_us: AtomicU64::new(0),
            step_us: u64::try_from(step.as_micros()).expect("step fits in u64 micros"),
        }
    }

    fn frozen() -> Self {
        Self::new(Duration::ZERO)
    }
}

/// A stopwatch that never moves: no deadline can pass.
fn frozen_now() -> Instant {
    static AT: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *AT.get_or_init(Instant::now)
}

impl SteppingClock {
    fn now(&self) -> Instant {
        let elapsed = self.elapsed_us.fetch_add(self.step_us, Ordering::Relaxed);
        self.base + Duration::from_micros(elapsed)
    }
}

fn at(x: i32, y: i32, goal: Option<(i32, i32)>, blocked: bool) -> PlanInput {
    PlanInput {
        x,
        y,
        goal,
        blocked,
    }
}

fn load(source: &str) -> Guest {
    Guest::load(source.as_bytes(), SandboxLimits::default()).expect("guest loads")
}

fn load_err(source: &str) -> SandboxError {
    match Guest::load(source.as_bytes(), SandboxLimits::default()) {
        Ok(_) => panic!("guest loaded, expected an error"),
        Err(error) => error,
    }
}

/// A guest whose `plan` has the given body and returns its value.
fn plan_returning(body: &str) -> String {
    format!(r#"(module (func (export "plan") (param i32 i32 i32 i32 i32) (result i32) {body}))"#)
}

#[tokio::test]
async fn planner_holds_goes_and_explores() {
    let clock = SteppingClock::new(Duration::from_millis(1));
    let mut guest = load(PLANNER);
    let cases = [
        (at(0, 0, None, false), GuestIntent::Hold),
        (at(0, 0, None, true), GuestIntent::Hold),
        (at(0, 0, Some((3, 2)), false), GuestIntent::GoToGoal),
        (at(0, 0, Some((3, 2)), true), GuestIntent::Explore),
        (at(3, 2, Some((3, 2)), false), GuestIntent::Hold),
    ];
    for (input, expected) in cases {
        assert_eq!(
            guest.plan(&|| clock.now(), input).await,
            Ok(expected),
            "{input:?}"
        );
    }
}

#[tokio::test]
async fn planner_steps_greedily_x_first() {
    let clock = SteppingClock::frozen();
    let mut guest = load(PLANNER);
    assert!(guest.has_parameterize());
    let go = GuestIntent::GoToGoal;
    let cases = [
        (go, at(0, 0, Some((3, 2)), false), Step::East),
        (go, at(5, 0, Some((3, 2)), false), Step::West),
        (go, at(3, 0, Some((3, 2)), false), Step::South),
        (go, at(3, 5, Some((3, 2)), false), Step::North),
        (go, at(3, 2, Some((3, 2)), false), Step::Stay),
        (GuestIntent::Hold, at(0, 0, Some((3, 2)), false), Step::Stay),
        (
            GuestIntent::Explore,
            at(0, 0, Some((3, 2)), true),
            Step::North,
        ),
        (
            GuestIntent::Explore,
            at(3, 0, Some((3, 2)), true),
            Step::East,
        ),
        (go, at(0, 0, None, false), Step::Stay),
    ];
    for (intent, input, expected) in cases {
        let step = guest.parameterize(&|| clock.now(), intent, input).await;
        assert_eq!(step, Ok(expected), "{intent:?} {input:?}");
    }
}

#[tokio::test]
async fn a_plan_costs_the_same_small_fuel_every_call() {
    let clock = SteppingClock::frozen();
    let mut guest = load(PLANNER);
    let input = at(0, 0, Some((3, 2)), false);
    guest.plan(&|| clock.now(), input).await.expect("plans");
    let first = guest.last_fuel_used();
    guest.plan(&|| clock.now(), input).await.expect("plans");
    assert_eq!(guest.last_fuel_used(), first);
    assert!(first > 0 && first < 100, "a plan took {first} fuel");
}

#[tokio::test]
async fn binary_modules_load_too() {
    let wasm = wat::parse_str(PLANNER).expect("planner is valid WAT");
    let mut guest = Guest::load(&wasm, SandboxLimits::default()).expect("binary loads");
    let intent = guest.plan(&frozen_now, at(0, 0, None, false)).await;
    assert_eq!(intent, Ok(GuestIntent::Hold));
}

#[tokio::test]
async fn a_trap_is_reported_and_poisons_the_guest() {
    let clock = SteppingClock::frozen();
    let mut guest = load(TRAP);
    let input = at(0, 0, None, false);
    match guest.plan(&|| clock.now(), input).await {
        Err(SandboxError::Trap(reason)) => assert!(reason.contains("unreachable"), "{reason}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(
        guest.plan(&|| clock.now(), input).await,
        Err(SandboxError::Poisoned)
    );
}

#[tokio::test]
async fn a_spinning_guest_runs_out_of_fuel() {
    let limits = SandboxLimits {
        fuel_per_call: 200_000,
        fuel_slice: 50_000,
        ..SandboxLimits::default()
    };
    let mut guest = Guest::load(SPIN.as_bytes(), limits).expect("loads");
    let outcome = guest.plan(&frozen_now, at(0, 0, None, false)).await;
    assert_eq!(outcome, Err(SandboxError::OutOfFuel { limit: 200_000 }));
    let used = guest.last_fuel_used();
    assert!(used > 190_000 && used <= 200_000, "used {used}");
}

#[tokio::test]
async fn a_slow_guest_misses_its_deadline() {
    let deadline = Duration::from_millis(20);
    let limits = SandboxLimits {
        fuel_per_call: 1_000_000_000_000,
        fuel_slice: 50_000,
        deadline,
        ..SandboxLimits::default()
    };
    let mut guest = Guest::load(SLOW.as_bytes(), limits).expect("loads");
    // 1 ms per read: one read at the start, one per spent slice.
    let clock = SteppingClock::new(Duration::from_millis(1));
    let outcome = guest.plan(&|| clock.now(), at(0, 0, None, false)).await;
    assert_eq!(outcome, Err(SandboxError::Deadline { limit: deadline }));
    let used = guest.last_fuel_used();
    assert!(used > 19 * 50_000 && used <= 20 * 50_000, "used {used}");
}

#[tokio::test]
async fn a_memory_hog_is_stopped_at_the_limit() {
    let mut guest = load(HOG);
    let limit = SandboxLimits::default().memory_bytes;
    match guest.plan(&frozen_now, at(0, 0, None, false)).await {
        Err(SandboxError::Memory(reason)) => assert!(reason.contains("limit"), "{reason}"),
        other => panic!("expected a memory error, got {other:?}"),
    }
    assert_eq!(guest.exported_memory_bytes(), Some(limit));
}

#[test]
fn an_initial_memory_over_the_limit_is_refused() {
    // 32 pages of 64 KiB = 2 MiB, over the default 1 MiB.
    let source = r#"(module (memory 32)
        (func (export "plan") (param i32 i32 i32 i32 i32) (result i32) i32.const 0))"#;
    let e = load_err(source);
    assert!(matches!(e, SandboxError::Memory(_)), "{e:?}");
}

#[test]
fn a_guest_with_imports_is_refused() {
    let source = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (func (export "plan") (param i32 i32 i32 i32 i32) (result i32) i32.const 0))"#;
    match load_err(source) {
        SandboxError::Abi(reason) => {
            assert!(
                reason.contains("wasi_snapshot_preview1::fd_write"),
                "{reason}"
            );
        }
        other => panic!("expected an ABI error, got {other:?}"),
    }
}

#[test]
fn a_guest_without_plan_is_refused() {
    let source = r#"(module (func (export "think") (result i32) i32.const 0))"#;
    match load_err(source) {
        SandboxError::Abi(reason) => assert!(reason.contains("`plan`"), "{reason}"),
        other => panic!("expected an ABI error, got {other:?}"),
    }
}

#[test]
fn an_ill_typed_plan_is_refused() {
    let source = r#"(module (func (export "plan") (param i64) (result i32) i32.const 0))"#;
    assert!(matches!(load_err(source), SandboxError::Abi(_)));
}

#[test]
fn a_start_function_or_bad_module_does_not_compile() {
    let with_start = r#"(module (func $init) (start $init)
        (func (export "plan") (param i32 i32 i32 i32 i32) (result i32) i32.const 0))"#;
    assert!(matches!(load_err(with_start), SandboxError::Compile(_)));
    assert!(matches!(
        load_err("(module (func"),
        SandboxError::Compile(_)
    ));
    let ill_typed_body = plan_returning("i64.const 0");
    assert!(matches!(
        load_err(&ill_typed_body),
        SandboxError::Compile(_)
    ));
}

#[tokio::test]
async fn an_out_of_range_intent_breaks_the_abi() {
    let mut guest = load(&plan_returning("i32.const 7"));
    match guest.plan(&frozen_now, at(0, 0, None, false)).await {
        Err(SandboxError::Abi(reason)) => assert!(reason.contains("returned 7"), "{reason}"),
        other => panic!("expected an ABI error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_out_of_range_step_breaks_the_abi() {
    let source = r#"(module
        (func (export "plan") (param i32 i32 i32 i32 i32) (result i32) i32.const 1)
        (func (export "parameterize") (param i32 i32 i32 i32 i32) (result i32) i32.const -1))"#;
    let mut guest = load(source);
    let step = guest
        .parameterize(
            &frozen_now,
            GuestIntent::GoToGoal,
            at(0, 0, Some((1, 1)), false),
        )
        .await;
    assert!(matches!(step, Err(SandboxError::Abi(_))), "{step:?}");
}

#[tokio::test]
async fn parameterize_is_optional_but_must_exist_to_be_called() {
    let mut guest = load(&plan_returning("i32.const 1"));
    assert!(!guest.has_parameterize());
    let step = guest
        .parameterize(
            &frozen_now,
            GuestIntent::GoToGoal,
            at(0, 0, Some((1, 1)), false),
        )
        .await;
    assert!(matches!(step, Err(SandboxError::Abi(_))), "{step:?}");
}

#[test]
#[should_panic(expected = "fuel_slice 10 exceeds fuel_per_call 5")]
fn a_slice_larger_than_the_call_budget_is_a_bug() {
    let limits = SandboxLimits {
        fuel_per_call: 5,
        fuel_slice: 10,
        ..SandboxLimits::default()
    };
    let _ = Guest::load(PLANNER.as_bytes(), limits);
}
