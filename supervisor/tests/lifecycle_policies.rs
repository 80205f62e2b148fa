//! Significant children and auto-shutdown, restart backoff, start failures
//! during restarts, kills, and the supervision event stream.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use ractor::{Actor, ActorStatus, SpawnErr};
use swarmd_supervisor::seams::Entropy;
use swarmd_supervisor::{
    AutoShutdown, Backoff, ChildSpec, ChildStatus, ExitReason, Restart, Shutdown, Strategy,
    Supervisor, SupervisorEvent, SupervisorSpec, event_channel, which_children,
};

#[tokio::test]
async fn any_significant_exit_shuts_the_supervisor_down_normally() {
    let mut h = Harness::new();
    let spec = SupervisorSpec::new("job", Strategy::OneForOne)
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(h.child("helper"))
        .child(
            h.child("main")
                .restart(Restart::Transient)
                .significant(true),
        )
        .child(h.child("tail"));
    let (sup, handle) = Actor::spawn(None, Supervisor, spec).await.unwrap();
    h.next(3).await;
    worker(&sup, "main").await.cast(Cmd::Exit).unwrap();
    assert_eq!(h.next(3).await, ["stop:main", "stop:tail", "stop:helper"]);
    tokio::time::timeout(WAIT, handle).await.unwrap().unwrap();
    assert_eq!(sup.get_status(), ActorStatus::Stopped);
}

#[tokio::test]
async fn all_significant_waits_for_the_last_significant_child() {
    let mut h = Harness::new();
    let spec = SupervisorSpec::new("job", Strategy::OneForOne)
        .auto_shutdown(AutoShutdown::AllSignificant)
        .child(h.child("s1").restart(Restart::Transient).significant(true))
        .child(h.child("s2").restart(Restart::Temporary).significant(true))
        .child(h.child("other"));
    let (sup, handle) = Actor::spawn(None, Supervisor, spec).await.unwrap();
    h.next(3).await;
    worker(&sup, "s1").await.cast(Cmd::Exit).unwrap();
    assert_eq!(h.next(1).await, ["stop:s1"]);
    assert_eq!(
        which_children(&sup).await.unwrap().len(),
        3,
        "still running"
    );
    worker(&sup, "s2").await.cast(Cmd::Exit).unwrap();
    assert_eq!(h.next(2).await, ["stop:s2", "stop:other"]);
    tokio::time::timeout(WAIT, handle).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_significant_child_that_fails_is_restarted_not_a_shutdown() {
    let mut h = Harness::new();
    let spec = SupervisorSpec::new("job", Strategy::OneForOne)
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(
            h.child("main")
                .restart(Restart::Transient)
                .significant(true),
        );
    let sup = start(spec).await;
    h.next(1).await;
    worker(&sup, "main").await.cast(Cmd::Fail).unwrap();
    assert_eq!(h.next(1).await, ["start:main"]);
    assert_eq!(sup.get_status(), ActorStatus::Running);
}

#[tokio::test]
async fn a_killed_transient_child_counts_as_abnormal_and_restarts() {
    let mut h = Harness::new();
    let sup = start(
        SupervisorSpec::new("s", Strategy::OneForOne)
            .child(h.child("t").restart(Restart::Transient)),
    )
    .await;
    h.next(1).await;
    worker(&sup, "t").await.get_cell().kill();
    assert_eq!(
        h.next(1).await,
        ["start:t"],
        "no post_stop after a kill, then a restart"
    );
    assert_eq!(
        which_children(&sup).await.unwrap()[0]
            .last_failure
            .as_deref(),
        Some("killed")
    );
}

#[tokio::test]
async fn one_for_all_drops_temporary_siblings_instead_of_restarting_them() {
    let mut h = Harness::new();
    let spec = spec(&h, Strategy::OneForAll, &["a", "b"])
        .child(h.child("temp").restart(Restart::Temporary));
    let sup = start(spec).await;
    h.next(3).await;
    worker(&sup, "a").await.cast(Cmd::Fail).unwrap();
    assert_eq!(
        h.next(4).await,
        ["stop:temp", "stop:b", "start:a", "start:b"]
    );
    let ids: Vec<_> = which_children(&sup)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
}

#[tokio::test]
async fn brutal_kill_skips_post_stop() {
    let mut h = Harness::new();
    let spec = SupervisorSpec::new("s", Strategy::OneForOne)
        .child(h.child("gentle"))
        .child(h.child("brutal").shutdown(Shutdown::BrutalKill));
    let sup = start(spec).await;
    h.next(2).await;
    sup.stop_and_wait(None, Some(WAIT)).await.unwrap();
    assert_eq!(h.next(1).await, ["stop:gentle"]);
    assert!(h.quiet(), "the brutally killed child ran no post_stop");
}

/// A child whose start succeeds `ok_starts` times and fails after that.
fn flaky_start(h: &Harness, id: &'static str, ok_starts: u32) -> ChildSpec {
    let starts = Arc::new(AtomicU32::new(0));
    let args = h.args(id);
    ChildSpec::new(id, move |sup| {
        let (starts, args) = (starts.clone(), args.clone());
        async move {
            if starts.fetch_add(1, Ordering::SeqCst) >= ok_starts {
                return Err(SpawnErr::StartupFailed("flaky start".into()));
            }
            Ok(Actor::spawn_linked(None, Worker, args, sup)
                .await?
                .0
                .get_cell())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn failed_restarts_count_against_the_intensity() {
    let mut h = Harness::new();
    let (events, mut seen) = event_channel(64);
    let spec = SupervisorSpec::new("s", Strategy::OneForOne)
        .intensity(3, Duration::from_secs(60))
        .events(events)
        .child(h.child("steady"))
        .child(flaky_start(&h, "flaky", 1));
    let (sup, handle) = Actor::spawn(None, Supervisor, spec).await.unwrap();
    h.next(2).await;
    worker(&sup, "flaky").await.cast(Cmd::Fail).unwrap();
    // 1 restart + 2 failed retries = 3 admitted; the 4th attempt exceeds intensity 3.
    assert_eq!(h.next(1).await, ["stop:steady"]);
    tokio::time::timeout(WAIT, handle).await.unwrap().unwrap();
    let mut last = None;
    while let Ok(ev) = seen.try_recv() {
        last = Some(ev);
    }
    assert!(
        matches!(last, Some(SupervisorEvent::Escalated { ref supervisor, .. }) if supervisor == "s"),
        "{last:?}"
    );
}

/// Counts up, so backoff draws are known in advance.
struct Stepping(AtomicU64);
impl Entropy for Stepping {
    fn next_u64(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
    fn fill_bytes(&self, dest: &mut [u8]) {
        dest.fill(0);
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_the_restart_in_virtual_time() {
    let mut h = Harness::new();
    let backoff = Backoff {
        min: Duration::from_secs(2),
        max: Duration::from_secs(60),
        entropy: Arc::new(Stepping(AtomicU64::new(u64::MAX - 1))),
    };
    let spec = SupervisorSpec::new("s", Strategy::OneForOne)
        .intensity(10, Duration::from_secs(600))
        .backoff(backoff)
        .child(h.child("w"));
    let sup = start(spec).await;
    h.next(1).await;
    let began = tokio::time::Instant::now();
    worker(&sup, "w").await.cast(Cmd::Fail).unwrap();
    // Round 0: ceiling = min = 2 s; draw (u64::MAX - 1) % 2_000_001 µs, floored at 1 s.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        which_children(&sup).await.unwrap()[0].status,
        ChildStatus::RestartPending
    );
    assert_eq!(h.next(1).await, ["start:w"]);
    let waited = began.elapsed();
    let expected = Duration::from_micros((u64::MAX - 1) % 2_000_001).max(Duration::from_secs(1));
    assert!(
        waited >= expected && waited < expected + Duration::from_millis(600),
        "{waited:?} vs {expected:?}"
    );
}

#[tokio::test]
async fn the_event_stream_reports_starts_exits_and_restarts_in_order() {
    let mut h = Harness::new();
    let (events, mut seen) = event_channel(64);
    let spec = spec(&h, Strategy::RestForOne, &["a", "b"]).events(events);
    let sup = start(spec).await;
    h.next(2).await;
    worker(&sup, "a").await.cast(Cmd::Fail).unwrap();
    h.next(3).await;
    let mut got = Vec::new();
    while let Ok(ev) = seen.try_recv() {
        got.push(ev);
    }
    let s = || "sup".to_string();
    let started = |c: &str| SupervisorEvent::ChildStarted {
        supervisor: s(),
        child: c.into(),
    };
    assert_eq!(
        got,
        [
            started("a"),
            started("b"),
            SupervisorEvent::ChildExited {
                supervisor: s(),
                child: "a".into(),
                reason: ExitReason::Failed("told to fail".into())
            },
            SupervisorEvent::ChildExited {
                supervisor: s(),
                child: "b".into(),
                reason: ExitReason::Shutdown
            },
            started("a"),
            started("b"),
            SupervisorEvent::ChildRestarted {
                supervisor: s(),
                child: "a".into(),
                restarts: 1
            },
            SupervisorEvent::ChildRestarted {
                supervisor: s(),
                child: "b".into(),
                restarts: 1
            },
        ]
    );
}
