//! How swarm actors write their decisions and state changes to the flight
//! recorder. Appends are submitted without waiting for the commit: a layer's
//! loop never waits on a disk. When the ledger stays full past its enqueue
//! timeout the event is counted as lost and logged, never silently dropped.
//!
//! The `*_now` methods never wait at all (not even for room in the writer's
//! queue): the reflex acts first and records after, best effort, so a stalled
//! or full ledger cannot freeze an emergency stop or the dead-man's switch.
//!
//! [`Journal::record_durably`] is for records others depend on (a mission's
//! plan and end): it waits for the commit, and a record whose commit failed
//! is kept (bounded) and written again later, in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use swarmd_messages::{EventDraft, EventKind, TaskRef, TraceContext, stable_hash};
use tracing::warn;

use crate::ctx::{LedgerError, LedgerHandle};

/// Durable records waiting for the disk at most; beyond, the oldest is lost
/// (counted and logged).
pub const MAX_PENDING: usize = 4096;

#[derive(Clone)]
pub struct Journal {
    ledger: LedgerHandle,
    tenant: Arc<str>,
    agent: Arc<str>,
    lost: Arc<AtomicU64>,
    pending_durable: Arc<std::sync::Mutex<std::collections::VecDeque<(TraceContext, EventKind)>>>,
    /// The span the agent works under (its current task's assignment),
    /// shared by its layers: each event is a span of its own, a child of
    /// it. The zero trace: none.
    following: Arc<std::sync::Mutex<TraceContext>>,
    spans: Arc<AtomicU64>,
}

impl Journal {
    pub fn new(ledger: LedgerHandle, tenant: &str, agent: &str) -> Self {
        Self {
            ledger,
            tenant: tenant.into(),
            agent: agent.into(),
            lost: Arc::default(),
            pending_durable: Arc::default(),
            following: Arc::default(),
            spans: Arc::default(),
        }
    }

    /// From now on every event is a child span of `parent` (a span in the
    /// zero trace: none).
    pub fn follow(&self, parent: TraceContext) {
        *self
            .following
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = parent;
    }

    /// A fresh child of the span followed, or no trace.
    fn trace(&self) -> TraceContext {
        let parent = *self
            .following
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.span_in(parent)
    }

    /// A span of its own under `parent` (none in the zero trace): a hash of
    /// the writer and a counter, so a seed's spans are the same every run.
    pub fn span_in(&self, parent: TraceContext) -> TraceContext {
        if !parent.is_traced() {
            return TraceContext::default();
        }
        let n = self.spans.fetch_add(1, Ordering::Relaxed);
        let trace_id = parent.trace_id;
        let span = stable_hash(&format!("{}/{trace_id:?}/{n}", self.agent)).max(1);
        parent.child(span.to_be_bytes())
    }

    pub async fn decision(&self, rationale: String, alternatives: Vec<String>, confidence: f32) {
        self.record(decision(None, rationale, alternatives, confidence))
            .await;
    }

    /// A decision about one task: readers find the task in `about`.
    pub async fn decision_on(
        &self,
        task: TaskRef,
        rationale: String,
        alternatives: Vec<String>,
        confidence: f32,
    ) {
        self.record(decision(Some(task), rationale, alternatives, confidence))
            .await;
    }

    pub async fn state(&self, target: &str, before: &str, after: &str) {
        self.record(state_change(target, before, after)).await;
    }

    pub async fn signal(&self, status: &str, detail: String) {
        self.record(signal(status, detail)).await;
    }

    /// Records a decision without waiting; see the module docs.
    pub fn decision_now(&self, rationale: String, alternatives: Vec<String>, confidence: f32) {
        self.write_now(decision(None, rationale, alternatives, confidence));
    }

    /// Records a state change without waiting.
    pub fn state_now(&self, target: &str, before: &str, after: &str) {
        self.write_now(state_change(target, before, after));
    }

    /// Records a signal without waiting.
    pub fn signal_now(&self, status: &str, detail: String) {
        self.write_now(signal(status, detail));
    }

    /// Records any event without waiting.
    pub fn record_now(&self, kind: EventKind) {
        self.write_now(kind);
    }

    /// Events that never reached the ledger.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Records any event, typed kinds among them: what others read and match on.
    pub async fn record(&self, kind: EventKind) {
        if let Err(e) = self.ledger.submit(self.draft(self.trace(), kind)).await {
            self.count_lost(&e);
        }
    }

    /// Records `kind` and waits until it is durable. When the flush fails
    /// (the batch may or may not be on disk, as with fsync) or the disk is
    /// full, the record waits in a bounded queue, in order, and
    /// [`retry_pending`](Self::retry_pending) writes it again later: a
    /// retried record may be stored twice, never zero times while the disk
    /// recovers. Nothing here waits longer than one commit.
    pub async fn record_durably(&self, kind: EventKind) {
        self.record_durably_in(self.trace(), kind).await;
    }

    /// [`record_durably`](Self::record_durably) in the span `trace`.
    pub async fn record_durably_in(&self, trace: TraceContext, kind: EventKind) {
        self.queue_pending(trace, kind);
        self.retry_pending().await;
    }

    /// Writes the records waiting after a failed commit, oldest first, until
    /// one fails again. Call it periodically (the planner does, every tick).
    pub async fn retry_pending(&self) {
        while let Some((trace, kind)) = self.next_pending() {
            let written = match self.ledger.submit(self.draft(trace, kind)).await {
                Ok(ack) => ack.await.map(|_| ()),
                Err(e) => Err(e),
            };
            match written {
                Ok(()) => {
                    self.pending().pop_front();
                }
                Err(LedgerError::Storage(_) | LedgerError::Overloaded) => return,
                Err(e) => {
                    self.pending().pop_front();
                    self.count_lost(&e);
                }
            }
        }
    }

    fn queue_pending(&self, trace: TraceContext, kind: EventKind) {
        let mut pending = self.pending();
        if pending.len() >= MAX_PENDING {
            pending.pop_front();
            drop(pending);
            self.count_lost(&LedgerError::Overloaded);
            pending = self.pending();
        }
        pending.push_back((trace, kind));
    }

    fn next_pending(&self) -> Option<(TraceContext, EventKind)> {
        self.pending().front().cloned()
    }

    fn pending(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::VecDeque<(TraceContext, EventKind)>> {
        self.pending_durable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_now(&self, kind: EventKind) {
        if let Err(e) = self.ledger.try_submit(self.draft(self.trace(), kind)) {
            self.count_lost(&e);
        }
    }

    fn draft(&self, trace: TraceContext, kind: EventKind) -> EventDraft {
        EventDraft {
            tenant: self.tenant.to_string(),
            agent: Some(self.agent.to_string()),
            trace,
            kind,
        }
    }

    fn count_lost(&self, error: &LedgerError) {
        let lost = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
        warn!(agent = %self.agent, %error, lost, "ledger refused an event");
    }
}

fn decision(
    about: Option<TaskRef>,
    rationale: String,
    alternatives: Vec<String>,
    confidence: f32,
) -> EventKind {
    EventKind::Decision {
        rationale,
        alternatives,
        confidence,
        inputs_hash: 0,
        about,
    }
}

fn signal(status: &str, detail: String) -> EventKind {
    EventKind::Signal {
        status: status.to_string(),
        detail,
    }
}

fn state_change(target: &str, before: &str, after: &str) -> EventKind {
    EventKind::StateChange {
        target: target.to_string(),
        before_hash: stable_hash(before),
        after_hash: stable_hash(after),
        diff: format!("{before} -> {after}"),
    }
}
