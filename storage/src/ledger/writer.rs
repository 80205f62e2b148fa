//! The ledger writer: appends with group commit. Appends gather until
//! `max_batch` events or `max_wait` has passed since the first; then one batch
//! is applied, storage is flushed once, and every waiter is acked. An ack
//! means the event is durable.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_messages::{Event, EventDraft, EventId, EventKind, TraceContext};
use swarmd_supervisor::seams::Clock;
use swarmd_supervisor::{ActorSlot, ChildSpec};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tracing::{error, warn};

use super::record::{encode_event, put_encoded, u64_value};
use super::{LedgerError, keys};
use crate::{Batch, Storage};

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// This node's name: the `node` of every event id it assigns.
    pub node: String,
    /// A batch commits once it holds this many events...
    pub max_batch: usize,
    /// ...or this long after its first event arrived.
    pub max_wait: Duration,
    /// Appends accepted but not yet acked, at most. The writer's mailbox
    /// therefore never holds more than this many appends.
    pub queue_capacity: usize,
    /// How long an append waits for room before it fails with `Overloaded`.
    pub enqueue_timeout: Duration,
}

impl WriterConfig {
    pub fn new(node: impl Into<String>) -> Self {
        Self {
            node: node.into(),
            max_batch: 512,
            max_wait: Duration::from_millis(1),
            queue_capacity: 8192,
            enqueue_timeout: Duration::from_secs(1),
        }
    }
}

/// How writers reach the ledger. Cloneable; survives writer restarts.
#[derive(Clone)]
pub struct LedgerHandle {
    writer: ActorSlot<WriterMsg>,
    room: Arc<Semaphore>,
    enqueue_timeout: Duration,
}

impl LedgerHandle {
    /// Appends one event and waits until it is durable. Fails with `Overloaded`
    /// when the writer has had no room for `enqueue_timeout`; nothing is dropped
    /// silently.
    pub async fn append(&self, draft: EventDraft) -> Result<EventId, LedgerError> {
        let acquire = self.room.clone().acquire_owned();
        let permit = tokio::time::timeout(self.enqueue_timeout, acquire)
            .await
            .map_err(|_| LedgerError::Overloaded)?
            .map_err(|_| LedgerError::Closed)?;
        let writer = self.writer.get().ok_or(LedgerError::Closed)?;
        let (reply, acked) = oneshot::channel();
        let pending = Pending {
            draft,
            reply: Some(reply),
            _room: Some(permit),
        };
        writer
            .cast(WriterMsg::Append(pending))
            .map_err(|_| LedgerError::Closed)?;
        // A writer that dies with the append queued drops the reply: Closed, not silence.
        acked.await.map_err(|_| LedgerError::Closed)?
    }

    pub async fn stats(&self) -> Result<WriterStats, LedgerError> {
        let writer = self.writer.get().ok_or(LedgerError::Closed)?;
        ractor::call_t!(writer, WriterMsg::Stats, 5_000).map_err(|_| LedgerError::Closed)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub next_seq: u64,
    pub committed: u64,
    pub batches: u64,
    pub failed_batches: u64,
}

pub struct Pending {
    draft: EventDraft,
    /// `None` for the writer's own Signal events.
    reply: Option<oneshot::Sender<Result<EventId, LedgerError>>>,
    _room: Option<OwnedSemaphorePermit>,
}

pub enum WriterMsg {
    Append(Pending),
    /// The batch numbered so has waited `max_wait`.
    CommitDue(u64),
    Stats(RpcReplyPort<WriterStats>),
}

impl ractor::Message for WriterMsg {}

pub struct LedgerWriter;

#[derive(Clone)]
pub struct WriterArgs {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub config: WriterConfig,
    pub slot: ActorSlot<WriterMsg>,
}

pub struct WriterState {
    args: WriterArgs,
    next_seq: u64,
    pending: Vec<Pending>,
    batch_number: u64,
    stats: WriterStats,
}

/// A handle and the supervised child that serves it.
pub fn ledger_writer(
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    config: WriterConfig,
) -> (LedgerHandle, ChildSpec) {
    assert!(
        config.queue_capacity > 0 && config.max_batch > 0,
        "a ledger writer needs room"
    );
    let slot = ActorSlot::new();
    let handle = LedgerHandle {
        writer: slot.clone(),
        room: Arc::new(Semaphore::new(config.queue_capacity)),
        enqueue_timeout: config.enqueue_timeout,
    };
    let args = WriterArgs {
        storage,
        clock,
        config,
        slot,
    };
    let child = ChildSpec::new("ledger_writer", move |sup| {
        let args = args.clone();
        async move {
            let slot = args.slot.clone();
            let (writer, _) = Actor::spawn_linked(None, LedgerWriter, args, sup).await?;
            slot.set(writer.clone());
            Ok(writer.get_cell())
        }
    });
    (handle, child)
}

/// The next sequence number `node` will assign, as persisted.
pub fn persisted_next_seq(storage: &dyn Storage, node: &str) -> Result<u64, LedgerError> {
    match storage.get(keys::TREE, &keys::meta(&format!("next_seq/{node}")))? {
        Some(bytes) => Ok(u64_value(&bytes)?),
        None => Ok(0),
    }
}

impl Actor for LedgerWriter {
    type Msg = WriterMsg;
    type State = WriterState;
    type Arguments = WriterArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<WriterMsg>,
        args: WriterArgs,
    ) -> Result<WriterState, ActorProcessingErr> {
        let next_seq = persisted_next_seq(&*args.storage, &args.config.node)?;
        Ok(WriterState {
            args,
            next_seq,
            pending: Vec::new(),
            batch_number: 0,
            stats: WriterStats {
                next_seq,
                ..WriterStats::default()
            },
        })
    }

    async fn handle(
        &self,
        me: ActorRef<WriterMsg>,
        msg: WriterMsg,
        state: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WriterMsg::Append(pending) => state.enqueue(&me, pending).await,
            WriterMsg::CommitDue(number) if number == state.batch_number => state.commit(&me).await,
            WriterMsg::CommitDue(_) => {}
            WriterMsg::Stats(reply) => {
                let _ = reply.send(state.stats);
            }
        }
        Ok(())
    }

    /// Commits what was accepted; appends still in the mailbox get `Closed`.
    async fn post_stop(
        &self,
        me: ActorRef<WriterMsg>,
        state: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        state.commit(&me).await;
        Ok(())
    }
}

impl WriterState {
    async fn enqueue(&mut self, me: &ActorRef<WriterMsg>, pending: Pending) {
        self.pending.push(pending);
        if self.pending.len() >= self.args.config.max_batch {
            self.commit(me).await;
        } else if self.pending.len() == 1 {
            let number = self.batch_number;
            me.send_after(self.args.config.max_wait, move || {
                WriterMsg::CommitDue(number)
            });
        }
    }

    fn now_us(&self) -> u64 {
        let since_epoch = self.args.clock.wall_now().duration_since(UNIX_EPOCH);
        since_epoch.map(|d| d.as_micros() as u64).unwrap_or(0)
    }

    async fn commit(&mut self, me: &ActorRef<WriterMsg>) {
        self.batch_number += 1;
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return;
        }
        let first_seq = self.next_seq;
        let time_us = self.now_us();
        let node = self.args.config.node.clone();
        let mut accepted = Vec::with_capacity(pending.len());
        let mut events = Vec::with_capacity(pending.len());
        for p in pending {
            let event = Event {
                id: EventId {
                    node: node.clone(),
                    seq: self.next_seq,
                },
                tenant: p.draft.tenant.clone(),
                agent: p.draft.agent.clone(),
                trace: p.draft.trace,
                time_us,
                kind: p.draft.kind.clone(),
            };
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
        put_encoded(&mut batch, events.iter_mut().map(|(e, bytes)| (&*e, std::mem::take(bytes))));
        batch.insert(
            keys::meta(&format!("next_seq/{node}")),
            self.next_seq.to_be_bytes().to_vec(),
        );
        let storage = &self.args.storage;
        let written = match storage.apply(keys::TREE, batch) {
            // Nothing was written: the seqs are free to assign again.
            Err(e) => Err((e, true)),
            // Written but maybe not durable: never hand these seqs out again.
            Ok(()) => storage.flush().await.map_err(|e| (e, false)),
        };
        match written {
            Ok(()) => {
                self.stats.committed += accepted.len() as u64;
                self.stats.batches += 1;
                for (p, id) in accepted {
                    reply(p, Ok(id));
                }
            }
            Err((e, nothing_written)) => {
                if nothing_written {
                    self.next_seq = first_seq;
                }
                self.stats.failed_batches += 1;
                error!(error = %e, events = accepted.len(), "ledger commit failed");
                let had_signal = accepted.iter().any(|(p, _)| p.reply.is_none());
                for (p, _) in accepted {
                    reply(p, Err(LedgerError::Storage(e.clone())));
                }
                if !had_signal {
                    self.record_failure(me, &e.to_string()).await;
                }
            }
        }
        self.stats.next_seq = self.next_seq;
    }

    /// Queues a Signal event about a failed commit. If that one fails too,
    /// no further signal is queued, so a full disk cannot loop.
    async fn record_failure(&mut self, me: &ActorRef<WriterMsg>, detail: &str) {
        let draft = EventDraft {
            tenant: "system".into(),
            agent: None,
            trace: TraceContext::default(),
            kind: EventKind::Signal {
                status: "storage_error".into(),
                detail: detail.to_owned(),
            },
        };
        warn!(detail, "recording the storage failure as a Signal event");
        let signal = Pending {
            draft,
            reply: None,
            _room: None,
        };
        Box::pin(self.enqueue(me, signal)).await;
    }
}

fn reply(pending: Pending, result: Result<EventId, LedgerError>) {
    if let Some(reply) = pending.reply {
        let _ = reply.send(result);
    }
}
