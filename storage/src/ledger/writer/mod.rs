//! The ledger writer: appends with group commit. Appends gather until
//! `max_batch` events or `max_wait` has passed since the first; then one batch
//! is applied, storage is flushed once, and every waiter is acked. An ack
//! means the event is durable.

mod commit;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_messages::{EventDraft, EventId};
use swarmd_supervisor::seams::{Clock, Entropy};
use swarmd_supervisor::{ActorSlot, ChildSpec};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::record::u64_value;
use super::{LedgerError, keys};
use crate::{Batch, CommitError, Storage, StorageError};

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
    /// Where the seqs of a fresh ledger start; see [`fresh_seq_base`].
    pub first_seq: u64,
}

/// Bits of a seq below the incarnation base: 2^40 events per incarnation.
const INCARNATION_SHIFT: u32 = swarmd_messages::SEQ_INCARNATION_SHIFT;

/// A random first seq for a fresh ledger. A node re-provisioned under its
/// old name (a new disk, so a new ledger) thus numbers its events from a new
/// base, and their ids never collide at the hub with those of its past: one
/// in 2^23 incarnations would. The base is persisted with the seqs
/// (`next_seq`, `first_seq`), so a restart on the same disk keeps counting.
pub fn fresh_seq_base(entropy: &dyn Entropy) -> u64 {
    (entropy.next_u64() & ((1 << 23) - 1)) << INCARNATION_SHIFT
}

impl WriterConfig {
    pub fn new(node: impl Into<String>) -> Self {
        Self {
            node: node.into(),
            max_batch: 512,
            max_wait: Duration::from_millis(1),
            queue_capacity: 8192,
            enqueue_timeout: Duration::from_secs(1),
            first_seq: 0,
        }
    }
}

/// How writers reach the ledger. Cloneable; survives writer restarts.
#[derive(Clone)]
pub struct LedgerHandle {
    writer: ActorSlot<WriterMsg>,
    room: Arc<Semaphore>,
    enqueue_timeout: Duration,
    durable: Arc<AtomicU64>,
}

impl LedgerHandle {
    /// Every event of this node below this seq is flushed: what may leave
    /// the node. An event written but not yet flushed can still be lost in a
    /// crash, and its seq reused by the next incarnation.
    pub fn durable_below(&self) -> u64 {
        self.durable.load(Ordering::SeqCst)
    }

    /// Appends one event and waits until it is durable. Fails with `Overloaded`
    /// when the writer has had no room for `enqueue_timeout`; nothing is dropped
    /// silently.
    pub async fn append(&self, draft: EventDraft) -> Result<EventId, LedgerError> {
        self.submit(draft).await?.await
    }

    /// Hands one event to the writer and returns at once with a future of its
    /// ack. Events submitted one after another get increasing seqs, so a
    /// caller can keep many in flight and still record them in order.
    pub async fn submit(&self, draft: EventDraft) -> Result<Ack, LedgerError> {
        let acquire = self.room.clone().acquire_owned();
        let permit = tokio::time::timeout(self.enqueue_timeout, acquire)
            .await
            .map_err(|_| LedgerError::Overloaded)?
            .map_err(|_| LedgerError::Closed)?;
        // A writer that is starting or restarting gets the same grace as a full one.
        let writer = self
            .writer
            .wait(self.enqueue_timeout)
            .await
            .ok_or(LedgerError::Closed)?;
        hand_over(&writer, draft, permit)
    }

    /// Like [`submit`](Self::submit) but never waits: `Overloaded` when the
    /// writer has no room right now, `Closed` when it is not running. For
    /// callers that must not wait on a disk (the reflex's safety loop).
    pub fn try_submit(&self, draft: EventDraft) -> Result<Ack, LedgerError> {
        let permit = match self.room.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::NoPermits) => return Err(LedgerError::Overloaded),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(LedgerError::Closed),
        };
        let writer = self.writer.get().ok_or(LedgerError::Closed)?;
        hand_over(&writer, draft, permit)
    }

    pub async fn stats(&self) -> Result<WriterStats, LedgerError> {
        let writer = self.writer.get().ok_or(LedgerError::Closed)?;
        ractor::call_t!(writer, WriterMsg::Stats, 5_000).map_err(|_| LedgerError::Closed)
    }
}

/// Queues `draft` at `writer`, holding its room in the queue until acked.
fn hand_over(
    writer: &ActorRef<WriterMsg>,
    draft: EventDraft,
    room: OwnedSemaphorePermit,
) -> Result<Ack, LedgerError> {
    let (reply, acked) = oneshot::channel();
    let pending = Pending {
        draft,
        reply: Some(reply),
        _room: Some(room),
    };
    writer
        .cast(WriterMsg::Append(pending))
        .map_err(|_| LedgerError::Closed)?;
    Ok(Ack(acked))
}

/// The ack of a submitted event: its id once durable, or why it is not.
pub struct Ack(oneshot::Receiver<Result<EventId, LedgerError>>);

impl std::future::Future for Ack {
    type Output = Result<EventId, LedgerError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        // A writer that dies with the event queued drops the reply: Closed, not silence.
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(LedgerError::Closed)))
    }
}

/// Upper bounds (µs) of the commit latency histogram's buckets; one more
/// bucket counts what is above the last.
pub const COMMIT_BUCKETS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000,
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub next_seq: u64,
    pub committed: u64,
    pub batches: u64,
    pub failed_batches: u64,
    /// How long batches took from the hand-off to storage to their flush.
    pub last_commit_us: u64,
    pub max_commit_us: u64,
    pub commit_us_total: u64,
    /// Batches by commit latency, per [`COMMIT_BUCKETS_US`] (not cumulative).
    pub commit_us_buckets: [u64; COMMIT_BUCKETS_US.len() + 1],
}

impl WriterStats {
    pub(super) fn record_commit(&mut self, took_us: u64) {
        self.last_commit_us = took_us;
        self.max_commit_us = self.max_commit_us.max(took_us);
        self.commit_us_total = self.commit_us_total.saturating_add(took_us);
        let bucket = COMMIT_BUCKETS_US.partition_point(|&bound| bound < took_us);
        self.commit_us_buckets[bucket] += 1;
    }
}

pub struct Pending {
    pub(super) draft: EventDraft,
    /// `None` for the writer's own Signal events.
    pub(super) reply: Option<oneshot::Sender<Result<EventId, LedgerError>>>,
    pub(super) _room: Option<OwnedSemaphorePermit>,
}

pub enum WriterMsg {
    Append(Pending),
    /// The batch numbered so has waited `max_wait`.
    CommitDue(u64),
    /// The commit of the batch in flight has finished.
    Flushed(Result<(), CommitError>),
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
    /// Shared with the handle: see `LedgerHandle::durable_below`.
    pub durable: Arc<AtomicU64>,
}

pub struct WriterState {
    pub(super) args: WriterArgs,
    pub(super) next_seq: u64,
    /// Accepted, waiting for the next commit.
    pub(super) pending: Vec<Pending>,
    /// Handed to storage, waiting for its flush. At most one batch is in flight.
    pub(super) in_flight: Option<commit::InFlight>,
    pub(super) batch_number: u64,
    pub(super) stats: WriterStats,
    /// A commit failed; a Signal event saying so goes into the next batch.
    pub(super) owed_signal: Option<String>,
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
    let durable = Arc::new(AtomicU64::new(0));
    let handle = LedgerHandle {
        writer: slot.clone(),
        room: Arc::new(Semaphore::new(config.queue_capacity)),
        enqueue_timeout: config.enqueue_timeout,
        durable: durable.clone(),
    };
    let args = WriterArgs {
        storage,
        clock,
        config,
        slot,
        durable,
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
    Ok(stored_seq(storage, "next_seq", node)?.unwrap_or(0))
}

/// The first sequence number of `node`'s ledger: 0 for a ledger made before
/// incarnation bases, or not written to yet.
pub fn persisted_first_seq(storage: &dyn Storage, node: &str) -> Result<u64, StorageError> {
    Ok(stored_seq(storage, "first_seq", node)?.unwrap_or(0))
}

fn stored_seq(storage: &dyn Storage, what: &str, node: &str) -> Result<Option<u64>, StorageError> {
    match storage.get(keys::TREE, &keys::meta(&format!("{what}/{node}")))? {
        Some(bytes) => Ok(Some(u64_value(&bytes)?)),
        None => Ok(None),
    }
}

/// A fresh ledger starts at `first_seq`, recorded before any event is.
fn start_fresh(storage: &dyn Storage, node: &str, first_seq: u64) -> Result<u64, StorageError> {
    let mut batch = Batch::default();
    for what in ["first_seq", "next_seq"] {
        let key = keys::meta(&format!("{what}/{node}"));
        batch.insert(key, first_seq.to_be_bytes().to_vec());
    }
    storage.apply(keys::TREE, batch)?;
    Ok(first_seq)
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
        let (storage, node) = (&*args.storage, args.config.node.as_str());
        let next_seq = match stored_seq(storage, "next_seq", node)? {
            Some(next) => next,
            None => start_fresh(storage, node, args.config.first_seq)?,
        };
        // Read at start, it is what the disk kept (after a crash the store
        // holds only what was flushed). A writer restarted without a crash
        // may count a few written-but-unflushed events as durable: its first
        // flush makes them so.
        args.durable.fetch_max(next_seq, Ordering::SeqCst);
        Ok(WriterState {
            args,
            next_seq,
            pending: Vec::new(),
            in_flight: None,
            owed_signal: None,
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
            WriterMsg::Append(pending) => state.enqueue(&me, pending),
            WriterMsg::CommitDue(number) if number == state.batch_number => state.commit(&me),
            WriterMsg::CommitDue(_) => {}
            WriterMsg::Flushed(result) => state.flushed(&me, result),
            WriterMsg::Stats(reply) => {
                let _ = reply.send(WriterStats {
                    next_seq: state.next_seq,
                    ..state.stats
                });
            }
        }
        Ok(())
    }

    /// Finishes the batch in flight and commits what was accepted; appends
    /// still in the mailbox get `Closed`.
    async fn post_stop(
        &self,
        _me: ActorRef<WriterMsg>,
        state: &mut WriterState,
    ) -> Result<(), ActorProcessingErr> {
        state.drain().await;
        Ok(())
    }
}
