//! Supervisor cost as it grows: `start_child`, one restart and
//! `terminate_child`, each timed with 10,000 children against 100 in the
//! same run. An operation that scanned its siblings would show here.

use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use swarmd_supervisor::{
    ChildSpec, Strategy, Supervisor, SupervisorMsg, SupervisorSpec, delete_child, start_child,
    terminate_child,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Fails on any message; reports itself once running, if asked to.
struct Idle;

impl Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = Option<mpsc::Sender<ActorRef<()>>>;

    async fn pre_start(
        &self,
        me: ActorRef<()>,
        running: Self::Arguments,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(running) = running {
            running.try_send(me)?;
        }
        Ok(())
    }

    async fn handle(&self, _: ActorRef<()>, _: (), _: &mut ()) -> Result<(), ActorProcessingErr> {
        Err("crash".into())
    }
}

fn idle(id: String, running: Option<mpsc::Sender<ActorRef<()>>>) -> ChildSpec {
    ChildSpec::new(id, move |sup: ActorCell| {
        let running = running.clone();
        async move {
            Ok(Actor::spawn_linked(None, Idle, running, sup)
                .await?
                .0
                .get_cell())
        }
    })
}

/// Median µs of each operation with `children` siblings.
#[derive(Debug, Clone, Copy)]
pub struct Costs {
    pub start_us: f64,
    pub restart_us: f64,
    pub terminate_us: f64,
}

impl Costs {
    /// The worst of the three ratios `self / small`.
    pub fn worst_ratio(&self, small: &Costs) -> f64 {
        [
            self.start_us / small.start_us,
            self.restart_us / small.restart_us,
            self.terminate_us / small.terminate_us,
        ]
        .into_iter()
        .fold(0.0, f64::max)
    }
}

fn median_us(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e6
}

pub async fn costs(children: usize, samples: usize) -> Costs {
    let (tx, mut running) = mpsc::channel(4);
    let mut spec = SupervisorSpec::new("scale", Strategy::OneForOne)
        .intensity(u32::MAX, Duration::from_millis(1))
        .child(idle("probe".into(), Some(tx)));
    for i in 0..children - 1 {
        spec = spec.child(idle(format!("idle-{i}"), None));
    }
    let (sup, handle) = Actor::spawn(None, Supervisor, spec).await.unwrap();
    let sup: ActorRef<SupervisorMsg> = sup;
    let mut probe = running.recv().await.expect("the probe runs");
    let (mut start, mut restart, mut terminate) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..samples {
        let id = format!("extra-{i}");
        let began = Instant::now();
        start_child(&sup, idle(id.clone(), None)).await.unwrap();
        start.push(began.elapsed());
        let began = Instant::now();
        terminate_child(&sup, &id).await.unwrap();
        terminate.push(began.elapsed());
        delete_child(&sup, &id).await.unwrap();
        let began = Instant::now();
        probe.cast(()).unwrap();
        probe = running.recv().await.expect("the probe restarted");
        restart.push(began.elapsed());
    }
    sup.stop(None);
    handle.await.unwrap();
    Costs {
        start_us: median_us(start),
        restart_us: median_us(restart),
        terminate_us: median_us(terminate),
    }
}
