//! Store-and-forward through a hub that loses, repeats and delays acks:
//! the hub must end with exactly the edge's events, each once.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use futures::future::BoxFuture;
use ractor::Actor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use swarmd_messages::Event;
use swarmd_storage::ledger::{
    ForwarderArgs, ForwarderConfig, ForwarderMsg, Hub, HubError, LedgerHub, LedgerReader, Query,
    Selector, WriterConfig, forwarder_child,
};
use swarmd_storage::{SledStorage, Storage};
use swarmd_supervisor::{Strategy, Supervisor, SupervisorSpec};

/// Wraps the real hub: sometimes fails before storing, sometimes stores and
/// then loses the ack, sometimes delivers twice, sometimes answers late.
struct ChaoticHub {
    inner: Arc<LedgerHub>,
    rng: Mutex<ChaCha8Rng>,
    down: AtomicBool,
    deliveries: AtomicU64,
}

impl Hub for ChaoticHub {
    fn deliver(&self, events: Vec<Event>) -> BoxFuture<'static, Result<(), HubError>> {
        self.deliveries.fetch_add(1, Ordering::Relaxed);
        let roll: u32 = self.rng.lock().unwrap().random_range(0..100);
        let down = self.down.load(Ordering::SeqCst);
        let inner = self.inner.clone();
        Box::pin(async move {
            if down || roll < 20 {
                return Err(HubError::Unreachable("dropped".into()));
            }
            inner.deliver(events.clone()).await?;
            match roll {
                20..35 => Err(HubError::Unreachable("ack lost".into())),
                35..50 => inner.deliver(events).await,
                50..60 => {
                    tokio::time::sleep(Duration::from_millis(300)).await; // beyond the ack timeout
                    Ok(())
                }
                _ => Ok(()),
            }
        })
    }
}

fn hub_events(hub_storage: &Arc<dyn Storage>, tenant: &str) -> Vec<Event> {
    LedgerReader::new(hub_storage.clone())
        .query(&Query {
            tenant: tenant.into(),
            select: Selector::Seq {
                node: "edge-1".into(),
                from: 0,
                to: u64::MAX,
            },
            limit: 10_000,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chaotic_hub_ends_with_every_event_exactly_once() {
    let edge_dir = tempfile::tempdir().unwrap();
    let hub_dir = tempfile::tempdir().unwrap();
    let edge: Arc<dyn Storage> =
        Arc::new(SledStorage::open(&edge_dir.path().join("db"), 8 << 20).unwrap());
    let hub_storage: Arc<dyn Storage> =
        Arc::new(SledStorage::open(&hub_dir.path().join("db"), 8 << 20).unwrap());
    let hub = Arc::new(ChaoticHub {
        inner: Arc::new(LedgerHub::new(hub_storage.clone())),
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(7)),
        down: AtomicBool::new(true),
        deliveries: AtomicU64::new(0),
    });

    let (ledger, forwarder_ref, _sup) = start_forwarding(edge.clone(), hub.clone(), 37).await;

    // While the hub is down the backlog grows on disk.
    for i in 0..300 {
        let tenant = if i % 4 == 0 { "beta" } else { "alpha" };
        ledger
            .append(draft(tenant, Some("a"), 1, decision(&i.to_string())))
            .await
            .unwrap();
    }
    let backlog = ractor::call_t!(forwarder_ref, ForwarderMsg::Backlog, 5000).unwrap();
    assert_eq!(backlog, 300);

    hub.down.store(false, Ordering::SeqCst);
    let drained = async {
        loop {
            if ractor::call_t!(forwarder_ref, ForwarderMsg::Backlog, 5000).unwrap() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), drained)
        .await
        .expect("backlog drains");

    let mut at_hub: Vec<Event> = hub_events(&hub_storage, "alpha");
    at_hub.extend(hub_events(&hub_storage, "beta"));
    at_hub.sort_by_key(|e| e.id.seq);
    let at_edge: Vec<Event> = {
        let mut v = hub_events(&edge, "alpha");
        v.extend(hub_events(&edge, "beta"));
        v.sort_by_key(|e| e.id.seq);
        v
    };
    assert_eq!(at_edge.len(), 300);
    assert_eq!(
        at_hub, at_edge,
        "exactly the edge's events, each once, unchanged"
    );
    assert!(
        hub.deliveries.load(Ordering::Relaxed) > 300 / 37 + 1,
        "the chaos did cause retries"
    );
}

fn edge_event(seq: u64, detail: &str) -> Event {
    Event {
        id: swarmd_messages::EventId {
            node: "edge-1".into(),
            seq,
        },
        tenant: "t".into(),
        agent: None,
        trace: swarmd_messages::TraceContext::default(),
        time_us: seq,
        kind: swarmd_messages::EventKind::Signal {
            status: "s".into(),
            detail: detail.into(),
        },
    }
}

#[tokio::test]
async fn the_hub_refuses_a_different_event_under_an_id_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(dir.path(), 8 << 20).unwrap());
    let hub = LedgerHub::new(storage.clone());
    let first: Vec<Event> = (0..3).map(|s| edge_event(s, "old disk")).collect();
    hub.deliver(first.clone()).await.unwrap();
    // A resend of the same events is absorbed.
    hub.deliver(first.clone()).await.unwrap();

    // A re-provisioned edge: seqs from 0 again, other content.
    let second = vec![edge_event(3, "new"), edge_event(1, "new disk")];
    let refused = hub.deliver(second).await.unwrap_err();
    assert_eq!(
        refused,
        HubError::Conflict {
            node: "edge-1".into(),
            seq: 1
        }
    );
    assert_eq!(
        hub_events(&storage, "t"),
        first,
        "nothing of the batch stored"
    );
}

/// The writer and forwarder of edge `edge-1`, shipping to `hub` in batches of `batch_size`.
async fn start_forwarding(
    edge: Arc<dyn Storage>,
    hub: Arc<dyn Hub>,
    batch_size: usize,
) -> (
    swarmd_storage::ledger::LedgerHandle,
    ractor::ActorRef<ForwarderMsg>,
    ractor::ActorRef<swarmd_supervisor::SupervisorMsg>,
) {
    let (ledger, writer) = swarmd_storage::ledger::ledger_writer(
        edge.clone(),
        SteppingClock::new(),
        WriterConfig::new("edge-1"),
    );
    let mut config = ForwarderConfig::new("edge-1");
    config.batch_size = batch_size;
    config.ack_timeout = Duration::from_millis(100);
    config.poll_interval = Duration::from_millis(5);
    config.backoff_min = Duration::from_millis(2);
    config.backoff_max = Duration::from_millis(20);
    let forwarder = forwarder_child(ForwarderArgs {
        storage: edge,
        ledger: ledger.clone(),
        entropy: Arc::new(Counting(AtomicU64::new(1))),
        hub,
        config,
    });
    let spec = SupervisorSpec::new("storage", Strategy::RestForOne)
        .child(writer)
        .child(forwarder);
    let (sup, _) = Actor::spawn(None, Supervisor, spec).await.unwrap();
    let forwarder_ref = swarmd_supervisor::which_children(&sup).await.unwrap()[1]
        .actor
        .unwrap();
    let forwarder_ref = ractor::registry::where_is_pid(forwarder_ref)
        .unwrap()
        .into();
    (ledger, forwarder_ref, sup)
}

async fn wait_drained(forwarder: &ractor::ActorRef<ForwarderMsg>) {
    let drained = async {
        while ractor::call_t!(forwarder, ForwarderMsg::Backlog, 5000).unwrap() != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), drained)
        .await
        .expect("backlog drains");
}

/// Takes at most 8 events a batch, and never event 5.
struct PickyHub(LedgerHub);

impl Hub for PickyHub {
    fn deliver(&self, events: Vec<Event>) -> BoxFuture<'static, Result<(), HubError>> {
        if events.len() > 8 {
            return Box::pin(async { Err(HubError::Failed("batch too big".into())) });
        }
        if events.iter().any(|e| e.id.seq == 5) {
            let why = "never".to_string();
            return Box::pin(async move { Err(HubError::Invalid { seq: 5, why }) });
        }
        self.0.deliver(events)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_too_big_are_split_and_an_event_refused_for_good_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let edge: Arc<dyn Storage> =
        Arc::new(SledStorage::open(&dir.path().join("edge"), 8 << 20).unwrap());
    let hub_storage: Arc<dyn Storage> =
        Arc::new(SledStorage::open(&dir.path().join("hub"), 8 << 20).unwrap());
    let hub = Arc::new(PickyHub(LedgerHub::new(hub_storage.clone())));
    let (ledger, forwarder, _sup) = start_forwarding(edge.clone(), hub, 37).await;
    for i in 0..40 {
        let d = draft("alpha", Some("a"), 1, decision(&i.to_string()));
        ledger.append(d).await.unwrap();
    }
    wait_drained(&forwarder).await;

    let at_hub: Vec<u64> = hub_events(&hub_storage, "alpha")
        .iter()
        .map(|e| e.id.seq)
        .collect();
    // The alarm took a seq of its own among them (tenant `system`).
    let at_edge = hub_events(&edge, "alpha");
    let expected: Vec<u64> = at_edge
        .iter()
        .map(|e| e.id.seq)
        .filter(|s| *s != 5)
        .collect();
    assert_eq!(
        at_hub, expected,
        "everything but the refused event, in batches of 8 at most"
    );
    let alarms: Vec<Event> = hub_events(&edge, "system");
    assert!(
        alarms.iter().any(|e| matches!(&e.kind,
            swarmd_messages::EventKind::Signal { status, detail }
                if status == "forward_quarantined" && detail.starts_with("5:"))),
        "{alarms:?}"
    );
    assert_eq!(at_edge.len(), 40, "the edge keeps the quarantined event");
    assert_eq!(at_edge[5].id.seq, 5);
}

#[tokio::test]
async fn a_late_event_is_stored_alone_and_reads_in_seq_order() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(SledStorage::open(dir.path(), 8 << 20).unwrap());
    let hub = LedgerHub::new(storage.clone());
    let events: Vec<Event> = (0..8).map(|s| edge_event(s, "e")).collect();
    // 5..8 first (in one block), then the gap 2..5 arrives late, then a
    // resend that straddles what is held, with a repeat inside the batch.
    hub.deliver(events[5..8].to_vec()).await.unwrap();
    hub.deliver(events[2..5].to_vec()).await.unwrap();
    let straddling = [&events[0..7], &events[1..2]].concat();
    hub.deliver(straddling).await.unwrap();
    assert_eq!(hub_events(&storage, "t"), events, "each once, in seq order");
    // A repeat inside one batch with other content is a conflict too.
    let refused = hub
        .deliver(vec![edge_event(8, "x"), edge_event(8, "y")])
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        HubError::Conflict {
            node: "edge-1".into(),
            seq: 8
        }
    );
    let by_kind = LedgerReader::new(storage.clone())
        .query(&Query {
            tenant: "t".into(),
            select: Selector::Kind("signal".into()),
            limit: 100,
        })
        .unwrap();
    assert_eq!(by_kind.len(), 8, "every stored event is indexed once");
    let window = LedgerReader::new(storage.clone())
        .query(&Query {
            tenant: "t".into(),
            select: Selector::Seq {
                node: "edge-1".into(),
                from: 3,
                to: 7,
            },
            limit: 3,
        })
        .unwrap();
    let seqs: Vec<u64> = window.iter().map(|e| e.id.seq).collect();
    assert_eq!(seqs, vec![3, 4, 5], "singles and blocks merge in seq order");
}
