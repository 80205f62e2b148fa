//! Test doubles around a real sled: a stepping clock, and storage with
//! injectable faults and a gate on flush.

#![allow(dead_code)] // each test file uses part of it

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use ractor::{Actor, ActorRef};
use swarmd_messages::{EventDraft, EventKind, TraceContext};
use swarmd_storage::ledger::{LedgerHandle, WriterConfig, ledger_writer};
use swarmd_storage::{Batch, Entry, SledStorage, Storage, StorageError};
use swarmd_supervisor::seams::{Clock, Entropy};
use swarmd_supervisor::{Strategy, Supervisor, SupervisorMsg, SupervisorSpec};
use tokio::sync::Notify;

/// Wall time that moves 1 ms per reading, from a fixed start.
pub struct SteppingClock(AtomicU64);

pub const CLOCK_START_US: u64 = 1_700_000_000_000_000;

impl SteppingClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(AtomicU64::new(CLOCK_START_US)))
    }
}

impl Clock for SteppingClock {
    fn wall_now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.0.fetch_add(1000, Ordering::SeqCst))
    }
}

pub struct Counting(pub AtomicU64);
impl Entropy for Counting {
    fn next_u64(&self) -> u64 {
        self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
    }
    fn fill_bytes(&self, dest: &mut [u8]) {
        dest.fill(1);
    }
}

/// A real sled store with switchable faults.
pub struct Faulty {
    pub inner: SledStorage,
    pub apply_fails: AtomicBool,
    pub flush_fails: AtomicBool,
    /// While set, flushes wait for `release`.
    pub gated: AtomicBool,
    pub flush_started: Notify,
    pub release: Notify,
    pub log: Mutex<Vec<&'static str>>,
}

impl Faulty {
    pub fn open(dir: &std::path::Path) -> Arc<Self> {
        Arc::new(Self {
            inner: SledStorage::open(&dir.join("db"), 16 << 20).unwrap(),
            apply_fails: AtomicBool::new(false),
            flush_fails: AtomicBool::new(false),
            gated: AtomicBool::new(false),
            flush_started: Notify::new(),
            release: Notify::new(),
            log: Mutex::new(Vec::new()),
        })
    }

    pub fn note(&self, what: &'static str) {
        self.log.lock().unwrap().push(what);
    }
}

impl Storage for Faulty {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get(tree, key)
    }
    fn apply(&self, tree: &str, batch: Batch) -> Result<(), StorageError> {
        if self.apply_fails.load(Ordering::SeqCst) {
            return Err(StorageError::NoSpace);
        }
        self.inner.apply(tree, batch)
    }
    fn scan(
        &self,
        tree: &str,
        from: &[u8],
        to: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        self.inner.scan(tree, from, to, limit)
    }
    fn last_below(&self, tree: &str, below: &[u8]) -> Result<Option<Entry>, StorageError> {
        self.inner.last_below(tree, below)
    }
    fn flush(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            if self.gated.load(Ordering::SeqCst) {
                self.flush_started.notify_one();
                self.release.notified().await;
            }
            if self.flush_fails.load(Ordering::SeqCst) {
                return Err(StorageError::Io("injected flush failure".into()));
            }
            self.inner.flush().await?;
            self.note("flushed");
            Ok(())
        })
    }
}

/// A writer for `node` under its own supervisor.
pub async fn start_writer(
    storage: Arc<dyn Storage>,
    config: WriterConfig,
) -> (LedgerHandle, ActorRef<SupervisorMsg>) {
    let (handle, child) = ledger_writer(storage, SteppingClock::new(), config);
    let spec = SupervisorSpec::new("storage", Strategy::RestForOne).child(child);
    let (sup, _) = Actor::spawn(None, Supervisor, spec).await.unwrap();
    (handle, sup)
}

pub fn draft(tenant: &str, agent: Option<&str>, trace: u8, kind: EventKind) -> EventDraft {
    EventDraft {
        tenant: tenant.into(),
        agent: agent.map(Into::into),
        trace: TraceContext::root([trace; 16], [trace; 8]),
        kind,
    }
}

pub fn decision(rationale: &str) -> EventKind {
    EventKind::Decision {
        rationale: rationale.into(),
        alternatives: vec!["wait".into()],
        confidence: 0.5,
        inputs_hash: 7,
        about: None,
    }
}

pub fn signal(status: &str) -> EventKind {
    EventKind::Signal {
        status: status.into(),
        detail: String::new(),
    }
}
