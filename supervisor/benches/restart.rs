//! Time from a child's failure to its replacement running: the OTP supervisor
//! against a bare ractor parent that respawns with `spawn_linked`, in one run;
//! then the supervisor's cost as it grows (10,000 children against 100).
//!
//!     cargo bench -p swarmd-supervisor --bench restart [-- SAMPLES]

#[path = "restart/scale.rs"]
mod scale;

use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use swarmd_supervisor::{ChildSpec, Strategy, Supervisor, SupervisorSpec};
use tokio::sync::mpsc;
use tokio::time::Instant;

const WARMUP: usize = 500;

/// Fails on any message; reports itself once running.
struct Crashy;

impl Actor for Crashy {
    type Msg = ();
    type State = ();
    type Arguments = mpsc::Sender<ActorRef<()>>;

    async fn pre_start(
        &self,
        me: ActorRef<()>,
        running: Self::Arguments,
    ) -> Result<(), ActorProcessingErr> {
        running.try_send(me)?;
        Ok(())
    }

    async fn handle(&self, _: ActorRef<()>, _: (), _: &mut ()) -> Result<(), ActorProcessingErr> {
        Err("crash".into())
    }
}

/// The baseline: respawn the failed child, nothing else.
struct BareParent;

impl Actor for BareParent {
    type Msg = ();
    type State = mpsc::Sender<ActorRef<()>>;
    type Arguments = mpsc::Sender<ActorRef<()>>;

    async fn pre_start(
        &self,
        me: ActorRef<()>,
        running: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Actor::spawn_linked(None, Crashy, running.clone(), me.get_cell()).await?;
        Ok(running)
    }

    async fn handle_supervisor_evt(
        &self,
        me: ActorRef<()>,
        event: SupervisionEvent,
        running: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(..) = event {
            Actor::spawn_linked(None, Crashy, running.clone(), me.get_cell()).await?;
        }
        Ok(())
    }
}

fn otp_spec(running: mpsc::Sender<ActorRef<()>>) -> SupervisorSpec {
    let child = ChildSpec::new("crashy", move |sup: ActorCell| {
        let running = running.clone();
        async move {
            Ok(Actor::spawn_linked(None, Crashy, running, sup)
                .await?
                .0
                .get_cell())
        }
    });
    SupervisorSpec::new("bench", Strategy::OneForOne)
        .intensity(u32::MAX, Duration::from_millis(1))
        .child(child)
}

/// Crashes the current child `samples` times, timing each failure-to-running.
async fn measure(mut running: mpsc::Receiver<ActorRef<()>>, samples: usize) -> Vec<Duration> {
    let mut current = running.recv().await.expect("first child");
    let mut times = Vec::with_capacity(samples);
    for i in 0..WARMUP + samples {
        let began = Instant::now();
        current.cast(()).expect("child alive");
        current = running.recv().await.expect("replacement");
        if i >= WARMUP {
            times.push(began.elapsed());
        }
    }
    times
}

async fn run_otp(samples: usize) -> Vec<Duration> {
    let (tx, rx) = mpsc::channel(4);
    let (sup, handle) = Actor::spawn(None, Supervisor, otp_spec(tx)).await.unwrap();
    let times = measure(rx, samples).await;
    sup.stop(None);
    handle.await.unwrap();
    times
}

async fn run_bare(samples: usize) -> Vec<Duration> {
    let (tx, rx) = mpsc::channel(4);
    let (parent, handle) = Actor::spawn(None, BareParent, tx).await.unwrap();
    let times = measure(rx, samples).await;
    parent.stop(None);
    handle.await.unwrap();
    times
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let samples = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut otp, mut bare) = (Vec::new(), Vec::new());
    // Interleaved halves, so drift on a shared machine hits both alike.
    runtime.block_on(async {
        for _ in 0..2 {
            bare.extend(run_bare(samples / 2).await);
            otp.extend(run_otp(samples / 2).await);
        }
    });
    otp.sort();
    bare.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    for (name, t) in [("bare ractor respawn", &bare), ("swarmd supervisor", &otp)] {
        println!(
            "{name:>20}: n={} p50={:.1}µs p99={:.1}µs max={:.1}µs",
            t.len(),
            us(percentile(t, 0.50)),
            us(percentile(t, 0.99)),
            us(*t.last().unwrap())
        );
    }
    println!(
        "ratio supervisor/bare: p50 {:.2}x, p99 {:.2}x",
        us(percentile(&otp, 0.50)) / us(percentile(&bare, 0.50)),
        us(percentile(&otp, 0.99)) / us(percentile(&bare, 0.99))
    );
    // One thread: a profile of the two-thread runtime showed these
    // operations' time mostly in parking and waking worker threads
    // (futex, eventfd, try_to_wake_up), which swung the ratio 0.2-7 from
    // run to run; the supervisor's own cost is what is compared here.
    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (small, large) = one_thread.block_on(async {
        let small = scale::costs(100, 1_000).await;
        let large = scale::costs(10_000, 1_000).await;
        (small, large)
    });
    for (children, c) in [(100, &small), (10_000, &large)] {
        println!(
            "{children:>6} children: start_child p50={:.1}µs restart p50={:.1}µs terminate_child p50={:.1}µs",
            c.start_us, c.restart_us, c.terminate_us
        );
    }
    println!(
        "summary: restart_p99_us={:.1} bare_p99_us={:.1} scale_ratio={:.2}",
        us(percentile(&otp, 0.99)),
        us(percentile(&bare, 0.99)),
        large.worst_ratio(&small)
    );
}
