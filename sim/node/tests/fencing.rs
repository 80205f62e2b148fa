//! Fencing tokens at the agent (DESIGN §18): once a node has seen a newer
//! leader's token, an assignment of the deposed leader is refused, recorded
//! and counted, and never worked; the new leader's goes through.

mod common;

use common::{Floor, assign_fenced, eventually, reflex, supervision};
use swarmd_messages::swarm::Cell;
use swarmd_messages::{EventKind, LeadershipChange};

#[tokio::test(start_paused = true)]
async fn a_deposed_leaders_assignment_is_refused_recorded_and_never_worked() {
    let floor = Floor::open(5, 4).await;
    let (w, _) = floor.spawn("a1", &[("start", "2,0")]).await;
    eventually("the agent entered the world", || async {
        reflex(&w).await.position
    })
    .await;
    let far = vec![Cell::new(9, 3), Cell::new(0, 3)];
    assign_fenced(&w, 1, 7, far.clone());
    eventually("the leader's task in hand", || async {
        (supervision(&w).await.current == Some((1, 0))).then_some(())
    })
    .await;

    // A newer leader's advert reaches the node; the old one assigns again.
    w.router.fence().observe(9);
    assign_fenced(&w, 2, 7, far.clone());
    let refused = eventually("the refusal recorded", || async {
        floor
            .events_of("a1")
            .into_iter()
            .find_map(|e| match e.kind {
                EventKind::Leadership {
                    change:
                        LeadershipChange::StaleRefused {
                            task,
                            token,
                            newest,
                        },
                } => Some((task, token, newest)),
                _ => None,
            })
    })
    .await;
    assert_eq!(refused, ("2/0".to_string(), 7, 9));
    let view = supervision(&w).await;
    assert_eq!((view.current, view.queued), (Some((1, 0)), 0), "{view:?}");
    assert_eq!(w.router.fence().refused(), 1);

    // The new leader's assignment goes through.
    assign_fenced(&w, 3, 9, far);
    eventually("the new leader's task queued", || async {
        (supervision(&w).await.queued == 1).then_some(())
    })
    .await;
    assert_eq!(w.router.fence().refused(), 1);
}
