use super::*;
use crate::SeededEntropy;

fn sim() -> SimStorage {
    SimStorage::new(Arc::new(SeededEntropy::new(1)), Duration::from_millis(5))
}

fn batch(pairs: &[(&str, &str)]) -> Batch {
    let mut b = Batch::default();
    pairs
        .iter()
        .for_each(|(k, v)| b.insert(k.as_bytes().to_vec(), v.as_bytes().to_vec()));
    b
}

#[tokio::test(start_paused = true)]
async fn a_crash_keeps_exactly_what_was_flushed() {
    let s = sim();
    s.apply("t", batch(&[("a", "1"), ("b", "2")])).unwrap();
    s.flush().await.unwrap();
    s.apply("t", batch(&[("c", "3")])).unwrap();
    let mut rm = Batch::default();
    rm.remove(b"a".to_vec());
    s.apply("t", rm).unwrap();
    assert_eq!(
        s.get("t", b"c").unwrap(),
        Some(b"3".to_vec()),
        "visible before the flush"
    );
    assert_eq!(s.unflushed(), 2);
    s.crash();
    assert_eq!(
        s.get("t", b"a").unwrap(),
        Some(b"1".to_vec()),
        "the unflushed remove is undone"
    );
    assert_eq!(s.get("t", b"c").unwrap(), None);
    assert_eq!(s.scan("t", b"", None, 10).unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn failed_flushes_keep_writes_volatile_and_full_disks_refuse_writes() {
    let s = sim();
    s.apply("t", batch(&[("a", "1")])).unwrap();
    s.fail_next_flushes(1);
    assert!(s.flush().await.is_err());
    s.crash();
    assert_eq!(
        s.get("t", b"a").unwrap(),
        None,
        "a failed flush made nothing durable"
    );
    s.set_full(true);
    assert_eq!(
        s.apply("t", batch(&[("b", "2")])),
        Err(StorageError::NoSpace)
    );
    s.set_full(false);
    s.apply("t", batch(&[("b", "2")])).unwrap();
    s.flush().await.unwrap();
    s.crash();
    assert_eq!(s.get("t", b"b").unwrap(), Some(b"2".to_vec()));
}

#[tokio::test(start_paused = true)]
async fn a_failed_flush_can_lose_its_writes_for_good() {
    // Some seeds lose the writes, some keep them volatile; both happen.
    let mut lost_for_good = 0;
    for seed in 0..16 {
        let s = SimStorage::new(Arc::new(SeededEntropy::new(seed)), Duration::ZERO);
        s.apply("t", batch(&[("a", "1")])).unwrap();
        s.fail_next_flushes(1);
        assert!(s.flush().await.is_err());
        assert!(s.get("t", b"a").unwrap().is_some(), "still readable");
        s.flush().await.unwrap();
        s.crash();
        lost_for_good += u32::from(s.get("t", b"a").unwrap().is_none());
    }
    assert!(
        (1..16).contains(&lost_for_good),
        "lost {lost_for_good} of 16"
    );
}

#[tokio::test(start_paused = true)]
async fn reapplying_makes_a_failed_flush_good_on_the_next_one() {
    use swarmd_storage::Reapplying;
    // Without it, some seeds lose the write for good (the test above);
    // with it, none does.
    for seed in 0..16 {
        let disk = Arc::new(SimStorage::new(
            Arc::new(SeededEntropy::new(seed)),
            Duration::ZERO,
        ));
        let guarded = Reapplying::new(disk.clone());
        guarded.apply("t", batch(&[("a", "1")])).unwrap();
        disk.fail_next_flushes(1);
        assert!(guarded.flush().await.is_err());
        guarded.apply("t", batch(&[("b", "2")])).unwrap();
        guarded.flush().await.unwrap();
        disk.crash();
        assert_eq!(
            disk.get("t", b"a").unwrap(),
            Some(b"1".to_vec()),
            "seed {seed}"
        );
        assert_eq!(
            disk.get("t", b"b").unwrap(),
            Some(b"2".to_vec()),
            "seed {seed}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn reapplying_refuses_to_vouch_once_it_let_writes_go() {
    use swarmd_storage::Reapplying;
    let disk = Arc::new(sim());
    let guarded = Reapplying::with_limit(disk.clone(), 8);
    guarded.apply("t", batch(&[("a", "1234")])).unwrap();
    guarded.apply("t", batch(&[("b", "5678")])).unwrap(); // over 8 bytes: "a" let go
    disk.fail_next_flushes(1);
    assert!(guarded.flush().await.is_err());
    let next = guarded.flush().await;
    assert!(
        next.as_ref()
            .is_err_and(|e| e.to_string().contains("durability is unknown")),
        "{next:?}"
    );
    // A write that failed to apply is never applied later.
    let disk = Arc::new(sim());
    let failed = Reapplying::new(disk.clone());
    disk.set_full(true);
    assert!(failed.commit("t", batch(&[("d", "4")])).await.is_err());
    disk.set_full(false);
    failed.flush().await.unwrap();
    assert_eq!(disk.get("t", b"d").unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn a_flush_covers_only_writes_made_before_it() {
    let s = Arc::new(sim());
    s.apply("t", batch(&[("early", "1")])).unwrap();
    let flushing = tokio::spawn({
        let s = s.clone();
        async move { s.flush().await }
    });
    tokio::task::yield_now().await;
    s.apply("t", batch(&[("late", "2")])).unwrap();
    flushing.await.unwrap().unwrap();
    s.crash();
    assert!(s.get("t", b"early").unwrap().is_some());
    assert!(s.get("t", b"late").unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn ordering_and_last_below_match_sled() {
    let s = sim();
    s.apply("t", batch(&[("b", "2"), ("a", "1"), ("c", "3")]))
        .unwrap();
    let keys: Vec<_> = s
        .scan("t", b"a", Some(b"c"), 10)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, [b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(s.last_below("t", b"c").unwrap().unwrap().0, b"b".to_vec());
    assert_eq!(s.last_below("t", b"a").unwrap(), None);
    assert_eq!(s.last_below("other", b"z").unwrap(), None);
}

/// Seeded random writes, removes, flushes (some failing) and crashes: after
/// every crash, reads show exactly what the last successful flushes made
/// durable, as a full copy of the durable view would.
#[tokio::test(start_paused = true)]
async fn a_crash_resets_reads_to_exactly_the_durable_view() {
    let dice = SeededEntropy::new(7);
    let s = sim();
    let mut durable: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut pending: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    for round in 0..400u64 {
        let key = format!("k{}", dice.next_u64() % 12).into_bytes();
        match dice.next_u64() % 6 {
            0 | 1 => {
                let value = round.to_be_bytes().to_vec();
                s.apply("t", batch_of(&key, Some(value.clone()))).unwrap();
                pending.push((key, Some(value)));
            }
            2 => {
                s.apply("t", batch_of(&key, None)).unwrap();
                pending.push((key, None));
            }
            3 => {
                let fail = dice.next_u64().is_multiple_of(3);
                if fail {
                    s.fail_next_flushes(1);
                }
                let done = s.flush().await;
                assert_eq!(done.is_err(), fail);
                if fail {
                    // Lost or not, none of it is ever made durable by a later flush
                    // unless still pending: mirror the disk's choice.
                    let kept = s.unflushed();
                    pending.drain(..pending.len() - kept);
                } else {
                    for (k, v) in pending.drain(..) {
                        match v {
                            Some(v) => durable.insert(k, v),
                            None => durable.remove(&k),
                        };
                    }
                }
            }
            4 => {
                s.crash();
                pending.clear();
                let seen: BTreeMap<Vec<u8>, Vec<u8>> = s
                    .scan("t", b"", None, usize::MAX)
                    .unwrap()
                    .into_iter()
                    .collect();
                assert_eq!(seen, durable, "round {round}");
            }
            _ => {}
        }
    }
}

fn batch_of(key: &[u8], value: Option<Vec<u8>>) -> Batch {
    let mut b = Batch::default();
    match value {
        Some(v) => b.insert(key.to_vec(), v),
        None => b.remove(key.to_vec()),
    }
    b
}
