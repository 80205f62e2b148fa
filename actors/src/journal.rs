//! How swarm actors write their decisions and state changes to the flight
//! recorder. Appends are submitted without waiting for the commit: a layer's
//! loop never waits on a disk. When the ledger stays full past its enqueue
//! timeout the event is counted as lost and logged, never silently dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use swarmd_messages::{EventDraft, EventKind, TraceContext, stable_hash};
use tracing::warn;

use crate::ctx::LedgerHandle;

#[derive(Clone)]
pub struct Journal {
    ledger: LedgerHandle,
    tenant: Arc<str>,
    agent: Arc<str>,
    lost: Arc<AtomicU64>,
}

impl Journal {
    pub fn new(ledger: LedgerHandle, tenant: &str, agent: &str) -> Self {
        Self {
            ledger,
            tenant: tenant.into(),
            agent: agent.into(),
            lost: Arc::default(),
        }
    }

    pub async fn decision(&self, rationale: String, alternatives: Vec<String>, confidence: f32) {
        let kind = EventKind::Decision {
            rationale,
            alternatives,
            confidence,
            inputs_hash: 0,
        };
        self.write(kind).await;
    }

    pub async fn state(&self, target: &str, before: &str, after: &str) {
        let kind = EventKind::StateChange {
            target: target.to_string(),
            before_hash: stable_hash(before),
            after_hash: stable_hash(after),
            diff: format!("{before} -> {after}"),
        };
        self.write(kind).await;
    }

    pub async fn signal(&self, status: &str, detail: String) {
        let kind = EventKind::Signal {
            status: status.to_string(),
            detail,
        };
        self.write(kind).await;
    }

    /// Events that never reached the ledger.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Records a typed event: what others read and match on.
    pub async fn record(&self, kind: EventKind) {
        self.write(kind).await;
    }

    async fn write(&self, kind: EventKind) {
        let draft = EventDraft {
            tenant: self.tenant.to_string(),
            agent: Some(self.agent.to_string()),
            trace: TraceContext::default(),
            kind,
        };
        if let Err(e) = self.ledger.submit(draft).await {
            let lost = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
            warn!(agent = %self.agent, error = %e, lost, "ledger refused an event");
        }
    }
}
