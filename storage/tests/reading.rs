//! Reading the ledger: tenant-scoped queries, replay against the live state,
//! retention and JSONL export.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ractor::Actor;
use serde::{Deserialize, Serialize};
use swarmd_messages::{Event, EventKind};
use swarmd_storage::ledger::{
    Fold, LedgerReader, Query, RetentionPolicy, Selector, Upto, WriterConfig, enforce_retention,
    export_jsonl, replay, write_snapshot,
};
use swarmd_storage::{SledStorage, Storage};

fn sled(dir: &tempfile::TempDir) -> Arc<dyn Storage> {
    Arc::new(SledStorage::open(&dir.path().join("db"), 8 << 20).unwrap())
}

fn query(reader: &LedgerReader, tenant: &str, select: Selector) -> Vec<Event> {
    reader
        .query(&Query {
            tenant: tenant.into(),
            select,
            limit: 1000,
        })
        .unwrap()
}

#[tokio::test]
async fn every_query_stays_inside_its_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sled(&dir);
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    // Same agent name, trace id and kind in both tenants.
    for tenant in ["alpha", "beta", "alpha"] {
        ledger
            .append(draft(tenant, Some("robot"), 9, decision(tenant)))
            .await
            .unwrap();
    }
    let reader = LedgerReader::new(storage);
    let selectors = [
        Selector::Agent("robot".into()),
        Selector::Trace([9; 16]),
        Selector::Kind("decision".into()),
        Selector::Time {
            from_us: 0,
            to_us: u64::MAX,
        },
        Selector::Seq {
            node: "n".into(),
            from: 0,
            to: u64::MAX,
        },
    ];
    for select in selectors {
        let alpha = query(&reader, "alpha", select.clone());
        let beta = query(&reader, "beta", select.clone());
        assert_eq!(alpha.len(), 2, "{select:?}");
        assert_eq!(beta.len(), 1, "{select:?}");
        assert!(alpha.iter().all(|e| e.tenant == "alpha"));
        assert!(beta.iter().all(|e| e.tenant == "beta"));
        assert!(query(&reader, "gamma", select).is_empty());
    }
}

#[tokio::test]
async fn index_queries_filter_and_respect_limits() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sled(&dir);
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    for i in 0..10u8 {
        let kind = if i % 2 == 0 {
            decision("d")
        } else {
            signal("s")
        };
        let agent = if i < 5 { "a" } else { "b" };
        ledger
            .append(draft("t", Some(agent), i % 3, kind))
            .await
            .unwrap();
    }
    let reader = LedgerReader::new(storage);
    assert_eq!(query(&reader, "t", Selector::Agent("a".into())).len(), 5);
    assert_eq!(
        query(&reader, "t", Selector::Kind("signal".into())).len(),
        5
    );
    assert_eq!(query(&reader, "t", Selector::Trace([0; 16])).len(), 4);
    let limited = reader
        .query(&Query {
            tenant: "t".into(),
            select: Selector::Agent("b".into()),
            limit: 2,
        })
        .unwrap();
    assert_eq!(limited.iter().map(|e| e.id.seq).collect::<Vec<_>>(), [5, 6]);
    let all = query(&reader, "t", Selector::Kind("decision".into()));
    let (t1, t2) = (all[1].time_us, all[3].time_us);
    let window = query(
        &reader,
        "t",
        Selector::Time {
            from_us: t1,
            to_us: t2,
        },
    );
    assert!(window.iter().all(|e| e.time_us >= t1 && e.time_us < t2) && !window.is_empty());
}

/// A toy agent state: position and how many decisions it took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Robot {
    decisions: u32,
    position: i64,
}

struct RobotFold {
    applied: std::sync::atomic::AtomicUsize,
}

impl Fold for RobotFold {
    type State = Robot;
    fn apply(&self, state: &mut Robot, event: &Event) {
        self.applied
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match &event.kind {
            EventKind::Decision { .. } => state.decisions += 1,
            EventKind::StateChange { after_hash, .. } => state.position += *after_hash as i64,
            _ => {}
        }
    }
}

fn moved(by: u64) -> EventKind {
    EventKind::StateChange {
        target: "position".into(),
        before_hash: 0,
        after_hash: by,
        diff: format!("+{by}"),
    }
}

#[tokio::test]
async fn replay_matches_the_live_state_at_every_point_and_uses_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sled(&dir);
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    let fold = RobotFold {
        applied: Default::default(),
    };
    let mut live = Robot::default();
    let mut live_at = Vec::new();
    for i in 0..60u64 {
        let kind = if i % 3 == 0 { decision("go") } else { moved(i) };
        let event_kind = kind.clone();
        let id = ledger
            .append(draft("t", Some("r1"), 1, kind))
            .await
            .unwrap();
        ledger
            .append(draft("t", Some("other"), 1, decision("noise")))
            .await
            .unwrap();
        fold.apply(
            &mut live,
            &Event {
                id: id.clone(),
                tenant: "t".into(),
                agent: Some("r1".into()),
                trace: Default::default(),
                time_us: 0,
                kind: event_kind,
            },
        );
        live_at.push((id, live.clone()));
    }
    let reader = LedgerReader::new(storage.clone());
    let (replayed, last) = replay(&reader, &fold, "t", "r1", Upto::End).unwrap();
    assert_eq!(replayed, live);
    assert_eq!(last.as_ref(), Some(&live_at.last().unwrap().0));
    for (id, state) in live_at.iter().step_by(7) {
        assert_eq!(
            replay(&reader, &fold, "t", "r1", Upto::Seq(id.seq))
                .unwrap()
                .0,
            *state,
            "at {id:?}"
        );
    }

    // A snapshot at the 30th event: replaying to the end applies only what follows it.
    let (mid_id, mid_state) = &live_at[29];
    write_snapshot(&*storage, "t", "r1", mid_state, mid_id, 0).unwrap();
    fold.applied.store(0, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        replay(&reader, &fold, "t", "r1", Upto::End).unwrap().0,
        live
    );
    assert_eq!(fold.applied.load(std::sync::atomic::Ordering::Relaxed), 30);
    // Before the snapshot, replay starts from scratch and is still right.
    let (early_id, early_state) = &live_at[10];
    assert_eq!(
        replay(&reader, &fold, "t", "r1", Upto::Seq(early_id.seq))
            .unwrap()
            .0,
        *early_state
    );
}

#[tokio::test]
async fn retention_caps_age_and_size_but_keeps_protected_events() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sled(&dir);
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            ledger
                .append(draft("t", Some("a"), 1, decision(&format!("{i:04}"))))
                .await
                .unwrap(),
        );
    }
    let reader = LedgerReader::new(storage.clone());
    let times: Vec<u64> = query(&reader, "t", Selector::Agent("a".into()))
        .iter()
        .map(|e| e.time_us)
        .collect();
    // Age: everything older than the 10th event goes, except seq < 3 (say, not yet forwarded).
    let now = times[10] + 1_000_000;
    let policy = RetentionPolicy {
        max_age: Duration::from_secs(1),
        max_bytes: u64::MAX,
    };
    let report = enforce_retention(&*storage, now, policy, &|id| id.seq < 3)
        .await
        .unwrap();
    assert_eq!(report.deleted, 7, "{report:?}");
    let left: Vec<u64> = query(&reader, "t", Selector::Agent("a".into()))
        .iter()
        .map(|e| e.id.seq)
        .collect();
    assert_eq!(left, [0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    assert!(
        query(&reader, "t", Selector::Kind("decision".into())).len() == 13,
        "indexes follow"
    );

    // Size: shrink to roughly half of what is left, oldest first.
    let half = report.bytes_kept / 2;
    let policy = RetentionPolicy {
        max_age: Duration::from_secs(1 << 30),
        max_bytes: half,
    };
    let report = enforce_retention(&*storage, now, policy, &|_| false)
        .await
        .unwrap();
    assert!(report.bytes_kept <= half, "{report:?}");
    let left: Vec<u64> = query(&reader, "t", Selector::Agent("a".into()))
        .iter()
        .map(|e| e.id.seq)
        .collect();
    assert_eq!(*left.last().unwrap(), 19, "the newest survive");
    assert!(left.windows(2).all(|w| w[0] < w[1]) && left.len() < 13);
}

#[tokio::test]
async fn export_writes_one_json_event_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sled(&dir);
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    for i in 0..25 {
        ledger
            .append(draft("t", Some("a"), 1, decision(&format!("{i}"))))
            .await
            .unwrap();
    }
    ledger
        .append(draft("other", Some("a"), 1, decision("hidden")))
        .await
        .unwrap();
    let reader = LedgerReader::new(storage);
    let mut out = Vec::new();
    let written = export_jsonl(&reader, "t", "n", 5, 15, &mut out).unwrap();
    assert_eq!(written, 10);
    let lines: Vec<Event> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.iter().map(|e| e.id.seq).collect::<Vec<_>>(),
        (5..15).collect::<Vec<_>>()
    );
    assert_eq!(
        lines,
        query(
            &reader,
            "t",
            Selector::Seq {
                node: "n".into(),
                from: 5,
                to: 15
            }
        )
    );
}

#[tokio::test]
async fn the_snapshotter_snapshots_active_agents_so_replay_starts_late() {
    use swarmd_storage::ledger::{Snapshotter, SnapshotterArgs};
    let dir = tempfile::tempdir().unwrap();
    let storage = sled(&dir);
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    for i in 0..20u64 {
        let agent = if i % 2 == 0 { "r1" } else { "r2" };
        ledger
            .append(draft("t", Some(agent), 1, moved(i)))
            .await
            .unwrap();
    }
    let fold = Arc::new(RobotFold {
        applied: Default::default(),
    });
    let reader = LedgerReader::new(storage.clone());
    let (r1_live, _) = replay(&reader, &*fold, "t", "r1", Upto::End).unwrap();
    let args = SnapshotterArgs {
        storage: storage.clone(),
        fold: fold.clone(),
        node: "n".into(),
        interval: Duration::from_millis(10),
    };
    let (snapshotter, _) = Actor::spawn(None, Snapshotter::<RobotFold>::default(), args)
        .await
        .unwrap();

    // Once both agents have a snapshot at their last event, replay applies nothing.
    let snapshotted = async {
        loop {
            fold.applied.store(0, std::sync::atomic::Ordering::SeqCst);
            let r1 = replay(&reader, &*fold, "t", "r1", Upto::End).unwrap().0;
            let r2 = replay(&reader, &*fold, "t", "r2", Upto::End).unwrap().0;
            if fold.applied.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return (r1, r2);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let (r1, r2) = tokio::time::timeout(Duration::from_secs(10), snapshotted)
        .await
        .expect("snapshots written");
    assert_eq!(r1, r1_live, "the snapshot holds the folded state");
    assert_eq!(r2.position, (1..20).step_by(2).sum::<u64>() as i64);

    // New activity is folded on top of the snapshot.
    ledger
        .append(draft("t", Some("r1"), 1, moved(100)))
        .await
        .unwrap();
    fold.applied.store(0, std::sync::atomic::Ordering::SeqCst);
    let (after, _) = replay(&reader, &*fold, "t", "r1", Upto::End).unwrap();
    assert_eq!(after.position, r1_live.position + 100);
    assert!(fold.applied.load(std::sync::atomic::Ordering::SeqCst) <= 1);
    snapshotter.stop(None);
}

#[tokio::test]
async fn one_tenants_flood_does_not_evict_another_tenants_events() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sled(&dir);
    let (ledger, _sup) = start_writer(storage.clone(), WriterConfig::new("n")).await;
    for i in 0..5 {
        ledger
            .append(draft("quiet", Some("q"), 1, decision(&format!("q{i}"))))
            .await
            .unwrap();
    }
    for i in 0..200 {
        ledger
            .append(draft(
                "flood",
                Some("f"),
                1,
                decision(&format!("flood {i}")),
            ))
            .await
            .unwrap();
    }
    let reader = LedgerReader::new(storage.clone());
    let everything = RetentionPolicy {
        max_age: Duration::from_secs(1 << 30),
        max_bytes: u64::MAX,
    };
    let all = enforce_retention(&*storage, 0, everything, &|_| false)
        .await
        .unwrap();
    // A budget a quarter of what is held: the flood must pay for all of it.
    let policy = RetentionPolicy {
        max_bytes: all.bytes_kept / 4,
        ..everything
    };
    let report = enforce_retention(&*storage, 0, policy, &|_| false)
        .await
        .unwrap();
    assert!(report.bytes_kept <= policy.max_bytes, "{report:?}");
    let quiet = query(&reader, "quiet", Selector::Agent("q".into()));
    assert_eq!(quiet.len(), 5, "the quiet tenant keeps everything");
    let flood = query(&reader, "flood", Selector::Agent("f".into()));
    assert!(flood.len() < 60, "the flood was trimmed: {}", flood.len());
    assert!(flood.windows(2).all(|w| w[0].id.seq < w[1].id.seq));
}
