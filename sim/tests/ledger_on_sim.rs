//! The real ledger writer on SimStorage, in virtual time: acked events survive
//! crashes and failed flushes, and one seed gives one history.

use std::sync::Arc;
use std::time::Duration;

use ractor::Actor;
use swarmd_messages::{EventDraft, EventKind, TraceContext};
use swarmd_sim::{SeededEntropy, SimClock, SimStorage};
use swarmd_storage::Storage;
use swarmd_storage::ledger::{LedgerReader, WriterConfig, ledger_writer};
use swarmd_supervisor::seams::Entropy;
use swarmd_supervisor::{Strategy, Supervisor, SupervisorSpec};

fn draft(text: String) -> EventDraft {
    EventDraft {
        tenant: "t".into(),
        agent: Some("a".into()),
        trace: TraceContext::default(),
        kind: EventKind::Signal {
            status: "s".into(),
            detail: text,
        },
    }
}

struct Outcome {
    acked: Vec<(u64, String)>,
    /// (seq, time, detail) of every durable event after the crash.
    durable: Vec<(u64, u64, String)>,
}

/// Four writers append with seeded pauses; flushes fail now and then; at a
/// seeded moment the disk "crashes".
async fn run(seed: u64) -> Outcome {
    let entropy = Arc::new(SeededEntropy::new(seed));
    let storage = Arc::new(SimStorage::new(entropy.clone(), Duration::from_millis(3)));
    let (ledger, child) = ledger_writer(
        storage.clone(),
        Arc::new(SimClock::new()),
        WriterConfig::new("edge"),
    );
    let (sup, _) = Actor::spawn(
        None,
        Supervisor,
        SupervisorSpec::new("storage", Strategy::OneForOne).child(child),
    )
    .await
    .unwrap();
    let crash_at = Duration::from_millis(50 + entropy.next_u64() % 200);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (ledger, entropy, storage) = (ledger.clone(), entropy.clone(), storage.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for n in 0..100 {
                    tokio::time::sleep(Duration::from_micros(entropy.next_u64() % 4000)).await;
                    if entropy.next_u64() % 40 == 0 {
                        storage.fail_next_flushes(1);
                    }
                    let text = format!("w{w}-{n}");
                    // An error is not an ack: such an event may or may not survive.
                    if let Ok(id) = ledger.append(draft(text.clone())).await {
                        acked.push((id.seq, text));
                    }
                }
                acked
            })
        })
        .collect();
    tokio::time::sleep(crash_at).await;
    storage.crash();
    sup.kill();
    let mut acked: Vec<(u64, String)> = Vec::new();
    for w in writers {
        if let Ok(mine) = w.await {
            acked.extend(mine);
        }
    }
    let reader = LedgerReader::new(storage.clone() as Arc<dyn Storage>);
    let durable = reader
        .node_log("edge", 0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| match e.kind {
            EventKind::Signal { detail, .. } => (e.id.seq, e.time_us, detail),
            other => panic!("{other:?}"),
        })
        .collect();
    Outcome { acked, durable }
}

#[tokio::test(start_paused = true)]
async fn acked_events_survive_a_crash_amid_failing_flushes() {
    for seed in 1..=5 {
        let outcome = run(seed).await;
        assert!(
            !outcome.acked.is_empty(),
            "seed {seed}: something was acked before the crash"
        );
        for (seq, text) in &outcome.acked {
            let found = outcome.durable.iter().find(|(s, _, _)| s == seq);
            assert_eq!(
                found.map(|(_, _, t)| t),
                Some(text),
                "seed {seed}: acked seq {seq} lost"
            );
        }
        let seqs: Vec<u64> = outcome.durable.iter().map(|(s, _, _)| *s).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: no seq twice"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn one_seed_one_history() {
    let first = run(42).await.durable;
    let again = run(42).await.durable;
    let other = run(43).await.durable;
    assert_eq!(
        first, again,
        "the same seed must give the same ledger, times included"
    );
    assert_ne!(first, other);
}
