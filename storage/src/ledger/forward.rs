//! Store-and-forward: an edge ships its ledger to the cloud hub in batches,
//! from a persisted cursor that advances only after the hub's ack. While the
//! hub is away the backlog grows on disk; when it returns, the backlog drains.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use swarmd_messages::{Event, EventDraft, EventKind, SYSTEM_TENANT, TraceContext};
use swarmd_supervisor::ChildSpec;
use swarmd_supervisor::seams::{Entropy, backoff_delay};
use tracing::{Instrument, debug, info, info_span, warn};

use super::keys::{self, TREE};
use super::query::LedgerReader;
use super::record::u64_value;
use super::writer::{LedgerHandle, persisted_first_seq, persisted_next_seq};
use crate::{Batch, Storage};

/// The cloud side of forwarding. `deliver` returns `Ok` only once every event
/// of the batch is durable at the hub. Delivering an event twice is harmless:
/// the hub keys events by `(node, seq)`.
pub trait Hub: Send + Sync + 'static {
    fn deliver(&self, events: Vec<Event>) -> BoxFuture<'static, Result<(), HubError>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("hub unreachable: {0}")]
    Unreachable(String),
    #[error("hub failed to store the batch: {0}")]
    Failed(String),
    /// The hub holds another event under this id: never skipped, never
    /// overwritten. The batch is refused whole and the edge keeps it.
    #[error("the hub holds a different event as {node}/{seq}")]
    Conflict { node: String, seq: u64 },
    /// The hub can never take event `seq` as it is; the edge quarantines it.
    #[error("the hub refuses event {seq}: {why}")]
    Invalid { seq: u64, why: String },
}

#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    pub node: String,
    /// Events per delivery.
    pub batch_size: usize,
    /// A delivery not acked by then counts as failed; the batch is sent again.
    pub ack_timeout: Duration,
    /// How often an idle forwarder looks for new events.
    pub poll_interval: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl ForwarderConfig {
    pub fn new(node: impl Into<String>) -> Self {
        Self {
            node: node.into(),
            batch_size: 1000,
            ack_timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(50),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub struct ForwarderArgs {
    pub storage: Arc<dyn Storage>,
    /// This node's ledger: only what it has flushed is shipped.
    pub ledger: LedgerHandle,
    pub entropy: Arc<dyn Entropy>,
    pub hub: Arc<dyn Hub>,
    pub config: ForwarderConfig,
}

pub enum ForwarderMsg {
    Pump,
    /// Events recorded but not yet acked by the hub.
    Backlog(RpcReplyPort<u64>),
}

impl ractor::Message for ForwarderMsg {}

#[derive(Clone)]
pub struct Forwarder;

pub struct ForwarderState {
    args: ForwarderArgs,
    reader: LedgerReader,
    /// The next seq to ship; everything below it is acked.
    cursor: u64,
    failures: u32,
    /// Set at start and after a failure, with the cursor then; cleared, with
    /// a log line, once caught up after shipping something.
    draining: Option<u64>,
    /// The seq the hub last refused as a conflict, alarmed once.
    conflict: Option<u64>,
    /// Events per delivery now: halved after a failed delivery (a batch too
    /// big for the wire or the hub), doubled back after a good one.
    batch_limit: usize,
    /// Cursor writes that failed (a full disk): logged at powers of two.
    unpersisted: u64,
}

/// What to do after a delivery.
enum Next {
    Acked,
    /// Ship again at once, `limit` events at most.
    Resize(usize),
    /// Skip event `seq` for good (it stays in this ledger), then go on.
    Quarantine {
        seq: u64,
        why: String,
    },
    Retry(String),
}

pub fn forwarder_child(args: ForwarderArgs) -> ChildSpec {
    ChildSpec::for_actor("forwarder", Forwarder, args)
}

fn cursor_key(node: &str) -> Vec<u8> {
    keys::meta(&format!("forward_cursor/{node}"))
}

/// The first seq of `node` the hub has not acked: at first, the ledger's first.
pub fn persisted_cursor(storage: &dyn Storage, node: &str) -> Result<u64, crate::StorageError> {
    match storage.get(TREE, &cursor_key(node))? {
        Some(bytes) => u64_value(&bytes),
        None => persisted_first_seq(storage, node),
    }
}

impl Actor for Forwarder {
    type Msg = ForwarderMsg;
    type State = ForwarderState;
    type Arguments = ForwarderArgs;

    async fn pre_start(
        &self,
        me: ActorRef<ForwarderMsg>,
        args: ForwarderArgs,
    ) -> Result<ForwarderState, ActorProcessingErr> {
        let cursor = persisted_cursor(&*args.storage, &args.config.node)?;
        let batch_limit = args.config.batch_size.max(1);
        me.cast(ForwarderMsg::Pump)?;
        Ok(ForwarderState {
            reader: LedgerReader::new(args.storage.clone()),
            args,
            cursor,
            failures: 0,
            draining: Some(cursor),
            conflict: None,
            batch_limit,
            unpersisted: 0,
        })
    }

    async fn handle(
        &self,
        me: ActorRef<ForwarderMsg>,
        msg: ForwarderMsg,
        state: &mut ForwarderState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ForwarderMsg::Pump => state.pump(&me).await?,
            ForwarderMsg::Backlog(reply) => {
                let next = persisted_next_seq(&*state.args.storage, &state.args.config.node)?;
                let _ = reply.send(next.saturating_sub(state.cursor));
            }
        }
        Ok(())
    }
}

impl ForwarderState {
    /// An alarm in this node's own ledger, once per conflicting id: the
    /// backlog stays here until an operator resolves it.
    async fn raise_conflict(&mut self, node: &str, seq: u64) {
        if self.conflict == Some(seq) {
            return;
        }
        self.conflict = Some(seq);
        tracing::error!(
            node,
            seq,
            "the hub refused a batch: it holds another event under this id; the backlog is kept"
        );
        self.alarm("hub_conflict", format!("{node}/{seq}")).await;
    }

    /// Everything below `cursor` is done with: acked, or quarantined. The
    /// cursor is persisted unflushed, and a write that fails (a full disk) is
    /// logged, not fatal: a cursor lost only means resending from the last
    /// one persisted, which the hub absorbs.
    fn advance(&mut self, cursor: u64) {
        self.cursor = cursor;
        let mut batch = Batch::default();
        batch.insert(
            cursor_key(&self.args.config.node),
            cursor.to_be_bytes().to_vec(),
        );
        if let Err(e) = self.args.storage.apply(TREE, batch) {
            self.unpersisted = self.unpersisted.saturating_add(1);
            if self.unpersisted.is_power_of_two() {
                warn!(error = %e, cursor, times = self.unpersisted, "forward cursor not persisted; a restart resends from the last one that was");
            }
        }
    }

    /// An event the hub will never take stays in this ledger, with an alarm,
    /// and forwarding goes on past it.
    async fn quarantine(&mut self, seq: u64, why: &str) {
        tracing::error!(seq, %why, "the hub refuses this event for good; quarantined here, forwarding goes on");
        self.alarm("forward_quarantined", format!("{seq}: {why}"))
            .await;
    }

    async fn alarm(&self, status: &str, detail: String) {
        let draft = EventDraft {
            tenant: SYSTEM_TENANT.into(),
            agent: None,
            trace: TraceContext::default(),
            kind: EventKind::Signal {
                status: status.into(),
                detail,
            },
        };
        if let Err(e) = self.args.ledger.submit(draft).await {
            warn!(error = %e, status, "an alarm was not recorded");
        }
    }

    /// Ships one batch; schedules the next pump: at once after an ack, a
    /// resize or a quarantine, after the poll interval when idle, after a
    /// jittered backoff when the hub failed.
    async fn pump(&mut self, me: &ActorRef<ForwarderMsg>) -> Result<(), ActorProcessingErr> {
        let config = &self.args.config.clone();
        // Never an event that is not durable here yet: lost in a crash, its
        // seq would be reused, and the hub would hold another event under it.
        let durable = self.args.ledger.durable_below();
        let mut events = if self.cursor < durable {
            self.reader
                .node_log(&config.node, self.cursor, self.batch_limit)?
        } else {
            Vec::new()
        };
        events.retain(|e| e.id.seq < durable);
        let Some(last) = events.last().map(|e| e.id.seq) else {
            if self.draining.is_some_and(|from| self.cursor > from) {
                self.draining = None;
                info!(cursor = self.cursor, "backlog drained");
            }
            me.send_after(config.poll_interval, || ForwarderMsg::Pump);
            return Ok(());
        };
        debug_assert!(
            events.windows(2).all(|w| w[0].id.seq < w[1].id.seq),
            "log order"
        );
        let (count, first) = (events.len(), events[0].id.seq);
        let span = info_span!("ledger.forward", partition = %config.node, offset = first, count);
        let delivery = tokio::time::timeout(config.ack_timeout, self.args.hub.deliver(events))
            .instrument(span)
            .await;
        let next = match delivery {
            Ok(Ok(())) => Next::Acked,
            Ok(Err(HubError::Conflict { node, seq })) => {
                self.raise_conflict(&node, seq).await;
                Next::Retry(format!("the hub holds a different event as {node}/{seq}"))
            }
            Ok(Err(HubError::Invalid { seq, why })) if seq == first => {
                Next::Quarantine { seq, why }
            }
            Ok(Err(HubError::Invalid { seq, .. })) if seq > first && seq <= last => {
                Next::Resize(usize::try_from(seq - first).unwrap_or(1))
            }
            Ok(Err(e @ HubError::Unreachable(_))) => Next::Retry(e.to_string()),
            Ok(Err(e)) => {
                self.batch_limit = (self.batch_limit / 2).max(1);
                Next::Retry(e.to_string())
            }
            Err(_) => {
                self.batch_limit = (self.batch_limit / 2).max(1);
                Next::Retry(format!("no ack within {:?}", config.ack_timeout))
            }
        };
        match next {
            Next::Acked => {
                self.advance(last + 1);
                self.failures = 0;
                self.batch_limit = (self.batch_limit * 2).min(config.batch_size.max(1));
                debug!(count, cursor = self.cursor, "forwarded");
                me.cast(ForwarderMsg::Pump)?;
            }
            Next::Resize(limit) => {
                self.batch_limit = limit.max(1);
                me.cast(ForwarderMsg::Pump)?;
            }
            Next::Quarantine { seq, why } => {
                self.quarantine(seq, &why).await;
                self.advance(seq + 1);
                me.cast(ForwarderMsg::Pump)?;
            }
            Next::Retry(reason) => {
                // A deliberately broken build: the first failure stops forwarding.
                if cfg!(feature = "bug-forwarder-stalls") {
                    warn!(%reason, "forwarding stops for good (a deliberately broken build)");
                    return Ok(());
                }
                let delay = backoff_delay(
                    &*self.args.entropy,
                    self.failures,
                    config.backoff_min,
                    config.backoff_max,
                );
                self.failures = self.failures.saturating_add(1);
                self.draining.get_or_insert(self.cursor);
                warn!(%reason, retry_in = ?delay, cursor = self.cursor, "forwarding failed");
                me.send_after(delay, || ForwarderMsg::Pump);
            }
        }
        Ok(())
    }
}
