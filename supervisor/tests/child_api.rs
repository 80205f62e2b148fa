//! The OTP child API: start/terminate/restart/delete/which/count, dynamic
//! (`simple_one_for_one`) pools with `max_children`, and the tree snapshot.

mod common;

use std::time::Duration;

use common::*;
use ractor::{Actor, ActorRef};
use swarmd_supervisor::{
    ChildCount, ChildKind, ChildStatus, Restart, Strategy, Supervisor, SupervisorError,
    SupervisorMsg, SupervisorSpec, count_children, delete_child, restart_child, snapshot,
    start_child, terminate_child, which_children,
};

fn ids(children: &[swarmd_supervisor::ChildInfo]) -> Vec<&str> {
    children.iter().map(|c| c.id.as_str()).collect()
}

#[tokio::test]
async fn start_child_appends_and_the_new_child_is_supervised() {
    let mut h = Harness::new();
    let sup = start(spec(&h, Strategy::RestForOne, &["a"])).await;
    h.next(1).await;
    start_child(&sup, h.child("b")).await.unwrap();
    assert_eq!(h.next(1).await, ["start:b"]);
    assert_eq!(ids(&which_children(&sup).await.unwrap()), ["a", "b"]);

    worker(&sup, "a").await.cast(Cmd::Fail).unwrap();
    assert_eq!(
        h.next(3).await,
        ["stop:b", "start:a", "start:b"],
        "b is after a in rest_for_one"
    );

    let again = start_child(&sup, h.child("b")).await.unwrap_err();
    assert_eq!(again, SupervisorError::AlreadyPresent("b".into()));
}

#[tokio::test]
async fn terminate_restart_and_delete_follow_otp_rules() {
    let mut h = Harness::new();
    let sup = start(spec(&h, Strategy::OneForOne, &["a", "b"])).await;
    h.next(2).await;
    let first = which_children(&sup).await.unwrap()[0].actor;

    assert_eq!(
        delete_child(&sup, "a").await,
        Err(SupervisorError::Running("a".into()))
    );
    terminate_child(&sup, "a").await.unwrap();
    assert_eq!(h.next(1).await, ["stop:a"]);
    let a = &which_children(&sup).await.unwrap()[0];
    assert_eq!(
        (a.status, a.actor),
        (ChildStatus::Terminated, None),
        "spec kept, not running"
    );
    assert!(h.quiet(), "a terminated child is not restarted");

    restart_child(&sup, "a").await.unwrap();
    assert_eq!(h.next(1).await, ["start:a"]);
    let a = &which_children(&sup).await.unwrap()[0];
    assert_eq!(a.status, ChildStatus::Running);
    assert_ne!(a.actor, first, "a new incarnation");
    assert_eq!(
        restart_child(&sup, "a").await.unwrap_err(),
        SupervisorError::Running("a".into())
    );

    terminate_child(&sup, "a").await.unwrap();
    delete_child(&sup, "a").await.unwrap();
    assert_eq!(ids(&which_children(&sup).await.unwrap()), ["b"]);
    for missing in [
        terminate_child(&sup, "zz").await,
        delete_child(&sup, "zz").await,
    ] {
        assert_eq!(missing, Err(SupervisorError::NotFound("zz".into())));
    }
}

#[tokio::test]
async fn count_children_tells_supervisors_from_workers() {
    let h = Harness::new();
    let inner = SupervisorSpec::new("inner", Strategy::OneForOne).child(h.child("x"));
    let outer = spec(&h, Strategy::OneForOne, &["a", "b"]).child(inner.into_child());
    let sup = start(outer).await;
    terminate_child(&sup, "b").await.unwrap();
    let count = count_children(&sup).await.unwrap();
    assert_eq!(
        count,
        ChildCount {
            specs: 3,
            active: 2,
            supervisors: 1,
            workers: 2
        }
    );
}

#[tokio::test]
async fn a_dynamic_pool_enforces_max_children_with_a_clear_error() {
    let mut h = Harness::new();
    let pool = SupervisorSpec::new("agents", Strategy::SimpleOneForOne).max_children(2);
    let sup = start(pool).await;
    start_child(&sup, h.child("agent-1")).await.unwrap();
    start_child(&sup, h.child("agent-2")).await.unwrap();
    let err = start_child(&sup, h.child("agent-3")).await.unwrap_err();
    assert_eq!(err, SupervisorError::MaxChildren(2));
    assert_eq!(
        err.to_string(),
        "the supervisor already has its maximum of 2 children"
    );
    assert_eq!(h.next(2).await, ["start:agent-1", "start:agent-2"]);
    assert!(h.quiet(), "agent-3 never started");

    terminate_child(&sup, "agent-1").await.unwrap();
    assert_eq!(
        ids(&which_children(&sup).await.unwrap()),
        ["agent-2"],
        "dynamic children leave on terminate"
    );
    start_child(&sup, h.child("agent-3")).await.unwrap();
    assert_eq!(h.next(2).await, ["stop:agent-1", "start:agent-3"]);
}

#[tokio::test]
async fn dynamic_children_restart_one_for_one_and_leave_when_done() {
    let mut h = Harness::new();
    let sup = start(
        SupervisorSpec::new("pool", Strategy::SimpleOneForOne)
            .intensity(5, Duration::from_secs(60)),
    )
    .await;
    start_child(&sup, h.child("p")).await.unwrap();
    start_child(&sup, h.child("t").restart(Restart::Transient))
        .await
        .unwrap();
    h.next(2).await;
    worker(&sup, "p").await.cast(Cmd::Fail).unwrap();
    assert_eq!(h.next(1).await, ["start:p"]);
    worker(&sup, "t").await.cast(Cmd::Exit).unwrap();
    assert_eq!(h.next(1).await, ["stop:t"]);
    assert_eq!(
        ids(&which_children(&sup).await.unwrap()),
        ["p"],
        "a transient that finished is gone"
    );
}

#[tokio::test]
async fn a_failed_start_child_is_reported_and_not_kept() {
    let mut h = Harness::new();
    let sup = start(spec(&h, Strategy::OneForOne, &[])).await;
    let mut refusing = h.args("r");
    refusing.fail_start = true;
    let err = start_child(&sup, child_from(refusing)).await.unwrap_err();
    assert!(
        matches!(&err, SupervisorError::StartFailed { id, reason } if id == "r" && reason.contains("refusing")),
        "{err}"
    );
    assert_eq!(h.next(1).await, ["refuse:r"]);
    assert!(which_children(&sup).await.unwrap().is_empty());
}

#[tokio::test]
async fn invalid_specs_are_refused() {
    let h = Harness::new();
    let sup = start(spec(&h, Strategy::OneForOne, &[])).await;
    let err = start_child(&sup, h.child("p").significant(true))
        .await
        .unwrap_err();
    assert!(matches!(err, SupervisorError::InvalidSpec(_)), "{err}");

    let dup = spec(&h, Strategy::OneForOne, &["a", "a"]);
    let err = Actor::spawn(None, Supervisor, dup).await.unwrap_err();
    assert!(err.to_string().contains("duplicate child id"), "{err}");
}

#[tokio::test]
async fn snapshot_walks_the_whole_tree_in_start_order() {
    let mut h = Harness::new();
    let leaf = SupervisorSpec::new("leaf-sup", Strategy::OneForOne).child(h.child("x"));
    let mid = SupervisorSpec::new("mid", Strategy::RestForOne)
        .child(h.child("y"))
        .child(leaf.into_child());
    let root = spec(&h, Strategy::OneForAll, &["a"]).child(mid.into_child());
    let sup: ActorRef<SupervisorMsg> = start(root).await;
    h.next(3).await;
    worker(&sup, "a").await.cast(Cmd::Fail).unwrap();
    assert_eq!(
        h.next(5).await,
        ["stop:x", "stop:y", "start:a", "start:y", "start:x"]
    );

    let tree = snapshot(&sup).await.unwrap();
    assert_eq!(tree.name, "sup");
    assert_eq!(tree.strategy, Strategy::OneForAll);
    let top: Vec<_> = tree
        .children
        .iter()
        .map(|c| (c.info.id.as_str(), c.info.kind, c.info.restarts))
        .collect();
    assert_eq!(
        top,
        [
            ("a", ChildKind::Worker, 1),
            ("mid", ChildKind::Supervisor, 1)
        ]
    );
    assert!(
        tree.children[0]
            .info
            .last_failure
            .as_deref()
            .unwrap()
            .contains("told to fail")
    );
    let mid = tree.children[1]
        .subtree
        .as_ref()
        .expect("mid is looked into");
    assert_eq!(mid.strategy, Strategy::RestForOne);
    let leaf = mid.children[1]
        .subtree
        .as_ref()
        .expect("leaf-sup is looked into");
    assert_eq!(leaf.children[0].info.id, "x");
    assert_eq!(leaf.children[0].info.status, ChildStatus::Running);
}

#[tokio::test]
async fn children_added_later_stop_in_reverse_with_the_rest() {
    let mut h = Harness::new();
    let sup = start(spec(&h, Strategy::OneForOne, &["a"])).await;
    start_child(&sup, h.child("b")).await.unwrap();
    start_child(&sup, h.child("c")).await.unwrap();
    h.next(3).await;
    sup.stop_and_wait(None, Some(WAIT)).await.unwrap();
    assert_eq!(h.next(3).await, ["stop:c", "stop:b", "stop:a"]);
}
