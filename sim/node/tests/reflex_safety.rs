//! Safety first, record after: the reflex never waits on the ledger, so a
//! stalled disk with a full writer queue cannot freeze an emergency stop.

mod common;

use common::{Floor, eventually, reflex};
use swarmd_messages::{EventDraft, EventKind, TraceContext};
use swarmd_warehouse::agent::ReflexMsg;
use tokio::time::Instant;

fn filler() -> EventDraft {
    EventDraft {
        tenant: common::TENANT.into(),
        agent: None,
        trace: TraceContext::default(),
        kind: EventKind::Signal {
            status: "filler".into(),
            detail: String::new(),
        },
    }
}

#[tokio::test(start_paused = true)]
async fn an_emergency_stop_holds_within_a_tick_while_the_ledger_is_stalled() {
    let floor = Floor::open(11, 4).await;
    let (w, _) = floor.spawn("brave", &[("start", "2,0")]).await;
    eventually("the agent entered the world", || async {
        reflex(&w).await.position
    })
    .await;

    // The disk stops answering and the writer's queue fills up.
    floor.storage.stall_flushes(true);
    let mut held = Vec::new();
    while let Ok(ack) = floor.ctx.ledger.try_submit(filler()) {
        held.push(ack);
    }
    assert!(
        !held.is_empty(),
        "the queue took some events before it filled"
    );

    let period = swarmd_actors::ticker::period_of(w.settings.reflex_hz);
    let asked = Instant::now();
    let r = w.reflex.get().expect("reflex runs");
    r.cast(ReflexMsg::EmergencyStop("operator".into())).unwrap();
    let view = reflex(&w).await;
    assert!(
        view.halted
            .as_deref()
            .is_some_and(|h| h.contains("Emergency")),
        "{view:?}"
    );
    assert!(
        asked.elapsed() <= period,
        "halted after {:?}, more than one reflex tick ({period:?})",
        asked.elapsed()
    );
    // Recording the stop was best effort: the full queue refused it, counted.
    assert!(
        view.records_lost >= 1,
        "the refused record is counted: {view:?}"
    );
    floor.storage.stall_flushes(false);
}
