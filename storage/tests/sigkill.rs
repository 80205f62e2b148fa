//! Crash safety: a child process appends continuously and prints every acked
//! event; the parent SIGKILLs it at random moments, reopens the ledger and
//! checks that every acked event is there, unchanged, and no seq was reused.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use swarmd_messages::EventKind;
use swarmd_storage::ledger::{LedgerReader, WriterConfig, persisted_next_seq};
use swarmd_storage::{SledStorage, Storage};

const ROUNDS: usize = 20;
const DIR_VAR: &str = "SWARMD_SIGKILL_DIR";
const ROUND_VAR: &str = "SWARMD_SIGKILL_ROUND";

/// The child: not a test of its own, it only runs when the parent starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for sigkill_never_loses_an_acked_event"]
async fn appender_child() {
    let dir = std::env::var(DIR_VAR).expect("run by the sigkill test");
    let round = std::env::var(ROUND_VAR).unwrap();
    let storage: Arc<dyn Storage> =
        Arc::new(SledStorage::open(&std::path::Path::new(&dir).join("db"), 8 << 20).unwrap());
    let (ledger, _sup) = start_writer(storage, WriterConfig::new("edge")).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let ledger = ledger.clone();
            let round = round.clone();
            tokio::spawn(async move {
                for n in 0.. {
                    let tag = format!("r{round}-w{w}-{n}");
                    let id = ledger
                        .append(draft("t", Some("a"), 1, decision(&tag)))
                        .await
                        .unwrap();
                    println!("ACK {} {tag}", id.seq);
                }
            })
        })
        .collect();
    futures::future::join_all(writers).await;
}

#[test]
fn sigkill_never_loses_an_acked_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    for round in 0..ROUNDS {
        let kill_after = rng.random_range(1..300);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "appender_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .env(ROUND_VAR, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < kill_after {
            let line = lines.next().expect("child alive").unwrap();
            if let Some(ack) = line.strip_prefix("ACK ") {
                let (seq, tag) = ack.split_once(' ').unwrap();
                let previous = acked.insert(seq.parse().unwrap(), tag.to_owned());
                assert!(previous.is_none(), "seq {seq} acked twice");
                seen += 1;
            }
        }
        // SAFETY: kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
        // Acks printed before the kill landed are acks too.
        for line in lines.map_while(Result::ok) {
            if let Some((seq, tag)) = line.strip_prefix("ACK ").and_then(|a| a.split_once(' ')) {
                assert!(
                    acked.insert(seq.parse().unwrap(), tag.to_owned()).is_none(),
                    "seq {seq} acked twice"
                );
            }
        }
        child.wait().unwrap();
        check_ledger(dir.path(), &acked, round);
    }
}

fn check_ledger(dir: &std::path::Path, acked: &BTreeMap<u64, String>, round: usize) {
    let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(&dir.join("db"), 8 << 20).unwrap());
    let reader = LedgerReader::new(storage.clone());
    let stored = reader.node_log("edge", 0, usize::MAX).unwrap();
    let by_seq: BTreeMap<u64, String> = stored
        .iter()
        .map(|e| match &e.kind {
            EventKind::Decision { rationale, .. } => (e.id.seq, rationale.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        by_seq.len(),
        stored.len(),
        "round {round}: a seq appears twice"
    );
    for (seq, tag) in acked {
        assert_eq!(
            by_seq.get(seq),
            Some(tag),
            "round {round}: acked seq {seq} lost or overwritten"
        );
    }
    let next = persisted_next_seq(&*storage, "edge").unwrap();
    assert!(
        next > *acked.keys().last().unwrap(),
        "round {round}: next seq {next} would reuse an acked one"
    );
}
