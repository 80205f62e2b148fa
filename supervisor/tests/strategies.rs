//! OTP semantics of the supervisor, after erlang/otp's supervisor_SUITE:
//! which children restart and in what order, restart types, intensity and
//! escalation, start failures, and ordered shutdown.

use std::time::Duration;

mod common;

use common::*;

use ractor::{Actor, ActorRef, ActorStatus};
use swarmd_supervisor::{Restart, Shutdown, Strategy, Supervisor, SupervisorMsg, SupervisorSpec};

#[tokio::test]
async fn children_start_in_order_and_stop_in_reverse() {
    let mut h = Harness::new();
    let sup = start(spec(&h, Strategy::OneForOne, &["a", "b", "c"])).await;
    assert_eq!(h.next(3).await, ["start:a", "start:b", "start:c"]);
    sup.stop_and_wait(None, Some(WAIT)).await.unwrap();
    assert_eq!(h.next(3).await, ["stop:c", "stop:b", "stop:a"]);
}

#[tokio::test]
async fn one_for_one_restarts_only_the_failed_child() {
    let mut h = Harness::new();
    let sup = start(spec(&h, Strategy::OneForOne, &["a", "b", "c"])).await;
    h.next(3).await;
    let before = children(&sup).await;
    worker(&sup, "b").await.cast(Cmd::Fail).unwrap();
    assert_eq!(
        h.next(1).await,
        ["start:b"],
        "a failed child gets no post_stop"
    );
    let after = children(&sup).await;
    assert_eq!(before[0].actor, after[0].actor);
    assert_ne!(before[1].actor, after[1].actor);
    assert_eq!(before[2].actor, after[2].actor);
    assert_eq!(after[1].restarts, 1);
    assert!(
        after[1]
            .last_failure
            .as_deref()
            .unwrap()
            .contains("told to fail")
    );
    assert!(h.quiet());
}

#[tokio::test]
async fn one_for_all_stops_the_others_in_reverse_then_restarts_all_in_order() {
    let mut h = Harness::new();
    let sup = start(spec(&h, Strategy::OneForAll, &["a", "b", "c"])).await;
    h.next(3).await;
    worker(&sup, "b").await.cast(Cmd::Fail).unwrap();
    assert_eq!(
        h.next(5).await,
        ["stop:c", "stop:a", "start:a", "start:b", "start:c"]
    );
}

#[tokio::test]
async fn rest_for_one_restarts_the_failed_child_and_those_after_it() {
    let mut h = Harness::new();
    let sup = start(spec(&h, Strategy::RestForOne, &["a", "b", "c", "d"])).await;
    h.next(4).await;
    worker(&sup, "b").await.cast(Cmd::Fail).unwrap();
    assert_eq!(
        h.next(5).await,
        ["stop:d", "stop:c", "start:b", "start:c", "start:d"]
    );
    assert_eq!(children(&sup).await[0].restarts, 0, "a is untouched");
}

#[tokio::test]
async fn restart_types_on_normal_and_abnormal_exit() {
    let mut h = Harness::new();
    let spec = SupervisorSpec::new("sup", Strategy::OneForOne)
        .intensity(10, Duration::from_secs(60))
        .child(h.child("perm"))
        .child(h.child("trans").restart(Restart::Transient))
        .child(h.child("temp").restart(Restart::Temporary));
    let sup = start(spec).await;
    h.next(3).await;

    worker(&sup, "perm").await.cast(Cmd::Exit).unwrap();
    assert_eq!(
        h.next(2).await,
        ["stop:perm", "start:perm"],
        "permanent restarts after a normal exit"
    );

    worker(&sup, "trans").await.cast(Cmd::Fail).unwrap();
    assert_eq!(
        h.next(1).await,
        ["start:trans"],
        "transient restarts after a failure"
    );
    worker(&sup, "trans").await.cast(Cmd::Exit).unwrap();
    assert_eq!(h.next(1).await, ["stop:trans"]);

    worker(&sup, "temp").await.cast(Cmd::Fail).unwrap();
    let ids: Vec<_> = children(&sup)
        .await
        .into_iter()
        .map(|c| (c.id, c.actor.is_some()))
        .collect();
    assert_eq!(
        ids,
        [("perm".to_string(), true), ("trans".to_string(), false)],
        "transient stays down after a normal exit; temporary is removed"
    );
    assert!(h.quiet(), "neither was restarted");
}

#[tokio::test(start_paused = true)]
async fn exceeding_intensity_stops_children_in_reverse_and_fails_the_supervisor() {
    let mut h = Harness::new();
    let spec = SupervisorSpec::new("sup", Strategy::OneForOne)
        .intensity(2, Duration::from_secs(10))
        .child(h.child("a"))
        .child(h.child("b"));
    let (sup, handle) = Actor::spawn(None, Supervisor, spec).await.unwrap();
    h.next(2).await;
    for _ in 0..2 {
        worker(&sup, "b").await.cast(Cmd::Fail).unwrap();
        assert_eq!(h.next(1).await, ["start:b"]);
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    worker(&sup, "b").await.cast(Cmd::Fail).unwrap();
    assert_eq!(
        h.next(1).await,
        ["stop:a"],
        "the third failure within 10 s gives up"
    );
    tokio::time::timeout(WAIT, handle).await.unwrap().unwrap();
    assert_eq!(sup.get_status(), ActorStatus::Stopped);
}

#[tokio::test(start_paused = true)]
async fn restarts_spread_beyond_the_period_are_tolerated() {
    let mut h = Harness::new();
    let spec = SupervisorSpec::new("sup", Strategy::OneForOne)
        .intensity(1, Duration::from_secs(5))
        .child(h.child("a"));
    let sup = start(spec).await;
    h.next(1).await;
    for _ in 0..4 {
        worker(&sup, "a").await.cast(Cmd::Fail).unwrap();
        assert_eq!(h.next(1).await, ["start:a"]);
        tokio::time::advance(Duration::from_secs(5)).await;
    }
    assert_eq!(children(&sup).await[0].restarts, 4);
}

#[tokio::test]
async fn escalation_reaches_the_parent_which_restarts_the_subtree() {
    let mut h = Harness::new();
    let inner = SupervisorSpec::new("inner", Strategy::OneForOne)
        .intensity(0, Duration::from_secs(5))
        .child(h.child("leaf"));
    let outer = SupervisorSpec::new("outer", Strategy::OneForOne)
        .intensity(5, Duration::from_secs(60))
        .child(h.child("sibling"))
        .child(inner.into_child());
    let sup = start(outer).await;
    assert_eq!(h.next(2).await, ["start:sibling", "start:leaf"]);
    let inner_ref: ActorRef<SupervisorMsg> =
        ractor::registry::where_is_pid(children(&sup).await[1].actor.unwrap())
            .unwrap()
            .into();
    worker(&inner_ref, "leaf").await.cast(Cmd::Fail).unwrap();
    assert_eq!(
        h.next(1).await,
        ["start:leaf"],
        "outer restarted the inner supervisor"
    );
    let outer_view = children(&sup).await;
    assert_eq!(outer_view[1].restarts, 1);
    assert!(
        outer_view[1]
            .last_failure
            .as_deref()
            .unwrap()
            .contains("restart intensity")
    );
    assert!(h.quiet(), "the sibling was not touched");
}

#[tokio::test]
async fn a_child_that_fails_to_start_fails_the_supervisor_start() {
    let mut h = Harness::new();
    let mut refusing = h.args("b");
    refusing.fail_start = true;
    let spec = SupervisorSpec::new("sup", Strategy::OneForOne)
        .child(h.child("a"))
        .child(child_from(refusing))
        .child(h.child("c"));
    let err = Actor::spawn(None, Supervisor, spec).await.unwrap_err();
    assert!(err.to_string().contains("child b failed to start"), "{err}");
    assert_eq!(
        h.next(3).await,
        ["start:a", "refuse:b", "stop:a"],
        "a is stopped, c never starts"
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_that_overruns_its_shutdown_timeout_is_killed() {
    let mut h = Harness::new();
    let mut stuck = h.args("stuck");
    stuck.slow_stop = true;
    let spec = SupervisorSpec::new("sup", Strategy::OneForOne)
        .child(h.child("first"))
        .child(child_from(stuck).shutdown(Shutdown::Timeout(Duration::from_secs(2))));
    let sup = start(spec).await;
    h.next(2).await;
    sup.stop_and_wait(None, Some(Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(
        h.next(1).await,
        ["stop:first"],
        "stuck was killed; first still stopped after it"
    );
}

#[tokio::test]
async fn escalation_climbs_a_three_level_tree_until_a_supervisor_can_restart() {
    let mut h = Harness::new();
    let bottom = SupervisorSpec::new("bottom", Strategy::OneForOne)
        .intensity(0, Duration::from_secs(5))
        .child(h.child("leaf"));
    let mid = SupervisorSpec::new("mid", Strategy::OneForOne)
        .intensity(0, Duration::from_secs(5))
        .child(h.child("mid-sibling"))
        .child(bottom.into_child());
    let top = SupervisorSpec::new("top", Strategy::OneForOne)
        .intensity(5, Duration::from_secs(60))
        .child(h.child("top-sibling"))
        .child(mid.into_child());
    let sup = start(top).await;
    assert_eq!(
        h.next(3).await,
        ["start:top-sibling", "start:mid-sibling", "start:leaf"]
    );

    let mid_ref: ActorRef<SupervisorMsg> =
        ractor::registry::where_is_pid(children(&sup).await[1].actor.unwrap())
            .unwrap()
            .into();
    let bottom_ref: ActorRef<SupervisorMsg> =
        ractor::registry::where_is_pid(children(&mid_ref).await[1].actor.unwrap())
            .unwrap()
            .into();
    worker(&bottom_ref, "leaf").await.cast(Cmd::Fail).unwrap();
    // bottom gives up at once; mid cannot restart it either, stops its sibling
    // and fails; top restarts mid, which starts its children again in order.
    assert_eq!(
        h.next(3).await,
        ["stop:mid-sibling", "start:mid-sibling", "start:leaf"]
    );
    let top_view = children(&sup).await;
    assert_eq!((top_view[0].restarts, top_view[1].restarts), (0, 1));
    assert!(
        top_view[1]
            .last_failure
            .as_deref()
            .unwrap()
            .contains("mid reached its restart intensity")
    );
    assert!(h.quiet(), "top-sibling untouched");
}
