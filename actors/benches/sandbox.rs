//! The cost of asking a sandboxed planner: `Guest::plan` on the reference
//! planner guest against the same logic in native Rust, in one run; fuel per
//! call; and the time to load (compile and instantiate) a guest.
//!
//!     cargo bench -p swarmd-actors --bench sandbox [-- CALLS]

use std::hint::black_box;
use std::time::Duration;

use swarmd_actors::sandbox::guests::PLANNER;
use swarmd_actors::sandbox::{Guest, GuestIntent, PlanInput, SandboxLimits};
use tokio::time::Instant;

const LOADS: usize = 200;

/// The planner guest's `plan`, in Rust.
fn native_plan(input: PlanInput) -> GuestIntent {
    match input.goal {
        None => GuestIntent::Hold,
        Some(goal) if goal == (input.x, input.y) => GuestIntent::Hold,
        Some(_) if input.blocked => GuestIntent::Explore,
        Some(_) => GuestIntent::GoToGoal,
    }
}

/// Varied inputs so neither side sees one constant case.
fn input(i: usize) -> PlanInput {
    let n = i32::try_from(i % 64).expect("small");
    PlanInput {
        x: n % 8,
        y: n / 8,
        goal: (!i.is_multiple_of(5)).then_some((3, 4)),
        blocked: i.is_multiple_of(7),
    }
}

async fn guest_calls_per_sec(guest: &mut Guest, calls: usize) -> f64 {
    let started = Instant::now();
    for i in 0..calls {
        let intent = guest.plan(&Instant::now, black_box(input(i))).await;
        assert_eq!(intent, Ok(native_plan(input(i))), "guest and native agree");
    }
    calls as f64 / started.elapsed().as_secs_f64()
}

fn native_calls_per_sec(calls: usize) -> f64 {
    let started = Instant::now();
    for i in 0..calls {
        black_box(native_plan(black_box(input(i))));
    }
    calls as f64 / started.elapsed().as_secs_f64()
}

fn load_time() -> Duration {
    let started = Instant::now();
    for _ in 0..LOADS {
        black_box(Guest::load(PLANNER.as_bytes(), SandboxLimits::default()).expect("loads"));
    }
    started.elapsed() / u32::try_from(LOADS).expect("small")
}

fn main() {
    let calls: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut guest = Guest::load(PLANNER.as_bytes(), SandboxLimits::default()).expect("loads");
        guest_calls_per_sec(&mut guest, calls / 10).await; // warm-up
        let guest_rate = guest_calls_per_sec(&mut guest, calls).await;
        let fuel = guest.last_fuel_used();
        let native_rate = native_calls_per_sec(calls * 10);
        println!("plan calls:    {calls} (native: {})", calls * 10);
        println!(
            "guest plan:    {guest_rate:>14.0} calls/s  ({:.0} ns/call)",
            1e9 / guest_rate
        );
        println!(
            "native plan:   {native_rate:>14.0} calls/s  ({:.1} ns/call)",
            1e9 / native_rate
        );
        println!("native/guest:  {:>14.1}x", native_rate / guest_rate);
        println!("fuel per plan: {fuel:>14}");
    });
    println!(
        "load (compile + instantiate): {:?} per guest, over {LOADS}",
        load_time()
    );
}
