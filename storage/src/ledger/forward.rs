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
use tracing::{debug, info, warn};

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
        me.cast(ForwarderMsg::Pump)?;
        Ok(ForwarderState {
            reader: LedgerReader::new(args.storage.clone()),
            args,
            cursor,
            failures: 0,
            draining: Some(cursor),
            conflict: None,
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
    /// Ships one batch; schedules the next pump: at once after an ack, after the
    /// poll interval when idle, after a jittered backoff when the hub failed.
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
        let draft = EventDraft {
            tenant: SYSTEM_TENANT.into(),
            agent: None,
            trace: TraceContext::default(),
            kind: EventKind::Signal {
                status: "hub_conflict".into(),
                detail: format!("{node}/{seq}"),
            },
        };
        if let Err(e) = self.args.ledger.submit(draft).await {
            warn!(error = %e, "the hub conflict alarm was not recorded");
        }
    }

    async fn pump(&mut self, me: &ActorRef<ForwarderMsg>) -> Result<(), ActorProcessingErr> {
        let config = &self.args.config.clone();
        // Never an event that is not durable here yet: lost in a crash, its
        // seq would be reused, and the hub would hold another event under it.
        let durable = self.args.ledger.durable_below();
        let mut events = if self.cursor < durable {
            self.reader
                .node_log(&config.node, self.cursor, config.batch_size)?
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
        let count = events.len();
        let delivery =
            tokio::time::timeout(config.ack_timeout, self.args.hub.deliver(events)).await;
        let outcome = match delivery {
            Ok(Ok(())) => Ok(()),
            Ok(Err(HubError::Conflict { node, seq })) => {
                self.raise_conflict(&node, seq).await;
                Err(format!("the hub holds a different event as {node}/{seq}"))
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no ack within {:?}", config.ack_timeout)),
        };
        match outcome {
            Ok(()) => {
                let mut batch = Batch::default();
                batch.insert(cursor_key(&config.node), (last + 1).to_be_bytes().to_vec());
                // Not flushed: a cursor lost in a crash only means resending, which the hub absorbs.
                self.args.storage.apply(TREE, batch)?;
                self.cursor = last + 1;
                self.failures = 0;
                debug!(count, cursor = self.cursor, "forwarded");
                me.cast(ForwarderMsg::Pump)?;
            }
            Err(reason) => {
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
