//! Group commit. Appends collect in `pending`; a commit assigns their seqs,
//! applies them as one batch and starts one flush in the background. While
//! that flush runs, new appends collect for the next batch; when it ends, its
//! waiters are acked (or told it failed) and the next batch goes at once. At
//! most one flush is in flight, so acks go out in seq order.

use std::time::UNIX_EPOCH;

use ractor::ActorRef;
use swarmd_messages::{Event, EventDraft, EventId, EventKind, TraceContext};
use tracing::{error, warn};

use super::record::{encode_event, put_encoded};
use super::writer::{Pending, WriterMsg, WriterState};
use super::{LedgerError, keys};
use crate::{Batch, StorageError};

/// The appends of one applied batch, with the ids they were given.
type Waiters = Vec<(Pending, EventId)>;

impl WriterState {
    pub(super) fn enqueue(&mut self, me: &ActorRef<WriterMsg>, pending: Pending) {
        self.pending.push(pending);
        if self.in_flight.is_some() {
            return; // the end of the running flush commits what has gathered
        }
        if self.pending.len() >= self.args.config.max_batch {
            self.commit(me);
        } else if self.pending.len() == 1 {
            let number = self.batch_number;
            me.send_after(self.args.config.max_wait, move || {
                WriterMsg::CommitDue(number)
            });
        }
    }

    /// Applies up to `max_batch` pending appends and starts their flush.
    pub(super) fn commit(&mut self, me: &ActorRef<WriterMsg>) {
        self.batch_number += 1;
        if self.in_flight.is_some() || self.pending.is_empty() {
            return;
        }
        let batch = match self.apply_next() {
            Ok(Some(batch)) => batch,
            Ok(None) => return,
            Err((e, had_signal)) => {
                if !had_signal {
                    self.record_failure(me, &e.to_string());
                }
                return;
            }
        };
        self.in_flight = Some(batch);
        let (storage, me) = (self.args.storage.clone(), me.clone());
        tokio::spawn(async move {
            let result = storage.flush().await;
            let _ = me.cast(WriterMsg::Flushed(result));
        });
    }

    pub(super) fn flushed(&mut self, me: &ActorRef<WriterMsg>, result: Result<(), StorageError>) {
        let batch = self
            .in_flight
            .take()
            .expect("a flush ended with no batch in flight");
        self.settle(me, batch, result);
        if !self.pending.is_empty() {
            self.commit(me);
        }
    }

    /// On stop: settles the batch in flight and commits the rest, waiting for each flush.
    pub(super) async fn drain(&mut self) {
        let storage = self.args.storage.clone();
        if let Some(batch) = self.in_flight.take() {
            let result = storage.flush().await;
            self.settle_quietly(batch, result);
        }
        while let Ok(Some(batch)) = self.apply_next() {
            let result = storage.flush().await;
            self.settle_quietly(batch, result);
        }
    }

    /// Assigns seqs to the next pending appends and applies them as one batch.
    /// Returns the waiters, `None` when there was nothing to apply, or the
    /// storage error (and whether the failed batch held a writer's Signal).
    fn apply_next(&mut self) -> Result<Option<Waiters>, (StorageError, bool)> {
        let take = self.pending.len().min(self.args.config.max_batch);
        if take == 0 {
            return Ok(None);
        }
        let pending: Vec<Pending> = self.pending.drain(..take).collect();
        let first_seq = self.next_seq;
        let time_us = self.now_us();
        let mut accepted = Vec::with_capacity(pending.len());
        let mut events = Vec::with_capacity(pending.len());
        for p in pending {
            let event = self.stamp(&p.draft, time_us);
            // An event too large for the wire is refused alone, before it takes a seq.
            match encode_event(&event) {
                Ok(bytes) => {
                    self.next_seq += 1;
                    accepted.push((p, event.id.clone()));
                    events.push((event, bytes));
                }
                Err(e) => reply(p, Err(LedgerError::Invalid(e.to_string()))),
            }
        }
        let mut batch = Batch::default();
        put_encoded(
            &mut batch,
            events
                .iter_mut()
                .map(|(e, bytes)| (&*e, std::mem::take(bytes))),
        );
        let next_seq_key = keys::meta(&format!("next_seq/{}", self.args.config.node));
        batch.insert(next_seq_key, self.next_seq.to_be_bytes().to_vec());
        if let Err(e) = self.args.storage.apply(keys::TREE, batch) {
            // Nothing was written: the seqs are free to assign again.
            self.next_seq = first_seq;
            let had_signal = accepted.iter().any(|(p, _)| p.reply.is_none());
            self.fail(accepted, &e);
            return Err((e, had_signal));
        }
        self.stats.next_seq = self.next_seq;
        Ok((!accepted.is_empty()).then_some(accepted))
    }

    fn stamp(&self, draft: &EventDraft, time_us: u64) -> Event {
        Event {
            id: EventId {
                node: self.args.config.node.clone(),
                seq: self.next_seq,
            },
            tenant: draft.tenant.clone(),
            agent: draft.agent.clone(),
            trace: draft.trace,
            time_us,
            kind: draft.kind.clone(),
        }
    }

    /// Acks a flushed batch, or fails it. A failed flush keeps its seqs
    /// taken: the events may still reach the disk, and a seq is never reused.
    fn settle(
        &mut self,
        me: &ActorRef<WriterMsg>,
        batch: Waiters,
        result: Result<(), StorageError>,
    ) {
        let had_signal = batch.iter().any(|(p, _)| p.reply.is_none());
        match result {
            Ok(()) => self.ack(batch),
            Err(e) => {
                self.fail(batch, &e);
                if !had_signal {
                    self.record_failure(me, &e.to_string());
                }
            }
        }
    }

    fn settle_quietly(&mut self, batch: Waiters, result: Result<(), StorageError>) {
        match result {
            Ok(()) => self.ack(batch),
            Err(e) => self.fail(batch, &e),
        }
    }

    fn ack(&mut self, batch: Waiters) {
        self.stats.committed += batch.len() as u64;
        self.stats.batches += 1;
        for (p, id) in batch {
            reply(p, Ok(id));
        }
    }

    fn fail(&mut self, batch: Waiters, e: &StorageError) {
        self.stats.failed_batches += 1;
        error!(error = %e, events = batch.len(), "ledger commit failed");
        for (p, _) in batch {
            reply(p, Err(LedgerError::Storage(e.clone())));
        }
    }

    /// Queues a Signal event about a failed commit. If that one fails too,
    /// no further signal is queued, so a full disk cannot loop.
    fn record_failure(&mut self, me: &ActorRef<WriterMsg>, detail: &str) {
        warn!(detail, "recording the storage failure as a Signal event");
        let draft = EventDraft {
            tenant: "system".into(),
            agent: None,
            trace: TraceContext::default(),
            kind: EventKind::Signal {
                status: "storage_error".into(),
                detail: detail.to_owned(),
            },
        };
        let signal = Pending {
            draft,
            reply: None,
            _room: None,
        };
        self.enqueue(me, signal);
    }

    fn now_us(&self) -> u64 {
        let since_epoch = self.args.clock.wall_now().duration_since(UNIX_EPOCH);
        since_epoch.map(|d| d.as_micros() as u64).unwrap_or(0)
    }
}

fn reply(pending: Pending, result: Result<EventId, LedgerError>) {
    if let Some(reply) = pending.reply {
        let _ = reply.send(result);
    }
}
