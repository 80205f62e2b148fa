//! Group commit. Appends collect in `pending`; a commit assigns their seqs,
//! builds one batch and hands it to storage, which applies and flushes it off
//! the writer's thread. Meanwhile new appends collect for the next batch; when
//! the flush ends, its waiters are acked (or told it failed) and the next
//! batch goes at once. At most one batch is in flight, so acks go out in seq
//! order, and a batch that never reached the store can give its seqs back.

use std::time::UNIX_EPOCH;

use ractor::ActorRef;
use swarmd_messages::{Event, EventDraft, EventId, EventKind, SYSTEM_TENANT, TraceContext};
use tokio::task::JoinHandle;
use tracing::{error, warn};

use super::{Pending, WriterMsg, WriterState};
use crate::ledger::record::{encode_event, put_encoded};
use crate::ledger::{LedgerError, keys};
use crate::{Batch, CommitError, StorageError};

/// The appends of one batch, with the ids they were given.
type Waiters = Vec<(Pending, EventId)>;

pub struct InFlight {
    waiters: Waiters,
    first_seq: u64,
    /// When it was handed to storage (tokio's clock: virtual in the simulator).
    started: tokio::time::Instant,
    /// Yields the commit's result too, for a writer that is stopping and can
    /// no longer receive `Flushed`.
    commit: JoinHandle<Result<(), CommitError>>,
}

impl WriterState {
    pub(super) fn enqueue(&mut self, me: &ActorRef<WriterMsg>, pending: Pending) {
        self.pending.push(pending);
        if self.in_flight.is_some() {
            return; // the end of the running commit starts the next one
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

    /// Hands up to `max_batch` pending appends to storage.
    pub(super) fn commit(&mut self, me: &ActorRef<WriterMsg>) {
        self.batch_number += 1;
        if self.in_flight.is_some() {
            return;
        }
        let Some((waiters, batch, first_seq)) = self.prepare_next() else {
            return;
        };
        let (storage, me) = (self.args.storage.clone(), me.clone());
        let commit = tokio::spawn(async move {
            let result = storage.commit(keys::TREE, batch).await;
            let _ = me.cast(WriterMsg::Flushed(result.clone()));
            result
        });
        self.in_flight = Some(InFlight {
            waiters,
            first_seq,
            started: tokio::time::Instant::now(),
            commit,
        });
    }

    pub(super) fn flushed(&mut self, me: &ActorRef<WriterMsg>, result: Result<(), CommitError>) {
        let in_flight = self
            .in_flight
            .take()
            .expect("a commit ended with no batch in flight");
        let took = u64::try_from(in_flight.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats.record_commit(took);
        let _ = self.settle(in_flight.waiters, in_flight.first_seq, result);
        if !self.pending.is_empty() {
            self.commit(me);
        }
    }

    /// On stop: settles the batch in flight and commits the rest, waiting for each.
    pub(super) async fn drain(&mut self) {
        if let Some(mut in_flight) = self.in_flight.take() {
            let result = (&mut in_flight.commit).await.unwrap_or_else(|e| {
                Err(CommitError {
                    error: StorageError::Io(format!("commit task failed: {e}")),
                    written: true,
                })
            });
            let _ = self.settle(in_flight.waiters, in_flight.first_seq, result);
        }
        while let Some((waiters, batch, first_seq)) = self.prepare_next() {
            let result = self.args.storage.commit(keys::TREE, batch).await;
            let _ = self.settle(waiters, first_seq, result);
        }
    }

    /// Assigns seqs to the next pending appends and builds their batch.
    /// `None` when there is nothing to commit.
    fn prepare_next(&mut self) -> Option<(Waiters, Batch, u64)> {
        let take = self.pending.len().min(self.args.config.max_batch);
        if take == 0 {
            return None;
        }
        let owed = self.owed_signal.take().map(storage_signal);
        let pending: Vec<Pending> = owed.into_iter().chain(self.pending.drain(..take)).collect();
        let first_seq = self.next_seq;
        let time_us = self.now_us();
        let mut waiters = Vec::with_capacity(pending.len());
        let mut events = Vec::with_capacity(pending.len());
        for p in pending {
            let event = self.stamp(&p.draft, time_us);
            // An event too large for the wire is refused alone, before it takes a seq.
            match encode_event(&event) {
                Ok(bytes) => {
                    self.next_seq += 1;
                    waiters.push((p, event.id.clone()));
                    events.push((event, bytes));
                }
                Err(e) => reply(p, Err(LedgerError::Invalid(e.to_string()))),
            }
        }
        if waiters.is_empty() {
            return None;
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
        Some((waiters, batch, first_seq))
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

    /// Acks a committed batch, or fails it. A batch that never reached the
    /// store gives its seqs back (no later batch has taken any yet); one that
    /// was written but not flushed keeps them: it may still reach the disk,
    /// and a seq is never reused.
    fn settle(
        &mut self,
        waiters: Waiters,
        first_seq: u64,
        result: Result<(), CommitError>,
    ) -> Result<(), StorageError> {
        match result {
            Ok(()) => {
                // A flush makes everything written before it durable.
                let end = first_seq + waiters.len() as u64;
                self.args
                    .durable
                    .fetch_max(end, std::sync::atomic::Ordering::SeqCst);
                self.stats.committed += waiters.len() as u64;
                self.stats.batches += 1;
                for (p, id) in waiters {
                    reply(p, Ok(id));
                }
                Ok(())
            }
            Err(CommitError { error, written }) => {
                if !written {
                    self.next_seq = first_seq;
                }
                self.stats.failed_batches += 1;
                error!(%error, events = waiters.len(), "ledger commit failed");
                for (p, _) in waiters {
                    reply(p, Err(LedgerError::Storage(error.clone())));
                }
                // Recorded with the next batch that has events of its own, so a
                // full disk never spins on retrying the signal alone.
                self.owed_signal = Some(error.to_string());
                Err(error)
            }
        }
    }

    fn now_us(&self) -> u64 {
        let since_epoch = self.args.clock.wall_now().duration_since(UNIX_EPOCH);
        since_epoch.map(|d| d.as_micros() as u64).unwrap_or(0)
    }
}

/// The writer's own record of a failed commit; nobody waits for its ack.
fn storage_signal(detail: String) -> Pending {
    warn!(%detail, "recording the storage failure as a Signal event");
    Pending {
        draft: EventDraft {
            tenant: SYSTEM_TENANT.into(),
            agent: None,
            trace: TraceContext::default(),
            kind: EventKind::Signal {
                status: "storage_error".into(),
                detail,
            },
        },
        reply: None,
        _room: None,
    }
}

fn reply(pending: Pending, result: Result<EventId, LedgerError>) {
    if let Some(reply) = pending.reply {
        let _ = reply.send(result);
    }
}
