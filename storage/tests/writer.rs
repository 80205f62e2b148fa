//! The ledger writer on a real sled: ordering, seq continuity, group commit,
//! backpressure and storage failures.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use swarmd_messages::EventKind;
use swarmd_storage::ledger::{
    LedgerError, LedgerReader, Query, Selector, WriterConfig, persisted_next_seq,
};
use swarmd_storage::{SledStorage, Storage, StorageError};

fn all_of(reader: &LedgerReader, tenant: &str, node: &str) -> Vec<swarmd_messages::Event> {
    let select = Selector::Seq {
        node: node.into(),
        from: 0,
        to: u64::MAX,
    };
    reader
        .query(&Query {
            tenant: tenant.into(),
            select,
            limit: 10_000,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seqs_are_dense_ordered_and_continue_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage: Arc<dyn Storage> =
            Arc::new(SledStorage::open(&dir.path().join("db"), 8 << 20).unwrap());
        let (ledger, sup) = start_writer(storage.clone(), WriterConfig::new("edge-1")).await;
        let appends = (0..200).map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                ledger
                    .append(draft("acme", Some("a1"), 1, decision(&format!("d{i}"))))
                    .await
            })
        });
        let mut seqs: Vec<u64> = futures::future::join_all(appends)
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap().seq)
            .collect();
        seqs.sort();
        assert_eq!(seqs, (0..200).collect::<Vec<_>>(), "dense, unique");
        let stored = all_of(&LedgerReader::new(storage.clone()), "acme", "edge-1");
        assert_eq!(stored.len(), 200);
        assert!(
            stored
                .windows(2)
                .all(|w| w[0].id.seq + 1 == w[1].id.seq && w[0].time_us <= w[1].time_us)
        );
        sup.stop_and_wait(None, Some(Duration::from_secs(5)))
            .await
            .unwrap();
    }
    let storage: Arc<dyn Storage> =
        Arc::new(SledStorage::open(&dir.path().join("db"), 8 << 20).unwrap());
    assert_eq!(persisted_next_seq(&*storage, "edge-1").unwrap(), 200);
    let (ledger, _sup) = start_writer(storage, WriterConfig::new("edge-1")).await;
    let id = ledger
        .append(draft("acme", None, 1, signal("back")))
        .await
        .unwrap();
    assert_eq!(id.seq, 200, "never reused after a restart");
}

#[tokio::test]
async fn an_append_is_acked_only_after_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Faulty::open(dir.path());
    storage.gated.store(true, Ordering::SeqCst);
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    let mut append = tokio::spawn({
        let ledger = ledger.clone();
        async move { ledger.append(draft("t", None, 1, signal("x"))).await }
    });
    tokio::time::timeout(Duration::from_secs(5), storage.flush_started.notified())
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(100), &mut append).await;
    assert!(early.is_err(), "acked before the flush finished");
    storage.release.notify_one();
    let id = tokio::time::timeout(Duration::from_secs(5), append)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(id.seq, 0);
    assert_eq!(*storage.log.lock().unwrap(), ["flushed"]);
}

#[tokio::test]
async fn batches_group_many_appends_into_one_flush() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Faulty::open(dir.path());
    let mut config = WriterConfig::new("n");
    config.max_wait = Duration::from_millis(50);
    let (ledger, _sup) = start_writer(storage.clone(), config).await;
    let appends = (0..100).map(|_| {
        let ledger = ledger.clone();
        tokio::spawn(async move { ledger.append(draft("t", None, 1, signal("x"))).await })
    });
    for r in futures::future::join_all(appends).await {
        r.unwrap().unwrap();
    }
    let stats = ledger.stats().await.unwrap();
    assert_eq!(stats.committed, 100);
    assert!(stats.batches < 10, "{stats:?}");
    assert_eq!(
        storage.log.lock().unwrap().len() as u64,
        stats.batches,
        "one flush per batch"
    );
}

#[tokio::test]
async fn a_full_writer_answers_overloaded_after_the_enqueue_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Faulty::open(dir.path());
    storage.gated.store(true, Ordering::SeqCst);
    let mut config = WriterConfig::new("n");
    config.queue_capacity = 2;
    config.max_batch = 1;
    config.enqueue_timeout = Duration::from_millis(50);
    let (ledger, _sup) = start_writer(storage.clone(), config).await;
    let stuck: Vec<_> = (0..2)
        .map(|_| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.append(draft("t", None, 1, signal("x"))).await })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(5), storage.flush_started.notified())
        .await
        .unwrap();
    let third = ledger.append(draft("t", None, 1, signal("x"))).await;
    assert_eq!(third, Err(LedgerError::Overloaded));
    storage.gated.store(false, Ordering::SeqCst);
    storage.release.notify_one();
    for append in stuck {
        append
            .await
            .unwrap()
            .expect("the accepted appends still commit");
    }
}

#[tokio::test]
async fn a_full_disk_is_a_typed_error_then_a_signal_and_acked_events_survive() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Faulty::open(dir.path());
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    let kept = ledger
        .append(draft("acme", Some("a"), 1, decision("before")))
        .await
        .unwrap();

    storage.apply_fails.store(true, Ordering::SeqCst);
    let err = ledger
        .append(draft("acme", Some("a"), 1, decision("lost")))
        .await
        .unwrap_err();
    assert_eq!(err, LedgerError::Storage(StorageError::NoSpace));

    storage.apply_fails.store(false, Ordering::SeqCst);
    let after = ledger
        .append(draft("acme", Some("a"), 1, decision("after")))
        .await
        .unwrap();
    let reader = LedgerReader::new(storage.clone());
    let acme = all_of(&reader, "acme", "n");
    let rationales: Vec<_> = acme
        .iter()
        .map(|e| match &e.kind {
            EventKind::Decision { rationale, .. } => rationale.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        rationales,
        ["before", "after"],
        "the failed append left nothing behind"
    );
    assert_eq!(
        (kept.seq, after.seq),
        (0, 2),
        "seq 1 went to the writer's own Signal event"
    );
    let system = all_of(&reader, "system", "n");
    assert_eq!(system.len(), 1);
    assert!(
        matches!(&system[0].kind, EventKind::Signal { status, detail } if status == "storage_error" && detail.contains("no space"))
    );
}

#[tokio::test]
async fn a_failed_flush_is_reported_and_its_seqs_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Faulty::open(dir.path());
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    storage.flush_fails.store(true, Ordering::SeqCst);
    let err = ledger
        .append(draft("t", None, 1, signal("x")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LedgerError::Storage(StorageError::Io(_))),
        "{err}"
    );
    storage.flush_fails.store(false, Ordering::SeqCst);
    let next = ledger
        .append(draft("t", None, 1, signal("y")))
        .await
        .unwrap();
    assert!(
        next.seq >= 1,
        "seq 0 may exist on disk, so it is never handed out again"
    );
}
